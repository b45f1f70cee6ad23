//! The headless runner: `paralelo-kernel run NOTEBOOK... [--check] [--inplace]`.
//!
//! Each notebook runs in a fresh engine (as a fresh kernel would), its code cells in order
//! through the same magics and evcxr path as Jupyter. Outputs are printed as text (rich
//! outputs by their `text/plain`), the first failing cell stops that notebook, and the run
//! fails naming the notebook, the cell number and the error.
//!
//! `--check` compares fresh outputs with the stored ones, except for cells tagged `timing`
//! (their outputs are measurements, different on every run). `--inplace` writes the fresh
//! outputs back as nbformat 4.5 (cell ids, execution counts, typed outputs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use crate::engine::{CellError, Engine, EngineConfig, Output, Sink};

/// Cells carrying this tag in `metadata.tags` are run but their outputs are not compared.
pub(crate) const TIMING_TAG: &str = "timing";

/// What `run` was asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunOptions {
    pub(crate) check: bool,
    pub(crate) inplace: bool,
}

/// Runs every notebook; returns whether all passed.
///
/// # Errors
///
/// Only for problems outside the notebooks (an engine that cannot start). A notebook that
/// cannot be read or whose cell fails is reported and counted as failed.
pub(crate) fn run(paths: &[PathBuf], options: RunOptions) -> Result<bool> {
    if paths.is_empty() {
        bail!("run: name at least one notebook (.ipynb)");
    }
    let config = EngineConfig::from_env();
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for path in paths {
        match run_one(path, options, &config) {
            Ok(()) => passed += 1,
            Err(e) => {
                failed += 1;
                eprintln!("FAILED {e:#}");
                failures.push(format!("{e:#}"));
            }
        }
    }
    println!();
    for failure in &failures {
        println!("failed: {}", failure.lines().next().unwrap_or(""));
    }
    println!("notebooks: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// A notebook as read from disk.
pub(crate) struct Notebook {
    pub(crate) json: Value,
}

impl Notebook {
    /// Reads and checks that `path` is an nbformat 4 notebook.
    ///
    /// # Errors
    ///
    /// A message naming the file when it is unreadable, not JSON or not a notebook.
    pub(crate) fn read(path: &Path) -> Result<Notebook> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the file", path.display()))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{}: not a Jupyter notebook (not JSON: {e})", path.display()))?;
        let major = json.get("nbformat").and_then(Value::as_u64);
        let cells_ok = json.get("cells").is_some_and(Value::is_array);
        match major {
            Some(4) if cells_ok => Ok(Notebook { json }),
            Some(4) => bail!(
                "{}: not a Jupyter notebook (no \"cells\" list)",
                path.display()
            ),
            Some(v) => bail!(
                "{}: nbformat {v} is not supported (only nbformat 4)",
                path.display()
            ),
            None => bail!(
                "{}: not a Jupyter notebook (no \"nbformat\" field)",
                path.display()
            ),
        }
    }
}

fn run_one(path: &Path, options: RunOptions, config: &EngineConfig) -> Result<()> {
    let name = path.display().to_string();
    let mut notebook = Notebook::read(path)?;
    let started = Instant::now();
    println!("=== {name}");
    let mut engine = Engine::start(config)?;
    println!(
        "--- engine started in {:.2} s",
        engine.startup.as_secs_f64()
    );
    if let Some(warning) = &engine.preload_error {
        eprintln!("warning: {warning}");
    }
    let cells = notebook
        .json
        .get_mut("cells")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| anyhow!("{name}: no cells"))?;
    let mut execution_count = 0u64;
    let mut failure: Option<(usize, CellError)> = None;
    let mut mismatches = Vec::new();
    let mut code_cells = 0;
    for (index, cell) in cells.iter_mut().enumerate() {
        let number = index + 1;
        ensure_id(cell, index);
        if cell.get("cell_type").and_then(Value::as_str) != Some("code") {
            continue;
        }
        if failure.is_some() {
            // Cells after a failure are left as they were (not run).
            continue;
        }
        code_cells += 1;
        execution_count += 1;
        let source = source_text(cell.get("source"));
        let collected: Arc<Mutex<Vec<Output>>> = Arc::new(Mutex::new(Vec::new()));
        let sink_store = collected.clone();
        let sink: Sink = Arc::new(move |o| {
            sink_store.lock().unwrap_or_else(|e| e.into_inner()).push(o);
        });
        let cell_started = Instant::now();
        let result = crate::magics::run_cell(&mut engine, &source, sink, &|_, _| String::new());
        let cell_time = cell_started.elapsed();
        let outputs = collected.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let fresh = to_nbformat(outputs, &result, execution_count);
        print_cell(number, cell_time, &fresh);
        if options.check && !has_tag(cell, TIMING_TAG) {
            let stored = cell.get("outputs").cloned().unwrap_or(json!([]));
            if let Some(diff) = compare(&stored, &fresh) {
                mismatches.push(format!("cell {number}: {diff}"));
            }
        }
        cell["outputs"] = Value::Array(fresh);
        cell["execution_count"] = json!(execution_count);
        if cell.get("metadata").is_none() {
            cell["metadata"] = json!({});
        }
        if let Err(error) = result {
            failure = Some((number, error));
        }
    }
    if options.inplace {
        set_notebook_metadata(&mut notebook.json);
        write_notebook(path, &notebook.json)?;
    }
    println!(
        "--- {name}: {code_cells} code cells run in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some((number, error)) = failure {
        bail!(
            "{name}: cell {number} failed: {}: {}",
            error.ename,
            error.evalue
        );
    }
    if !mismatches.is_empty() {
        bail!(
            "{name}: outputs differ from the stored ones (--check):\n{}",
            mismatches.join("\n")
        );
    }
    Ok(())
}

