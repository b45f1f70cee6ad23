//! Outputs: evcxr's pieces turned into nbformat outputs, and nbval's comparison of fresh
//! outputs with stored ones (after the sanitizers).

use serde_json::{Map, Value, json};

use super::notebook::source_text;
use super::sanitize::{PidContext, Sanitizer};
use crate::output::{CellError, Output};

/// Text as nbformat stores it: a list of lines, each keeping its newline.
pub(crate) fn lines(text: &str) -> Value {
    Value::Array(
        text.split_inclusive('\n')
            .map(|l| Value::String(l.to_owned()))
            .collect(),
    )
}

fn multiline(data: &Map<String, Value>) -> Value {
    Value::Object(
        data.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) if !k.ends_with("json") => lines(s),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// Turns a cell's outputs (and value or error) into nbformat outputs.
pub(crate) fn to_nbformat(
    outputs: Vec<Output>,
    result: &Result<Map<String, Value>, CellError>,
    execution_count: u64,
) -> Vec<Value> {
    struct Acc {
        out: Vec<Value>,
        texts: Vec<Option<(String, String)>>,
        ids: Vec<(String, usize)>,
        clear_pending: bool,
    }
    impl Acc {
        fn push(&mut self, value: Value, text: Option<(String, String)>) {
            if self.clear_pending {
                self.clear();
            }
            self.out.push(value);
            self.texts.push(text);
        }
        fn clear(&mut self) {
            self.out.clear();
            self.texts.clear();
            self.ids.clear();
            self.clear_pending = false;
        }
        fn stream(&mut self, name: &str, text: String) {
            if !self.clear_pending
                && let Some(Some((last_name, last_text))) = self.texts.last_mut()
                && last_name == name
            {
                last_text.push_str(&text);
                let idx = self.out.len() - 1;
                self.out[idx]["text"] = lines(last_text);
                return;
            }
            let value = json!({ "output_type": "stream", "name": name, "text": lines(&text) });
            self.push(value, Some((name.to_owned(), text)));
        }
    }
    let mut acc = Acc {
        out: Vec::new(),
        texts: Vec::new(),
        ids: Vec::new(),
        clear_pending: false,
    };
    for output in outputs {
        match output {
            Output::Stdout(text) => acc.stream("stdout", text),
            Output::Stderr(text) => acc.stream("stderr", text),
            Output::Display {
                data,
                display_id,
                update,
            } => {
                if update {
                    let target = display_id
                        .as_ref()
                        .and_then(|id| acc.ids.iter().find(|(i, _)| i == id).map(|(_, n)| *n));
                    if let Some(n) = target {
                        acc.out[n]["data"] = multiline(&data);
                    }
                    continue;
                }
                let value = json!({
                    "output_type": "display_data", "data": multiline(&data), "metadata": {},
                });
                acc.push(value, None);
                if let Some(id) = display_id {
                    let n = acc.out.len() - 1;
                    acc.ids.push((id, n));
                }
            }
            // The pager has no place in a notebook file: its text is kept as stdout, as a
            // terminal frontend shows it.
            Output::Page { data } => acc.stream("stdout", crate::output::page_text(&data)),
            Output::Clear { wait } => {
                if wait {
                    acc.clear_pending = true;
                } else {
                    acc.clear();
                }
            }
        }
    }
    match result {
        Ok(value) if !value.is_empty() => acc.push(
            json!({
                "output_type": "execute_result", "execution_count": execution_count,
                "data": multiline(value), "metadata": {},
            }),
            None,
        ),
        Ok(_) => {}
        Err(e) => acc.push(
            json!({
                "output_type": "error", "ename": e.ename, "evalue": e.evalue,
                "traceback": e.traceback,
            }),
            None,
        ),
    }
    acc.out
}

/// The text of an nbformat multiline string (a string or a list of lines).
pub(crate) fn text_of(value: Option<&Value>) -> String {
    source_text(value)
}

/// Outputs reduced to what `--check` compares: type, stream name and text, mime data,
/// error name and value. Consecutive streams of one name are joined.
fn normalize(outputs: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for o in outputs.as_array().into_iter().flatten() {
        let kind = o.get("output_type").and_then(Value::as_str).unwrap_or("");
        let item = match kind {
            "stream" => {
                let name = o.get("name").and_then(Value::as_str).unwrap_or("");
                let text = text_of(o.get("text"));
                if let Some(last) = out.last_mut()
                    && last["type"] == "stream"
                    && last["name"] == name
                {
                    let joined = format!("{}{text}", last["text"].as_str().unwrap_or(""));
                    last["text"] = json!(joined);
                    continue;
                }
                json!({ "type": "stream", "name": name, "text": text })
            }
            "display_data" | "execute_result" => {
                let data: Map<String, Value> = o
                    .get("data")
                    .and_then(Value::as_object)
                    .map(|d| {
                        d.iter()
                            .filter(|(k, _)| !k.starts_with("image/"))
                            .map(|(k, v)| (k.clone(), json!(text_of(Some(v)))))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({ "type": kind, "data": data })
            }
            "error" => {
                json!({ "type": "error", "ename": o.get("ename"), "evalue": o.get("evalue") })
            }
            other => json!({ "type": other }),
        };
        out.push(item);
    }
    out
}

/// `None` when the outputs match, else a short expected/got description.
///
/// Both sides go through `sanitizer` first; with `pids`, numbers of the fresh side that are
/// PIDs of this run match any number of the stored side.
pub(crate) fn compare(
    stored: &Value,
    fresh: &[Value],
    sanitizer: &Sanitizer,
    pids: Option<&PidContext>,
) -> Option<String> {
    let mut expected = normalize(stored);
    let mut got = normalize(&Value::Array(fresh.to_vec()));
    for item in &mut expected {
        map_texts(item, &|s| sanitizer.apply(s));
    }
    for item in &mut got {
        map_texts(item, &|s| {
            let s = sanitizer.apply(s);
            match pids {
                Some(pids) => pids.mark(&s),
                None => s,
            }
        });
    }
    if expected.len() == got.len() && expected.iter().zip(&got).all(|(e, g)| same(e, g)) {
        return None;
    }
    let show =
        |v: &[Value]| PidContext::unmark(&serde_json::to_string_pretty(v).unwrap_or_default());
    Some(format!(
        "expected:\n{}\ngot:\n{}",
        show(&expected),
        show(&got)
    ))
}

/// Applies `f` to the compared texts of a normalized output: stream text, mime data (not
/// images, which nbval does not compare either) and error values.
fn map_texts(item: &mut Value, f: &dyn Fn(&str) -> String) {
    for key in ["text", "evalue"] {
        if let Some(Value::String(s)) = item.get_mut(key) {
            *s = f(s);
        }
    }
    if let Some(Value::Object(data)) = item.get_mut("data") {
        for value in data.values_mut() {
            if let Value::String(s) = value {
                *s = f(s);
            }
        }
    }
}

/// Equality, where a fresh string's PID marks match any number.
fn same(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::String(e), Value::String(g)) => PidContext::text_matches(e, g),
        (Value::Array(e), Value::Array(g)) => {
            e.len() == g.len() && e.iter().zip(g).all(|(e, g)| same(e, g))
        }
        (Value::Object(e), Value::Object(g)) => {
            e.len() == g.len() && e.iter().all(|(k, v)| g.get(k).is_some_and(|w| same(v, w)))
        }
        (e, g) => e == g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_merge_and_clear_works() {
        let outputs = vec![
            Output::Stdout("a\n".into()),
            Output::Stdout("b\n".into()),
            Output::Stderr("e\n".into()),
            Output::Clear { wait: true },
            Output::Stdout("c\n".into()),
        ];
        let got = to_nbformat(outputs, &Ok(Map::new()), 1);
        assert_eq!(
            got,
            vec![json!({"output_type": "stream", "name": "stdout", "text": ["c\n"]})]
        );
    }

    #[test]
    fn updates_replace_displays() {
        let data = |t: &str| {
            let mut m = Map::new();
            m.insert("text/plain".into(), json!(t));
            m
        };
        let outputs = vec![
            Output::Display {
                data: data("0%"),
                display_id: Some("p".into()),
                update: false,
            },
            Output::Display {
                data: data("100%"),
                display_id: Some("p".into()),
                update: true,
            },
        ];
        let got = to_nbformat(outputs, &Ok(data("42")), 3);
        assert_eq!(got[0]["data"]["text/plain"], json!(["100%"]));
        assert_eq!(got[1]["output_type"], "execute_result");
        assert_eq!(got[1]["execution_count"], 3);
    }

    #[test]
    fn compare_ignores_line_splitting() {
        let stored = json!([{"output_type": "stream", "name": "stdout", "text": "a\nb\n"}]);
        let fresh =
            vec![json!({"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]})];
        let plain = Sanitizer::default();
        assert_eq!(compare(&stored, &fresh, &plain, None), None);
        let other = vec![json!({"output_type": "stream", "name": "stdout", "text": ["a\n"]})];
        assert!(compare(&stored, &other, &plain, None).is_some());
    }
}
