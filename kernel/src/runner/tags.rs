//! Cell tags and nbval's comment markers: what each cell asks of the runner.
//!
//! Tags are nbclient's (`raises-exception`, `skip-execution`), nbval's (`nbval-ignore-output`,
//! `nbval-skip`, `nbval-raises-exception`, `nbval-check-output`), papermill's (`parameters`,
//! `injected-parameters`) and ours (`timing`). nbval's markers also work as the first line
//! of a cell, after `//` (Rust) or `#`: `// NBVAL_IGNORE_OUTPUT`, `// NBVAL_SKIP`,
//! `// NBVAL_RAISES_EXCEPTION`, `// NBVAL_CHECK_OUTPUT`.
//!
//! Other tags (jupyter-book's `hide-input`, …) are allowed, unless they look like a
//! misspelling of one of these: a typo would silently change what the runner checks.

use serde_json::Value;

/// Run, but not compared by `--check` (measurements).
pub(crate) const TIMING: &str = "timing";
/// papermill's cell of default parameters.
pub(crate) const PARAMETERS: &str = "parameters";
/// papermill's cell of the given parameters.
pub(crate) const INJECTED_PARAMETERS: &str = "injected-parameters";

/// Every tag the runner reads, with what it means (for the typo check and the docs).
const KNOWN: &[&str] = &[
    TIMING,
    "raises-exception",
    "skip-execution",
    PARAMETERS,
    INJECTED_PARAMETERS,
    "nbval-ignore-output",
    "nbval-skip",
    "nbval-raises-exception",
    "nbval-check-output",
];

/// What a cell's tags and markers ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CellFlags {
    /// Not run; its stored outputs are kept (`skip-execution`, `nbval-skip`).
    pub(crate) skip: bool,
    /// Must fail (`raises-exception`, `nbval-raises-exception`).
    pub(crate) raises: bool,
    /// Run, not compared (`timing`, `nbval-ignore-output`).
    pub(crate) ignore_output: bool,
}

/// The cell's `metadata.tags` (strings only).
pub(crate) fn tags(cell: &Value) -> impl Iterator<Item = &str> {
    cell.pointer("/metadata/tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether the cell carries `tag`.
pub(crate) fn has(cell: &Value, tag: &str) -> bool {
    tags(cell).any(|t| t == tag)
}

/// The cell's flags from its tags and from an nbval marker on its first line.
pub(crate) fn flags(cell: &Value, source: &str) -> CellFlags {
    let mut flags = CellFlags::default();
    for tag in tags(cell) {
        match tag {
            "skip-execution" | "nbval-skip" => flags.skip = true,
            "raises-exception" | "nbval-raises-exception" => flags.raises = true,
            TIMING | "nbval-ignore-output" => flags.ignore_output = true,
            _ => {}
        }
    }
    let first = source.lines().next().unwrap_or("").trim();
    let marker = first
        .strip_prefix("//")
        .or_else(|| first.strip_prefix('#'))
        .map(str::trim);
    match marker {
        Some("NBVAL_SKIP") => flags.skip = true,
        Some("NBVAL_RAISES_EXCEPTION") => flags.raises = true,
        Some("NBVAL_IGNORE_OUTPUT") => flags.ignore_output = true,
        _ => {}
    }
    flags
}

/// Checks the cell's tags: strings, and none that looks like a misspelt runner tag.
///
/// # Errors
///
/// What is wrong and the tag meant, when there is one.
pub(crate) fn check(cell: &Value) -> Result<(), String> {
    let Some(list) = cell.pointer("/metadata/tags") else {
        return Ok(());
    };
    let Some(list) = list.as_array().filter(|l| l.iter().all(Value::is_string)) else {
        return Err("metadata.tags must be a list of strings".into());
    };
    for tag in list.iter().filter_map(Value::as_str) {
        if KNOWN.contains(&tag) {
            continue;
        }
        if let Some(meant) = looks_like(tag) {
            return Err(format!(
                "unknown tag {tag:?}: did you mean {meant:?}? Fix it in Jupyter (View → Cell \
                 toolbar → Tags); tags the runner does not read are allowed when they do not \
                 look like one of its own ({})",
                KNOWN.join(", ")
            ));
        }
        if tag.to_ascii_lowercase().starts_with("nbval") {
            return Err(format!(
                "unknown tag {tag:?}: nbval's tags are nbval-ignore-output, nbval-skip, \
                 nbval-raises-exception and nbval-check-output"
            ));
        }
    }
    Ok(())
}

/// The runner tag `tag` is probably a misspelling of.
fn looks_like(tag: &str) -> Option<&'static str> {
    let normal: String = tag
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == ' ' { '-' } else { c })
        .collect();
    KNOWN
        .iter()
        .map(|known| (strsim::levenshtein(&normal, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(tags: Value) -> Value {
        json!({"cell_type": "code", "metadata": {"tags": tags}, "source": ""})
    }

    #[test]
    fn tags_and_markers_set_flags() {
        let c = cell(json!(["nbval-skip", "timing"]));
        assert_eq!(
            flags(&c, ""),
            CellFlags {
                skip: true,
                ignore_output: true,
                raises: false
            }
        );
        let plain = cell(json!([]));
        assert!(flags(&plain, "// NBVAL_RAISES_EXCEPTION\npanic!()").raises);
        assert!(flags(&plain, "# NBVAL_IGNORE_OUTPUT\n").ignore_output);
        assert_eq!(flags(&plain, "// a comment\n"), CellFlags::default());
    }

    #[test]
    fn misspelt_tags_are_refused_and_others_allowed() {
        assert!(check(&cell(json!(["hide-input", "timing", "remove-cell"]))).is_ok());
        let e = check(&cell(json!(["raises-exceptions"]))).unwrap_err();
        assert!(e.contains("did you mean \"raises-exception\""), "{e}");
        assert!(
            check(&cell(json!(["Timing"])))
                .unwrap_err()
                .contains("\"timing\"")
        );
        assert!(check(&cell(json!(["skip_execution"]))).is_err());
        assert!(check(&cell(json!(["nbval-lax"]))).is_err());
        assert!(check(&cell(json!("timing"))).is_err());
    }
}
