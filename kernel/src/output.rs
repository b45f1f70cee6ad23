//! What a running cell produces, as the engine hands it on: text on its streams, displays,
//! its value or its error; and the marker protocol `paralelo::display` speaks to the engine.

use std::sync::Arc;

use serde_json::{Map, Value};

/// Prefix of the one-line display markers printed by `paralelo::display`.
pub(crate) const DISPLAY_MARKER: &str = "PARALELO_DISPLAY ";

/// Set to `1` in the evaluation process's environment: tells `paralelo::display` to print
/// [`DISPLAY_MARKER`] lines (elsewhere it prints text, or evcxr's content blocks).
pub(crate) const DISPLAY_ENV: &str = "PARALELO_KERNEL_DISPLAY";

/// One piece of output of a running cell, in the order it was produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// Text on the child's stdout (a line, with its newline).
    Stdout(String),
    /// Text on the child's stderr (a line, with its newline).
    Stderr(String),
    /// `display(...)` or a display handle's `update(...)`.
    Display {
        data: Map<String, Value>,
        display_id: Option<String>,
        update: bool,
    },
    /// `clear_output(wait)`.
    Clear { wait: bool },
    /// Documentation for the pager (IPython's `?name`): a `page` payload of the execute reply
    /// in Jupyter, printed as text by the headless runner.
    Page { data: Map<String, Value> },
}

/// Where outputs of the running cell go.
pub(crate) type Sink = Arc<dyn Fn(Output) + Send + Sync>;

/// A failed cell, in Jupyter's terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellError {
    pub(crate) ename: String,
    pub(crate) evalue: String,
    pub(crate) traceback: Vec<String>,
}

impl CellError {
    /// An error with a one-line traceback.
    pub(crate) fn new(ename: &str, evalue: impl Into<String>) -> CellError {
        let evalue = evalue.into();
        CellError {
            ename: ename.to_owned(),
            traceback: vec![format!("{ename}: {evalue}")],
            evalue,
        }
    }
}

/// The value of a cell (mime type → content), empty when it has none.
pub(crate) type CellValue = Map<String, Value>;

/// The plain text of a pager bundle, ending with a newline.
pub(crate) fn page_text(data: &serde_json::Map<String, Value>) -> String {
    let mut text = data
        .get("text/plain")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
