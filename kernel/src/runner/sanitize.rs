//! Sanitizers: what changes from run to run, rewritten before `--check` compares.
//!
//! - `--sanitize FILE`, nbval's format (`--nbval-sanitize-with`): INI sections, each with a
//!   `regex:` and a `replace:` (`=` works too; `#` and `;` start comments); every regex is
//!   applied to both sides, in file order.
//! - Built in, always: addresses (`0x` and 8 to 16 hex digits, as `{:p}` prints them) become
//!   `0xADDRESS`.
//! - `--sanitize-pids`: PIDs of this run (the evaluation process's, and every PID the
//!   system handed out while the cell ran, which includes the processes it forked) are
//!   marked in the fresh outputs and match any number in the stored ones: the stored PIDs
//!   are from another run, so no rewrite of both sides could make them equal.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::UsageError;

/// Where a fresh PID was: matches any number on the stored side.
const PID_MARK: &str = "\u{E000}pid\u{E000}";

static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b0x[0-9a-fA-F]{8,16}\b").expect("a valid regex"));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d+\b").expect("a valid regex"));

/// The rules applied to both sides before comparing.
#[derive(Debug, Default)]
pub(crate) struct Sanitizer {
    rules: Vec<(Regex, String)>,
}

impl Sanitizer {
    /// Reads nbval's sanitizer file, if any.
    ///
    /// # Errors
    ///
    /// A message naming the file and line: unreadable, a line outside a section, a bad
    /// regex, a section without `regex` or `replace`.
    pub(crate) fn load(file: Option<&Path>) -> Result<Sanitizer, UsageError> {
        let Some(file) = file else {
            return Ok(Sanitizer::default());
        };
        let name = file.display();
        let text = std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("--sanitize {name}: cannot read the file: {e}")))?;
        let rules = parse(&text).map_err(|(line, e)| {
            UsageError(format!(
                "--sanitize {name}:{line}: {e} (the format is nbval's: [section] lines, each \
                 section with `regex: PATTERN` and `replace: TEXT`)"
            ))
        })?;
        Ok(Sanitizer { rules })
    }

    /// `text` with the addresses and the file's rules applied.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut text = ADDRESS.replace_all(text, "0xADDRESS").into_owned();
        for (regex, replace) in &self.rules {
            text = regex.replace_all(&text, replace.as_str()).into_owned();
        }
        text
    }
}

struct Section {
    header_line: usize,
    regex: Option<(usize, String)>,
    replace: Option<String>,
}

/// The (regex, replacement) pairs of an INI text; errors carry a 1-based line number.
fn parse(text: &str) -> Result<Vec<(Regex, String)>, (usize, String)> {
    let mut sections: Vec<Section> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            if !line.ends_with(']') || line.len() < 3 {
                return Err((
                    line_no,
                    format!("a section header is `[name]`, not {line:?}"),
                ));
            }
            sections.push(Section {
                header_line: line_no,
                regex: None,
                replace: None,
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err((line_no, format!("{line:?} comes before any [section]")));
        };
        let Some(split) = line.find([':', '=']) else {
            return Err((line_no, format!("expected `key: value`, got {line:?}")));
        };
        let key = line[..split].trim();
        // configparser keeps the value as written after the separator, minus surrounding
        // whitespace.
        let value = line[split + 1..].trim().to_owned();
        match key {
            "regex" => section.regex = Some((line_no, value)),
            "replace" => section.replace = Some(value),
            other => {
                return Err((
                    line_no,
                    format!("unknown key {other:?} (a section has `regex` and `replace`)"),
                ));
            }
        }
    }
    let mut rules = Vec::new();
    for section in sections {
        let Some((line, pattern)) = section.regex else {
            return Err((section.header_line, "this section has no `regex:`".into()));
        };
        let Some(replace) = section.replace else {
            return Err((section.header_line, "this section has no `replace:`".into()));
        };
        let regex =
            Regex::new(&pattern).map_err(|e| (line, format!("bad regex {pattern:?}: {e}")))?;
        rules.push((regex, replace));
    }
    Ok(rules)
}

