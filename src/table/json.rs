//! The machine-readable form of a timing table, shown beside its text and HTML.

use serde_json::{Value, json};

use super::TimingTable;
use crate::timing::{BUSY_MIN_WALL, BUSY_THRESHOLD};

/// The HTML attribute that carries a timing table's figures as JSON, on the `<table>` of
/// [`TimingTable::to_html`]: `data-paralelo-timing`.
///
/// The HTML is what a notebook stores and a code host shows, so the figures travel with it;
/// browsers ignore the attribute, and tools read it (HTML-unescaped) to check a notebook's
/// figures: the kernel's runner refuses to store a table measured on a busy machine, and
/// checks a cell's claims against it. The JSON is [`TimingTable::to_json`], version 1:
///
/// ```json
/// {
///   "version": 1, "title": "…", "language": "es", "baseline": "un hilo",
///   "busy_threshold": 0.25, "busy_min_wall_s": 0.1,
///   "rows": [{
///     "name": "dos hilos", "workers": 2,
///     "wall_s": 0.21, "min_s": 0.2, "max_s": 0.23, "runs": 3, "cpu_s": 0.41,
///     "speedup": 1.93, "efficiency": 0.96, "reference_s": 0.4132,
///     "others_share": 0.03, "busy": false
///   }]
/// }
/// ```
///
/// Times are in seconds; `speedup`, `efficiency`, `cpu_s`, `reference_s` and
/// `others_share` are `null` when unknown; `busy` is true when the row's note says the
/// machine was busy.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use paralelo::TIMING_ATTRIBUTE;
/// use std::time::Duration;
///
/// let mut table = TimingTable::new("t");
/// table.row("un hilo").wall(Duration::from_secs(2));
/// table.row("dos hilos").workers(2).wall(Duration::from_secs(1));
/// assert_eq!(table.to_json()["rows"][1]["speedup"], 2.0);
/// assert!(table.to_html().contains(&format!("{TIMING_ATTRIBUTE}=\"{{&quot;")));
/// ```
pub const TIMING_ATTRIBUTE: &str = "data-paralelo-timing";

impl TimingTable {
    /// The table's figures as JSON, in the shape documented at [`TIMING_ATTRIBUTE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("suma").measure(|| (0..1000u64).sum::<u64>());
    /// let row = &table.to_json()["rows"][0];
    /// assert_eq!(row["name"], "suma");
    /// assert!(row["runs"].as_u64().unwrap() >= 1);
    /// ```
    pub fn to_json(&self) -> Value {
        let baseline = self.baseline_row().map(|r| r.name.clone());
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "name": row.name,
                    "workers": row.workers,
                    "wall_s": row.wall.as_secs_f64(),
                    "min_s": row.min().as_secs_f64(),
                    "max_s": row.max().as_secs_f64(),
                    "runs": row.runs.len(),
                    "cpu_s": row.cpu.map(|c| c.as_secs_f64()),
                    "speedup": self.speedup_of(row),
                    "efficiency": self.efficiency_of(row),
                    "reference_s": row.reference.map(|r| r.as_secs_f64()),
                    "others_share": row.others_share,
                    "busy": row.busy_share.is_some(),
                })
            })
            .collect();
        json!({
            "version": 1,
            "title": self.title,
            "language": self.language.code(),
            "baseline": baseline,
            "busy_threshold": BUSY_THRESHOLD,
            "busy_min_wall_s": BUSY_MIN_WALL.as_secs_f64(),
            "rows": rows,
        })
    }
}
