//! `TimingTable`: measurements side by side, with speedup, efficiency and a reference column.

use std::fmt;
use std::time::Duration;

use comfy_table::modifiers::UTF8_ROUND_CORNERS;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::timing::{Measurement, format_time, measure};

/// A table of timings: one row per variant of the same work, compared with a baseline row.
///
/// Columns: Variant · Workers · Wall · CPU · Speedup (baseline wall ÷ this wall) ·
/// Efficiency (speedup ÷ workers), and, when any row has one, the reference time (such as
/// the course document's Python figure) with the ratio reference ÷ wall.
///
/// It prints as text (`Display`, for the REPL and CI logs) and as HTML in Jupyter
/// (`evcxr_display`, called by the kernel when the table is a cell's value).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// fn factorial(n: u64) -> BigUint {
///     (1..=n).map(BigUint::from).product()
/// }
///
/// let mut table = TimingTable::new("Factoriales de 1000 a 1999");
/// let uno = table.row("un hilo").workers(1).reference_secs(0.3721)
///     .measure(|| (1000..2000).map(factorial).collect::<Vec<_>>());
/// let dos = table.row("par_map, 2 hilos").workers(2).reference_secs(0.4132)
///     .measure(|| par_map(factorial, 1000..2000u64))?;
/// assert_eq!(uno, dos);
/// println!("{table}");
/// assert!(table.speedup("par_map, 2 hilos").unwrap() > 0.0);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TimingTable {
    title: Option<String>,
    rows: Vec<TimingRow>,
    baseline: Option<String>,
    reference_label: Option<String>,
}

/// One row of a [`TimingTable`].
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use std::time::Duration;
///
/// let mut table = TimingTable::new("t");
/// table.row("dos hilos").workers(2).wall(Duration::from_millis(5));
/// let row = &table.rows()[0];
/// assert_eq!((row.name.as_str(), row.workers, row.cpu), ("dos hilos", 2, None));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimingRow {
    /// What was measured.
    pub name: String,
    /// How many workers ran it (1 for sequential code).
    pub workers: usize,
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time of this process and its children, when it was measured.
    pub cpu: Option<Duration>,
    /// A time to compare with, such as the course document's Python figure.
    pub reference: Option<Duration>,
}

impl TimingTable {
    /// An empty table with a title.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let table = TimingTable::new("Cuadrados");
    /// assert!(table.rows().is_empty());
    /// ```
    pub fn new(title: impl Into<String>) -> Self {
        TimingTable {
            title: Some(title.into()),
            ..TimingTable::default()
        }
    }

