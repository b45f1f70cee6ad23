//! The session's input history for `history_request` (tail, range and search).

use serde_json::{Value, json};

/// The session number this kernel reports (one session per kernel process).
const SESSION: u64 = 1;

/// Cells executed with `store_history`, numbered by execution count.
#[derive(Debug, Default)]
pub(crate) struct History {
    entries: Vec<(u64, String)>,
}

impl History {
    /// Records `code` as input number `count`.
    pub(crate) fn push(&mut self, count: u64, code: &str) {
        self.entries.push((count, code.to_owned()));
    }

    /// The `history_reply` content for a request's content.
    pub(crate) fn reply(&self, request: &Value) -> Value {
        let kind = request
            .get("hist_access_type")
            .and_then(Value::as_str)
            .unwrap_or("tail");
        let output = request
            .get("output")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let n = request.get("n").and_then(Value::as_u64).map(|n| n as usize);
        let picked: Vec<&(u64, String)> = match kind {
            "tail" => {
                let n = n.unwrap_or(10);
                self.entries[self.entries.len().saturating_sub(n)..]
                    .iter()
                    .collect()
            }
            "range" => {
                let start = request.get("start").and_then(Value::as_i64).unwrap_or(0);
                let stop = request.get("stop").and_then(Value::as_i64);
                let session = request.get("session").and_then(Value::as_i64).unwrap_or(0);
                if session != 0 && session != SESSION as i64 && session != -1 {
                    Vec::new()
                } else {
                    self.entries
                        .iter()
                        .filter(|(c, _)| {
                            (*c as i64) >= start && stop.is_none_or(|s| (*c as i64) < s)
                        })
                        .collect()
                }
            }
            "search" => {
                let pattern = request
                    .get("pattern")
                    .and_then(Value::as_str)
                    .unwrap_or("*");
                let unique = request
                    .get("unique")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mut found: Vec<&(u64, String)> = Vec::new();
                for entry in self.entries.iter().rev() {
                    if glob(pattern, &entry.1) && !(unique && found.iter().any(|f| f.1 == entry.1))
                    {
                        found.push(entry);
                    }
                }
                found.reverse();
                match n {
                    Some(n) => found[found.len().saturating_sub(n)..].to_vec(),
                    None => found,
                }
            }
            _ => Vec::new(),
        };
        let history: Vec<Value> = picked
            .into_iter()
            .map(|(count, code)| {
                if output {
                    json!([SESSION, count, [code, Value::Null]])
                } else {
                    json!([SESSION, count, code])
                }
            })
            .collect();
        json!({ "status": "ok", "history": history })
    }
}

/// A shell glob over the whole text: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        let mut h = History::default();
        h.push(1, "let a = 1;");
        h.push(2, "print(a)");
        h.push(3, "let b = 2;");
        h
    }

    #[test]
    fn tail_range_search() {
        let h = sample();
        let tail = h.reply(&json!({"hist_access_type": "tail", "n": 2}));
        assert_eq!(
            tail["history"],
            json!([[1, 2, "print(a)"], [1, 3, "let b = 2;"]])
        );
        let range =
            h.reply(&json!({"hist_access_type": "range", "session": 0, "start": 2, "stop": 3}));
        assert_eq!(range["history"], json!([[1, 2, "print(a)"]]));
        let search = h.reply(&json!({"hist_access_type": "search", "pattern": "let*"}));
        assert_eq!(search["history"].as_array().unwrap().len(), 2);
        let with_output = h.reply(&json!({"hist_access_type": "tail", "n": 1, "output": true}));
        assert_eq!(
            with_output["history"],
            json!([[1, 3, ["let b = 2;", null]]])
        );
    }

    #[test]
    fn globbing() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("?b*", "abc"));
        assert!(!glob("a*d", "abc"));
        assert!(glob("*", ""));
    }
}
