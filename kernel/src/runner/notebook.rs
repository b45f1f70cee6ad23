//! Reading, checking and writing `.ipynb` files (nbformat 4).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::UsageError;
use super::tags;

/// A notebook as read from disk, checked to be nbformat 4 with well-formed cells.
pub(crate) struct Notebook {
    pub(crate) json: Value,
}

impl Notebook {
    /// Reads `path` and checks it: JSON, nbformat 4, a list of cells whose sources are
    /// strings or lists of strings, and tags the runner can read.
    ///
    /// # Errors
    ///
    /// A message naming the file, what is wrong and what to do.
    pub(crate) fn read(path: &Path) -> Result<Notebook, UsageError> {
        let name = path.display();
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                UsageError(format!("{name}: not a Jupyter notebook (not UTF-8 text)"))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UsageError(format!(
                    "{name}: no such file (check the path; notebooks end in .ipynb)"
                )));
            }
            Err(e) => return Err(UsageError(format!("{name}: cannot read the file: {e}"))),
        };
        let json: Value = serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "{name}: not a Jupyter notebook (not JSON: {e}); a notebook is the .ipynb \
                 file Jupyter saves"
            ))
        })?;
        let notebook = Notebook { json };
        notebook.check(path)?;
        Ok(notebook)
    }

    fn check(&self, path: &Path) -> Result<(), UsageError> {
        let name = path.display();
        let json = &self.json;
        if !json.is_object() {
            return Err(UsageError(format!(
                "{name}: not a Jupyter notebook (JSON, but not an object with \"nbformat\" and \
                 \"cells\")"
            )));
        }
        match json.get("nbformat").and_then(Value::as_u64) {
            Some(4) => {}
            Some(v) => {
                return Err(UsageError(format!(
                    "{name}: nbformat {v} is not supported (only nbformat 4); convert it with \
                     `jupyter nbconvert --to notebook --nbformat 4` or by saving it in a recent \
                     Jupyter"
                )));
            }
            None => {
                return Err(UsageError(format!(
                    "{name}: not a Jupyter notebook (no \"nbformat\" field)"
                )));
            }
        }
        let Some(cells) = json.get("cells").and_then(Value::as_array) else {
            return Err(UsageError(format!(
                "{name}: not a Jupyter notebook (no \"cells\" list)"
            )));
        };
        for (index, cell) in cells.iter().enumerate() {
            let number = index + 1;
            let kind = cell.get("cell_type").and_then(Value::as_str);
            if !matches!(kind, Some("code" | "markdown" | "raw")) {
                return Err(UsageError(format!(
                    "{name}: cell {number} has no valid \"cell_type\" (code, markdown or raw)"
                )));
            }
            match cell.get("source") {
                Some(Value::String(_)) => {}
                Some(Value::Array(lines)) if lines.iter().all(Value::is_string) => {}
                _ => {
                    return Err(UsageError(format!(
                        "{name}: cell {number}: \"source\" must be a string or a list of \
                         strings (nbformat 4); re-save the notebook in Jupyter"
                    )));
                }
            }
            if let Some(metadata) = cell.get("metadata")
                && !metadata.is_object()
            {
                return Err(UsageError(format!(
                    "{name}: cell {number}: \"metadata\" must be an object"
                )));
            }
            tags::check(cell).map_err(|e| UsageError(format!("{name}: cell {number}: {e}")))?;
            if let Some(timeout) = cell.pointer("/metadata/execution/timeout")
                && !timeout.as_f64().is_some_and(|t| t > 0.0)
            {
                return Err(UsageError(format!(
                    "{name}: cell {number}: metadata.execution.timeout must be a number of \
                     seconds above 0, not {timeout}"
                )));
            }
        }
        Ok(())
    }

    /// The cells (checked to exist by [`Notebook::read`]).
    pub(crate) fn cells(&self) -> &[Value] {
        self.json["cells"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The cells, to change them.
    pub(crate) fn cells_mut(&mut self) -> &mut Vec<Value> {
        if !self.json["cells"].is_array() {
            self.json["cells"] = json!([]);
        }
        self.json["cells"]
            .as_array_mut()
            .expect("cells is an array")
    }
}

/// Where the executed notebook is written, if anywhere: the source with `--inplace`, or
/// `DIR/<file name>` with `--output DIR`.
pub(crate) fn destination(path: &Path, inplace: bool, output: Option<&Path>) -> Option<PathBuf> {
    if inplace {
        return Some(path.to_path_buf());
    }
    output.map(|dir| dir.join(path.file_name().unwrap_or(path.as_os_str())))
}

/// Checks before running that the executed notebook can be written where it will go.
///
/// # Errors
///
/// A read-only notebook with `--inplace` (its mode has no write bit: refused even for
/// root, as the file says it is not to be changed), or an output directory that cannot be
/// created.
pub(crate) fn check_writable(
    path: &Path,
    inplace: bool,
    output: Option<&Path>,
) -> Result<(), UsageError> {
    let name = path.display();
    if inplace {
        let meta = std::fs::metadata(path)
            .map_err(|e| UsageError(format!("{name}: cannot read the file: {e}")))?;
        if meta.permissions().mode() & 0o222 == 0 {
            return Err(UsageError(format!(
                "{name}: the file is read-only, so --inplace cannot write it: make it writable \
                 (chmod u+w) or write the executed notebook elsewhere with --output DIR"
            )));
        }
    }
    if let Some(dir) = output {
        std::fs::create_dir_all(dir).map_err(|e| {
            UsageError(format!(
                "{name}: cannot create the --output directory {}: {e}",
                dir.display()
            ))
        })?;
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

/// The first non-blank line of a cell's source, shortened for logs and report names.
pub(crate) fn first_line(source: &str) -> String {
    let line = source
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = line.chars().take(60).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// Gives the cell a valid nbformat 4.5 `id` if it has none.
pub(crate) fn ensure_id(cell: &mut Value, index: usize) {
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

/// nbformat 4.5 and the kernel's `kernelspec` / `language_info`.
pub(crate) fn set_notebook_metadata(nb: &mut Value) {
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

/// Writes `nb` to `path` through a temporary file and a rename, keeping the permissions of
/// the file it replaces.
///
/// # Errors
///
/// When the directory is not writable.
pub(crate) fn write_notebook(path: &Path, nb: &Value) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(nb)?;
    text.push('\n');
    let tmp = path.with_extension("ipynb.tmp");
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_are_short_and_skip_blanks() {
        assert_eq!(first_line("\n\n  let a = 1;\nb"), "let a = 1;");
        assert_eq!(first_line(&"x".repeat(80)).chars().count(), 61);
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn destinations() {
        let p = Path::new("a/b.ipynb");
        assert_eq!(destination(p, true, None), Some(p.to_path_buf()));
        assert_eq!(
            destination(p, false, Some(Path::new("out"))),
            Some(PathBuf::from("out/b.ipynb"))
        );
        assert_eq!(destination(p, false, None), None);
    }
}