    /// Starts a row named `name`; finish it with [`RowBuilder::measure`] (runs and times a
    /// closure) or [`RowBuilder::wall`] / [`RowBuilder::measurement`] (a time measured elsewhere).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("Sueños");
    /// table.row("secuencial").wall(Duration::from_secs(10));
    /// table.row("dos hilos").workers(2).wall(Duration::from_secs(5));
    /// assert_eq!(table.speedup("dos hilos"), Some(2.0));
    /// assert_eq!(table.efficiency("dos hilos"), Some(1.0));
    /// ```
    pub fn row(&mut self, name: impl Into<String>) -> RowBuilder<'_> {
        RowBuilder {
            table: self,
            row: TimingRow {
                name: name.into(),
                workers: 1,
                wall: Duration::ZERO,
                cpu: None,
                reference: None,
            },
        }
    }

    /// Compares every row with the row named `name` (default: the first row).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("rápido").wall(Duration::from_secs(1));
    /// table.row("lento").wall(Duration::from_secs(4));
    /// table.baseline("lento");
    /// assert_eq!(table.speedup("rápido"), Some(4.0));
    /// ```
    pub fn baseline(&mut self, name: impl Into<String>) -> &mut Self {
        self.baseline = Some(name.into());
        self
    }

    /// The heading of the reference column (default "Reference"), e.g. "Python (documento)".
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.reference_label("Python (documento)");
    /// table.row("Rust").reference_secs(0.3721).wall(Duration::from_millis(40));
    /// assert!(table.to_string().contains("Python (documento)"));
    /// ```
    pub fn reference_label(&mut self, label: impl Into<String>) -> &mut Self {
        self.reference_label = Some(label.into());
        self
    }

    /// The rows, in the order they were added.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("a").measure(|| 1 + 1);
    /// table.row("b").measure(|| 2 + 2);
    /// let names: Vec<&str> = table.rows().iter().map(|r| r.name.as_str()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn rows(&self) -> &[TimingRow] {
        &self.rows
    }

    fn find(&self, name: &str) -> Option<&TimingRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    fn baseline_row(&self) -> Option<&TimingRow> {
        match &self.baseline {
            Some(name) => self.find(name),
            None => self.rows.first(),
        }
    }

    fn speedup_of(&self, row: &TimingRow) -> Option<f64> {
        let base = self.baseline_row()?;
        (row.wall > Duration::ZERO).then(|| base.wall.as_secs_f64() / row.wall.as_secs_f64())
    }

    /// The baseline's wall time divided by this row's, or `None` without such a row.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("secuencial").wall(Duration::from_secs(3));
    /// table.row("tres hilos").workers(3).wall(Duration::from_secs(1));
    /// assert_eq!(table.speedup("tres hilos"), Some(3.0));
    /// assert_eq!(table.speedup("otra"), None);
    /// ```
    pub fn speedup(&self, name: &str) -> Option<f64> {
        self.speedup_of(self.find(name)?)
    }

    /// Speedup divided by the number of workers (1.0 is perfect scaling).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("secuencial").wall(Duration::from_secs(4));
    /// table.row("cuatro hilos").workers(4).wall(Duration::from_secs(2));
    /// assert_eq!(table.efficiency("cuatro hilos"), Some(0.5));
    /// ```
    pub fn efficiency(&self, name: &str) -> Option<f64> {
        let row = self.find(name)?;
        Some(self.speedup_of(row)? / row.workers.max(1) as f64)
    }

    fn has_reference(&self) -> bool {
        self.rows.iter().any(|r| r.reference.is_some())
    }

    /// The header and the cells of every row, as text.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header: Vec<String> =
            ["Variant", "Workers", "Wall", "CPU", "Speedup", "Efficiency"]
                .map(String::from)
                .to_vec();
        let with_reference = self.has_reference();
        if with_reference {
            header.push(
                self.reference_label
                    .clone()
                    .unwrap_or_else(|| "Reference".to_owned()),
            );
            header.push("Reference ÷ Wall".to_owned());
        }
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let speedup = self.speedup_of(row);
                let mut cells = vec![
                    row.name.clone(),
                    row.workers.to_string(),
                    format_time(row.wall),
                    row.cpu.map_or_else(|| "—".to_owned(), format_time),
                    speedup.map_or_else(|| "—".to_owned(), |s| format!("{s:.2}×")),
                    speedup.map_or_else(
                        || "—".to_owned(),
                        |s| format!("{:.0} %", 100.0 * s / row.workers.max(1) as f64),
                    ),
                ];
                if with_reference {
                    cells.push(row.reference.map_or_else(|| "—".to_owned(), format_time));
                    cells.push(match row.reference {
                        Some(r) if row.wall > Duration::ZERO => {
                            format!("{:.1}×", r.as_secs_f64() / row.wall.as_secs_f64())
                        }
                        _ => "—".to_owned(),
                    });
                }
                cells
            })
            .collect();
        (header, rows)
    }

    /// The table as an HTML `<table>`, for notebooks.
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
        let mut html = String::from("<table class=\"paralelo-timing\">");
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
        for row in rows {
            html += "<tr>";
            for (i, cell) in row.iter().enumerate() {
                let align = if i == 0 { "left" } else { "right" };
                html += &format!("<td style=\"text-align:{align}\">{}</td>", escape(cell));
            }
            html += "</tr>";
        }
        html + "</tbody></table>"
    }

    /// Shows the table in Jupyter as HTML, with the text version for other front ends.
    ///
    /// evcxr calls this when the table is the value of a cell; call it yourself to show a
    /// table from the middle of a cell. Outside Jupyter it prints evcxr's content markers
    /// around the text and the HTML.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("a").wall(Duration::from_millis(1));
    /// table.evcxr_display(); // EVCXR_BEGIN_CONTENT text/plain … EVCXR_END_CONTENT, then text/html
    /// ```
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/plain\n{self}\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

