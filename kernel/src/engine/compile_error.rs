//! Compile errors shown against the user's cell, rustc's layout with the cell's own line
//! numbers: `--> cell:LINE:COLUMN`, the user's line and carets under the span.
//!
//! rustc's own rendering (`rendered`) names evcxr's generated crate (`src/lib.rs:118`) and,
//! for a magic, the kernel's wrapper lines; evcxr's spans are lines of the code it was given,
//! which [`CellSource`] maps back to the user's lines.

use std::fmt::Write as _;

use super::source::CellSource;

/// One compile error as text: the header, each span on the user's code, the helps.
pub(crate) fn render(error: &evcxr::CompilationError, source: &CellSource) -> String {
    let mut out = String::new();
    let level = if error.level().is_empty() {
        "error"
    } else {
        error.level()
    };
    match error.code() {
        Some(code) => writeln!(out, "{level}[{code}]: {}", error.message()),
        None => writeln!(out, "{level}: {}", error.message()),
    }
    .expect("writing to a String");
    let mut located = false;
    let mut last_line = None;
    let mut notes = Vec::new();
    for message in error.spanned_messages() {
        let position = message.span.as_ref().and_then(|span| {
            let (line, column) = source.user_position(span.start_line, span.start_column)?;
            let width = if span.end_line == span.start_line {
                span.end_column.saturating_sub(span.start_column).max(1)
            } else {
                usize::MAX
            };
            Some((line, column, width))
        });
        let Some((line, column, width)) = position else {
            if !message.label.is_empty() && !notes.contains(&message.label) {
                notes.push(message.label.clone());
            }
            continue;
        };
        let text = source.user_line(line).unwrap_or("");
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        if !located {
            writeln!(out, "{pad}--> cell:{line}:{column}").expect("writing to a String");
            located = true;
        }
        let width = width.min(text.chars().count().saturating_sub(column - 1).max(1));
        let carets = format!(
            "{}{}",
            " ".repeat(column.saturating_sub(1)),
            "^".repeat(width)
        );
        let label = if message.label.is_empty() {
            String::new()
        } else {
            format!(" {}", message.label)
        };
        // Labels on the line just shown go under it, as rustc puts them.
        if last_line != Some(line) {
            write!(out, "{pad} |\n{line} | {text}\n").expect("writing to a String");
        }
        writeln!(out, "{pad} | {carets}{label}").expect("writing to a String");
        last_line = Some(line);
    }
    for note in notes {
        writeln!(out, "  = {note}").expect("writing to a String");
    }
    for help in error.help() {
        writeln!(out, "help: {help}").expect("writing to a String");
    }
    if let Some(hint) = error.evcxr_extra_hint() {
        writeln!(out, "note: {hint}").expect("writing to a String");
    }
    out.trim_end().to_owned()
}
