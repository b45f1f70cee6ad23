//! What one notebook's run found, passed from its process to `run` (as JSON) for the summary
//! and the JUnit report.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A notebook's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// Every cell as expected.
    Passed,
    /// A cell failed, timed out or differs; or the engine did not start.
    Failed,
    /// The notebook could not be run as given (exit status 2).
    UsageError,
}

/// How a code cell ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum CellStatus {
    /// Ran as expected (a `raises-exception` cell that failed included).
    Passed,
    /// Failed: an error, a timeout, no error where one was expected.
    Failed {
        ename: String,
        evalue: String,
        traceback: Vec<String>,
    },
    /// Not run: the reason (`skip-execution`, an earlier failure).
    Skipped { reason: String },
}

/// One code cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CellReport {
    /// Counting every cell from 1, markdown included.
    pub(crate) number: usize,
    /// Its first line (for names).
    pub(crate) first_line: String,
    /// Seconds it ran.
    pub(crate) time: f64,
    pub(crate) status: CellStatus,
    /// `--check`'s expected/got description, when the outputs differ.
    pub(crate) diff: Option<String>,
    /// Why the fresh outputs were not stored (see `store`), if they were not.
    pub(crate) not_stored: Option<String>,
    /// What the cell printed on stdout.
    pub(crate) stdout: String,
}

/// One notebook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NotebookReport {
    /// As given on the command line.
    pub(crate) path: String,
    pub(crate) status: Status,
    /// Why the notebook as a whole failed (a usage error, the engine), or the first failure.
    pub(crate) message: Option<String>,
    /// Seconds, engine start included.
    pub(crate) time: f64,
    /// When it started (ISO 8601, UTC).
    pub(crate) timestamp: String,
    pub(crate) parameters: Map<String, Value>,
    pub(crate) cells: Vec<CellReport>,
}

impl NotebookReport {
    /// An empty report for `path`, starting now.
    pub(crate) fn new(path: &str) -> NotebookReport {
        NotebookReport {
            path: path.to_owned(),
            status: Status::Passed,
            message: None,
            time: 0.0,
            timestamp: super::iso_now(),
            parameters: Map::new(),
            cells: Vec::new(),
        }
    }

    /// A notebook that could not be run as given.
    pub(crate) fn usage_error(path: &str, message: String) -> NotebookReport {
        let mut report = NotebookReport::new(path);
        report.status = Status::UsageError;
        report.message = Some(message);
        report
    }

    /// A notebook that failed as a whole.
    pub(crate) fn failed(path: &str, message: String) -> NotebookReport {
        let mut report = NotebookReport::new(path);
        report.status = Status::Failed;
        report.message = Some(message);
        report
    }
}