/// The text table, as with `Display`; for [`display`](crate::display::display) it also
/// offers the HTML table, so a notebook shows the same table as when it ends a cell.
impl fmt::Debug for TimingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_string();
        crate::display::offer_mime(&text, &[("text/html", &self.to_html())]);
        f.write_str(&text)
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
        write!(f, "{table}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A row being added to a [`TimingTable`]; it is added by [`measure`](Self::measure),
/// [`wall`](Self::wall) or [`measurement`](Self::measurement).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let mut table = TimingTable::new("t");
/// let sum = table.row("suma").workers(1).reference_secs(0.5).measure(|| (1..=10).sum::<i32>());
/// assert_eq!(sum, 55);
/// assert_eq!(table.rows().len(), 1);
/// ```
#[must_use = "the row is only added by measure(), wall() or measurement()"]
pub struct RowBuilder<'t> {
    table: &'t mut TimingTable,
    row: TimingRow,
}

impl RowBuilder<'_> {
    /// How many workers ran this variant (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("x").workers(8).wall(Duration::from_millis(1));
    /// assert_eq!(table.rows()[0].workers, 8);
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.row.workers = workers;
        self
    }

    /// A time to compare with, e.g. the course document's Python figure.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("x").reference(Duration::from_secs(5)).wall(Duration::from_millis(10));
    /// assert!(table.to_string().contains("500.0×"));
    /// ```
    pub fn reference(mut self, reference: Duration) -> Self {
        self.row.reference = Some(reference);
        self
    }

    /// [`reference`](Self::reference) in seconds, as the documents print them.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("x").reference_secs(0.3721).wall(Duration::from_millis(40));
    /// assert_eq!(table.rows()[0].reference, Some(Duration::from_secs_f64(0.3721)));
    /// ```
    pub fn reference_secs(self, seconds: f64) -> Self {
        self.reference(Duration::from_secs_f64(seconds.max(0.0)))
    }

    /// Runs and times `work` (wall and CPU), adds the row, and returns `work`'s value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// let squares = table.row("par_map").workers(2).measure(|| par_map(|x: u32| x * x, 0..4u32))?;
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// assert!(table.rows()[0].cpu.is_some());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn measure<R>(self, work: impl FnOnce() -> R) -> R {
        let (value, m) = measure(work);
        self.measurement(m);
        value
    }

    /// Adds the row with a measurement taken elsewhere (e.g. by a [`Timer`](crate::Timer)).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut temp = Timer::start();
    /// let _ = (0..1000u64).sum::<u64>();
    /// let mut table = TimingTable::new("t");
    /// table.row("suma").measurement(temp.stop());
    /// assert_eq!(table.rows()[0].wall, temp.elapsed());
    /// ```
    pub fn measurement(mut self, m: Measurement) {
        self.row.wall = m.wall;
        self.row.cpu = Some(m.cpu.total());
        self.table.rows.push(self.row);
    }

    /// Adds the row with a wall time alone (no CPU column).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("documento").wall(Duration::from_secs_f64(0.2990));
    /// assert_eq!(table.rows()[0].cpu, None);
    /// ```
    pub fn wall(mut self, wall: Duration) {
        self.row.wall = wall;
        self.table.rows.push(self.row);
    }
}
