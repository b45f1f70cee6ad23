//! `--junit FILE`: the run as JUnit XML, the format CI systems (GitLab, Jenkins, GitHub
//! test reporters) read.
//!
//! One `testsuite` per notebook, one `testcase` per code cell, named
//! `NOTEBOOK cell N: FIRST LINE`; a failing cell has a `failure` (type: the error's name,
//! message: its value, body: the traceback and `--check`'s diff); cells not run are
//! `skipped`; a notebook that could not run at all has one `testcase` with an `error`.

use std::fmt::Write as _;

use super::report::{CellStatus, NotebookReport, Status};

/// Text made safe for XML 1.0: markup escaped, characters XML cannot hold (terminal
/// escapes, NUL) dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `notebooks/a.ipynb` → `notebooks.a`, JUnit's dotted class name.
fn class_name(path: &str) -> String {
    let stem = path.strip_suffix(".ipynb").unwrap_or(path);
    stem.trim_start_matches("./")
        .trim_start_matches('/')
        .replace('/', ".")
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The XML document for `reports`.
pub(crate) fn render(reports: &[NotebookReport]) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_failures, mut all_errors, mut all_skipped) = (0, 0, 0, 0);
    let mut all_time = 0.0;
    for report in reports {
        let class = escape(&class_name(&report.path));
        let mut cases = String::new();
        let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
        if report.cells.is_empty() && report.status != Status::Passed {
            tests += 1;
            errors += 1;
            let message = report.message.clone().unwrap_or_default();
            let first = message.lines().next().unwrap_or("");
            let kind = match report.status {
                Status::UsageError => "UsageError",
                _ => "NotebookError",
            };
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"{class}\" time=\"0\">\n      \
                 <error type=\"{kind}\" message=\"{}\">{}</error>\n    </testcase>\n",
                escape(&format!("{}: run", file_name(&report.path))),
                escape(first),
                escape(&message)
            );
        }
        for cell in &report.cells {
            tests += 1;
            let name = format!(
                "{} cell {}: {}",
                file_name(&report.path),
                cell.number,
                cell.first_line
            );
            let _ = writeln!(
                cases,
                "    <testcase name=\"{}\" classname=\"{class}\" time=\"{:.3}\" file=\"{}\">",
                escape(&name),
                cell.time,
                escape(&report.path)
            );
            match &cell.status {
                CellStatus::Skipped { reason } => {
                    skipped += 1;
                    let _ = writeln!(cases, "      <skipped message=\"{}\"/>", escape(reason));
                }
                CellStatus::Failed {
                    ename,
                    evalue,
                    traceback,
                } => {
                    failures += 1;
                    let mut body = traceback.join("\n");
                    if let Some(diff) = &cell.diff {
                        body.push_str("\n\n--check: outputs differ from the stored ones\n");
                        body.push_str(diff);
                    }
                    let _ = writeln!(
                        cases,
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        escape(ename),
                        escape(&format!("{ename}: {evalue}")),
                        escape(&body)
                    );
                }
                CellStatus::Passed => {
                    if let Some(diff) = &cell.diff {
                        failures += 1;
                        let _ = writeln!(
                            cases,
                            "      <failure type=\"OutputMismatch\" message=\"outputs differ from \
                             the stored ones (--check)\">{}</failure>",
                            escape(diff)
                        );
                    }
                }
            }
            if !cell.stdout.is_empty() {
                let _ = writeln!(
                    cases,
                    "      <system-out>{}</system-out>",
                    escape(&cell.stdout)
                );
            }
            cases.push_str("    </testcase>\n");
        }
        let mut properties = String::new();
        if !report.parameters.is_empty() {
            properties.push_str("    <properties>\n");
            for (name, value) in &report.parameters {
                let _ = writeln!(
                    properties,
                    "      <property name=\"parameter.{}\" value=\"{}\"/>",
                    escape(name),
                    escape(&value.to_string())
                );
            }
            properties.push_str("    </properties>\n");
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">\n\
             {properties}{cases}  </testsuite>\n",
            escape(&report.path),
            report.time,
            escape(&report.timestamp)
        );
        all_tests += tests;
        all_failures += failures;
        all_errors += errors;
        all_skipped += skipped;
        all_time += report.time;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"paralelo-kernel run\" \
         tests=\"{all_tests}\" failures=\"{all_failures}\" errors=\"{all_errors}\" \
         skipped=\"{all_skipped}\" time=\"{all_time:.3}\">\n{suites}</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape("a<b & \"c\"\u{1b}[31m"),
            "a&lt;b &amp; &quot;c&quot;[31m"
        );
        assert_eq!(class_name("./notebooks/a.ipynb"), "notebooks.a");
    }
}