/// The PIDs of one cell's run, for `--sanitize-pids`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PidContext {
    /// The evaluation process (before and after the cell: a restart changes it).
    pids: Vec<u32>,
    /// PIDs handed out while the cell ran: (last before, last after], from
    /// `/proc/sys/kernel/ns_last_pid`.
    handed_out: Option<(u32, u32)>,
}

/// The last PID the system handed out, if it says.
pub(crate) fn last_pid() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl PidContext {
    /// The PIDs of a cell that ran in `pids`, while the last PID went from `before` to
    /// `after`.
    pub(crate) fn new(pids: Vec<u32>, before: Option<u32>, after: Option<u32>) -> PidContext {
        PidContext {
            pids,
            handed_out: before.zip(after),
        }
    }

    fn is_pid(&self, n: u32) -> bool {
        if self.pids.contains(&n) {
            return true;
        }
        // Linux hands out PIDs upwards and wraps to 300 (below are reserved).
        match self.handed_out {
            Some((before, after)) if before <= after => n > before && n <= after,
            Some((before, after)) => n > before || (300..=after).contains(&n),
            None => false,
        }
    }

    /// `text` with each PID of this run replaced by a mark.
    pub(crate) fn mark(&self, text: &str) -> String {
        NUMBER
            .replace_all(text, |c: &regex::Captures<'_>| {
                let number = &c[0];
                match number.parse::<u32>() {
                    Ok(n) if n > 1 && self.is_pid(n) => PID_MARK.to_owned(),
                    _ => number.to_owned(),
                }
            })
            .into_owned()
    }

    /// Whether `stored` equals `fresh`, where each mark in `fresh` matches a number.
    pub(crate) fn text_matches(stored: &str, fresh: &str) -> bool {
        if !fresh.contains(PID_MARK) {
            return stored == fresh;
        }
        let pattern: Vec<String> = fresh.split(PID_MARK).map(regex::escape).collect();
        Regex::new(&format!(r"\A{}\z", pattern.join(r"\d+")))
            .is_ok_and(|regex| regex.is_match(stored))
    }

    /// Marks shown as `<pid>` (for diffs).
    pub(crate) fn unmark(text: &str) -> String {
        text.replace(PID_MARK, "<pid>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nbval_files_parse_and_apply() {
        let rules = parse(
            "# dates\n[dates]\nregex: \\d{4}-\\d{2}-\\d{2}\nreplace: DATE\n\n[t]\nregex = \\d+ms\nreplace = Nms\n",
        )
        .unwrap();
        let s = Sanitizer { rules };
        assert_eq!(
            s.apply("on 2026-12-03 took 15ms at 0x7ffd5a3b2c10"),
            "on DATE took Nms at 0xADDRESS"
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        assert_eq!(parse("[a]\nregex: (\nreplace: x\n").unwrap_err().0, 2);
        assert_eq!(parse("regex: a\n").unwrap_err().0, 1);
        assert_eq!(parse("\n[a]\nreplace: x\n").unwrap_err().0, 2);
        assert_eq!(
            parse("[a]\nregex: a\nreplace: b\nflavour: c\n")
                .unwrap_err()
                .0,
            4
        );
    }

    #[test]
    fn fresh_pids_match_any_stored_number() {
        let pids = PidContext::new(vec![4242], Some(5000), Some(5010));
        let fresh = pids.mark("main 4242, child 5003, other 5011 and 7");
        assert_eq!(
            PidContext::unmark(&fresh),
            "main <pid>, child <pid>, other 5011 and 7"
        );
        assert!(PidContext::text_matches(
            "main 17, child 99, other 5011 and 7",
            &fresh
        ));
        assert!(!PidContext::text_matches(
            "main 17, child 99, other 5012 and 7",
            &fresh
        ));
        assert!(!PidContext::text_matches(
            "main x, child 99, other 5011 and 7",
            &fresh
        ));
        let wrapped = PidContext::new(vec![], Some(32760), Some(310));
        assert!(wrapped.is_pid(32765) && wrapped.is_pid(305) && !wrapped.is_pid(311));
    }
}