/// The text of a `source` (a string or a list of lines).
pub(crate) fn source_text(source: Option<&Value>) -> String {
    match source {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(lines)) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

fn has_tag(cell: &Value, tag: &str) -> bool {
    cell.pointer("/metadata/tags")
        .and_then(Value::as_array)
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
}

fn ensure_id(cell: &mut Value, index: usize) {
    let valid = cell.get("id").and_then(Value::as_str).is_some_and(|id| {
        !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if !valid {
        let id = uuid::Uuid::new_v4().simple().to_string();
        cell["id"] = json!(format!("{}-{index}", &id[..8]));
    }
}

/// Text as nbformat stores it: a list of lines, each keeping its newline.
fn lines(text: &str) -> Value {
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
            Output::Page { data } => acc.stream("stdout", crate::server::page_text(&data)),
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

fn text_of(value: Option<&Value>) -> String {
    source_text(value)
}

fn print_cell(number: usize, took: std::time::Duration, outputs: &[Value]) {
    println!("--- cell {number} ({:.2} s)", took.as_secs_f64());
    for output in outputs {
        match output.get("output_type").and_then(Value::as_str) {
            Some("stream") => {
                let text = text_of(output.get("text"));
                if output.get("name").and_then(Value::as_str) == Some("stderr") {
                    eprint!("{text}");
                } else {
                    print!("{text}");
                }
            }
            Some("execute_result") | Some("display_data") => {
                let text = text_of(output.pointer("/data/text~1plain"));
                println!("{text}");
            }
            Some("error") => {
                for line in output
                    .get("traceback")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    eprintln!("{}", line.as_str().unwrap_or(""));
                }
            }
            _ => {}
        }
    }
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
pub(crate) fn compare(stored: &Value, fresh: &[Value]) -> Option<String> {
    let expected = normalize(stored);
    let got = normalize(&Value::Array(fresh.to_vec()));
    if expected == got {
        return None;
    }
    let show = |v: &[Value]| serde_json::to_string_pretty(v).unwrap_or_default();
    Some(format!(
        "expected:\n{}\ngot:\n{}",
        show(&expected),
        show(&got)
    ))
}

fn set_notebook_metadata(nb: &mut Value) {
    nb["nbformat"] = json!(4);
    let minor = nb
        .get("nbformat_minor")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    nb["nbformat_minor"] = json!(minor.max(5));
    if !nb.get("metadata").is_some_and(Value::is_object) {
        nb["metadata"] = json!({});
    }
    let meta = &mut nb["metadata"];
    if meta.get("kernelspec").is_none() {
        meta["kernelspec"] = json!({
            "name": crate::install::KERNEL_NAME,
            "display_name": crate::install::DISPLAY_NAME,
            "language": "rust",
        });
    }
    meta["language_info"] = json!({
        "name": "rust",
        "file_extension": ".rs",
        "mimetype": "text/rust",
        "pygments_lexer": "rust",
        "codemirror_mode": "rust",
    });
}

fn write_notebook(path: &Path, nb: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(nb)?;
    text.push('\n');
    let tmp = path.with_extension("ipynb.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    // Keep the notebook's own permissions.
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
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
        assert_eq!(compare(&stored, &fresh), None);
        let other = vec![json!({"output_type": "stream", "name": "stdout", "text": ["a\n"]})];
        assert!(compare(&stored, &other).is_some());
    }
}
