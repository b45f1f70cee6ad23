//! A timing table as text (comfy-table) and as HTML, with its notes.

use std::fmt;
use std::time::Duration;

use comfy_table::modifiers::UTF8_ROUND_CORNERS;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use super::{TimingRow, TimingTable};
use crate::timing::format_time;

impl TimingTable {
    fn repeated(&self) -> bool {
        self.rows.iter().any(|r| r.runs.len() > 1)
    }

    fn has_reference(&self) -> bool {
        self.rows.iter().any(|r| r.reference.is_some())
    }

    fn time(&self, d: Duration) -> String {
        self.language.number(format_time(d))
    }

    /// The header and the cells of every row, as text.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let w = self.language.words();
        let repeated = self.repeated();
        let with_reference = self.has_reference();
        let mut header = vec![w.variant, w.workers, w.wall];
        if repeated {
            header.extend([w.runs, w.spread]);
        }
        header.extend([w.cpu, w.speedup, w.efficiency]);
        let mut header: Vec<String> = header.into_iter().map(String::from).collect();
        if with_reference {
            header.push(
                self.reference_label
                    .clone()
                    .unwrap_or_else(|| w.reference.to_owned()),
            );
            header.push(w.reference_ratio.to_owned());
        }
        let dash = || "—".to_owned();
        let number = |s: String| self.language.number(s);
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let speedup = self.speedup_of(row);
                let mut cells = vec![
                    row.name.clone(),
                    row.workers.to_string(),
                    self.time(row.wall),
                ];
                if repeated {
                    cells.push(row.runs.len().to_string());
                    cells.push(if row.runs.len() > 1 {
                        format!("{} – {}", self.time(row.min()), self.time(row.max()))
                    } else {
                        dash()
                    });
                }
                cells.push(row.cpu.map_or_else(dash, |c| self.time(c)));
                cells.push(speedup.map_or_else(dash, |s| number(format!("{s:.2}×"))));
                cells.push(
                    self.efficiency_of(row)
                        .map_or_else(dash, |e| format!("{:.0} %", 100.0 * e)),
                );
                if with_reference {
                    cells.push(row.reference.map_or_else(dash, |r| self.time(r)));
                    cells.push(match row.reference {
                        Some(r) if row.wall > Duration::ZERO => {
                            number(format!("{:.1}×", r.as_secs_f64() / row.wall.as_secs_f64()))
                        }
                        _ => dash(),
                    });
                }
                cells
            })
            .collect();
        (header, rows)
    }

    /// The notes under the table: how repeated rows were measured, and the busy-machine
    /// note naming every row measured while other programs took the CPUs.
    pub(super) fn notes(&self) -> Vec<String> {
        let w = self.language.words();
        let mut notes = Vec::new();
        if self.repeated() {
            notes.push(w.runs_note.to_owned());
        }
        let busy = self.busy_rows();
        if !busy.is_empty() {
            let mut note = w.busy_start.to_owned();
            for (i, (row, share)) in busy.iter().enumerate() {
                let template = if i == 0 { w.busy_first } else { w.busy_more };
                note += &template
                    .replace("{share}", &format!("{:.0}", 100.0 * share))
                    .replace("{row}", row);
            }
            note += w.busy_end;
            notes.push(note);
        }
        notes
    }

    /// The table as an HTML `<table>`, for notebooks; its notes go in a `<tfoot>`, each row
    /// measured on a busy machine carries `data-busy="48"` (the share in %), and the table
    /// carries its figures as JSON in [`TIMING_ATTRIBUTE`](crate::TIMING_ATTRIBUTE).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("<t>");
    /// table.row("a & b").wall(Duration::from_millis(3));
    /// let html = table.to_html();
    /// assert!(html.starts_with("<table"));
    /// assert!(html.contains("a &amp; b") && html.contains("&lt;t&gt;"));
    /// ```
    pub fn to_html(&self) -> String {
        let (header, rows) = self.cells();
        let mut html = format!(
            "<table class=\"paralelo-timing\" {}=\"{}\">",
            super::TIMING_ATTRIBUTE,
            escape(&self.to_json().to_string())
        );
        if let Some(title) = &self.title {
            html += &format!(
                "<caption style=\"font-weight:bold\">{}</caption>",
                escape(title)
            );
        }
        html += "<thead><tr>";
        for h in &header {
            html += &format!("<th>{}</th>", escape(h));
        }
        html += "</tr></thead><tbody>";
        for (row, cells) in self.rows.iter().zip(rows) {
            html += &row_start(row);
            for (i, cell) in cells.iter().enumerate() {
                let align = if i == 0 { "left" } else { "right" };
                html += &format!("<td style=\"text-align:{align}\">{}</td>", escape(cell));
            }
            html += "</tr>";
        }
        html += "</tbody>";
        let notes = self.notes();
        if !notes.is_empty() {
            html += "<tfoot>";
            for note in notes {
                let style = if note.starts_with(self.language.words().busy_start) {
                    "text-align:left;font-weight:normal;color:#a33"
                } else {
                    "text-align:left;font-weight:normal;color:#666"
                };
                html += &format!(
                    "<tr><td colspan=\"{}\" style=\"{style}\">{}</td></tr>",
                    header.len(),
                    escape(&note)
                );
            }
            html += "</tfoot>";
        }
        html + "</table>"
    }
}

fn row_start(row: &TimingRow) -> String {
    match row.busy_share {
        Some(share) => format!(
            "<tr data-busy=\"{:.0}\" style=\"background:#fdd\">",
            100.0 * share
        ),
        None => "<tr>".to_owned(),
    }
}

impl fmt::Display for TimingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (header, rows) = self.cells();
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .apply_modifier(UTF8_ROUND_CORNERS);
        table.set_header(header);
        for row in rows {
            table.add_row(row);
        }
        for (i, column) in table.column_iter_mut().enumerate() {
            if i > 0 {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        if let Some(title) = &self.title {
            writeln!(f, "{title}")?;
        }
        write!(f, "{table}")?;
        for note in self.notes() {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
