//! "May I store these outputs?": checks asked for every executed code cell before its fresh
//! outputs replace the stored ones (`--inplace`, `--output`).
//!
//! A check sees the cell (its metadata, such as `{"paralelo": {"claims": [...]}}`, and
//! source), its fresh and stored outputs and how it ran, and answers with a [`Verdict`].
//! To add one: implement [`StoreCheck`] in a file of its own beside this one and list it in
//! `lesson_checks::checks`. Listed: `lesson_checks::BusyMachine` (a `timing` cell measured on a busy
//! machine is run again) and `lesson_checks::Claims` (the cell's declared claims hold).

use serde_json::Value;

/// A cell whose outputs are about to be stored.
pub(crate) struct CellToStore<'a> {
    /// The notebook, as given on the command line.
    pub(crate) notebook: &'a str,
    /// Counting every cell from 1, markdown included.
    pub(crate) number: usize,
    /// The cell as it will be written, before its outputs are replaced.
    pub(crate) cell: &'a Value,
    /// The fresh outputs (nbformat).
    pub(crate) fresh: &'a [Value],
    /// Whether the cell is tagged `timing` (or `nbval-ignore-output`).
    pub(crate) timing: bool,
}

/// A check's answer.
// `Keep` and `Fail` are for checks to come; the runner already acts on them.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Store the fresh outputs.
    Store,
    /// Keep the stored outputs; the reason is printed, the run does not fail.
    Keep(String),
    /// Keep the stored outputs and fail the cell with this reason.
    Fail(String),
    /// Run the cell again (once, [`RETRIES`]); if the answer is the same, fail as `Fail`.
    Retry(String),
}

/// One check; see the module's documentation.
pub(crate) trait StoreCheck {
    /// Its answer for `cell`.
    fn check(&self, cell: &CellToStore<'_>) -> Verdict;
}

/// How many times a cell is run again when a check answers [`Verdict::Retry`].
pub(crate) const RETRIES: usize = 1;

/// What the checks say about `cell`.
pub(crate) fn verdict(checks: &[Box<dyn StoreCheck>], cell: &CellToStore<'_>) -> Verdict {
    checks
        .iter()
        .map(|check| check.check(cell))
        .find(|verdict| *verdict != Verdict::Store)
        .unwrap_or(Verdict::Store)
}
