//! `TimingTable`: measurements side by side, with speedup, efficiency and a reference column.

use std::fmt;
use std::time::Duration;

mod json;
mod plot;
mod render;
mod row;
mod words;

pub use json::TIMING_ATTRIBUTE;
pub use plot::TimingPlot;
pub use row::RowBuilder;
pub(crate) use words::Language;

/// A table of timings: one row per variant of the same work, compared with a baseline row.
///
/// Columns: Variant · Workers · Wall · CPU · Speedup (baseline wall ÷ this wall) ·
/// Efficiency (speedup ÷ workers); with rows measured more than once, Runs and Min–max
/// beside Wall (which is then the median); and, when any row has one, the reference time
/// (such as the course document's Python figure) with the ratio reference ÷ wall.
///
/// **Repeated runs.** [`RowBuilder::measure`] follows IPython's rule: short work runs again
/// until the runs add up to 0.2 s, at most 7 times; work of 0.2 s or more runs once. Wall
/// and CPU are the runs' medians, and speedup and efficiency use them.
/// [`RowBuilder::measure_once`] runs the work exactly once.
///
/// **Busy machine.** Every measured row knows what share of the CPUs other programs took
/// while it ran (see [`Measurement::others_share`](crate::timing::Measurement::others_share)).
/// When it reaches [`BUSY_THRESHOLD`](crate::timing::BUSY_THRESHOLD) (25 %), a note under
/// the table names the row and the share: `busy machine: other programs used 48 % of the
/// CPUs during «dos hilos»…`. Such a row's speedup says little about the code.
///
/// **Language.** English by default; [`language("es")`](Self::language) gives Spanish
/// headers and notes (and decimal commas).
///
/// It prints as text (`Display`, for the REPL and CI logs) and as HTML in Jupyter
/// (`evcxr_display`, called by the kernel when the table is a cell's value, or
/// [`display`](crate::display::display)); the HTML carries the figures as JSON
/// ([`TIMING_ATTRIBUTE`]) for tools that check them. [`plot`](Self::plot) draws it.
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
/// table.language("es");
/// let uno = table.row("un hilo").workers(1).reference_secs(0.3721)
///     .measure(|| (1000..2000).map(factorial).collect::<Vec<_>>());
/// let dos = table.row("par_map, 2 hilos").workers(2).reference_secs(0.4132)
///     .measure(|| par_map(factorial, 1000..2000u64))?;
/// assert_eq!(uno, dos);
/// println!("{table}");
/// assert!(table.speedup("par_map, 2 hilos").unwrap() > 0.0);
/// assert!(table.to_string().contains("Aceleración"));
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TimingTable {
    title: Option<String>,
    rows: Vec<TimingRow>,
    baseline: Option<String>,
    reference_label: Option<String>,
    language: Language,
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
/// assert_eq!(row.runs, [Duration::from_millis(5)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimingRow {
    /// What was measured.
    pub name: String,
    /// How many workers ran it (1 for sequential code).
    pub workers: usize,
    /// Elapsed real time: the median of [`runs`](Self::runs).
    pub wall: Duration,
    /// CPU time of this process and its children (the median over the runs), when it was
    /// measured.
    pub cpu: Option<Duration>,
    /// A time to compare with, such as the course document's Python figure.
    pub reference: Option<Duration>,
    /// The wall time of every run, in the order they ran (one for a row measured once).
    pub runs: Vec<Duration>,
    /// The share of the CPUs (0.0 to 1.0) other programs took during the runs, when measured.
    pub others_share: Option<f64>,
    /// [`others_share`](Self::others_share) when it made the machine busy (at least
    /// [`BUSY_THRESHOLD`](crate::timing::BUSY_THRESHOLD)); the table then adds a note.
    pub busy_share: Option<f64>,
}

impl TimingRow {
    /// The fastest run's wall time.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("x").measure(|| (0..1000u32).sum::<u32>());
    /// let row = &table.rows()[0];
    /// assert!(row.min() <= row.wall && row.wall <= row.max());
    /// ```
    pub fn min(&self) -> Duration {
        self.runs.iter().copied().min().unwrap_or(self.wall)
    }

    /// The slowest run's wall time.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("x").wall(Duration::from_secs(1));
    /// assert_eq!(table.rows()[0].max(), Duration::from_secs(1));
    /// ```
    pub fn max(&self) -> Duration {
        self.runs.iter().copied().max().unwrap_or(self.wall)
    }
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
    /// closure, repeating short work), [`RowBuilder::measure_once`], or
    /// [`RowBuilder::wall`] / [`RowBuilder::measurement`] (a time measured elsewhere).
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
        RowBuilder::new(self, name.into())
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

    /// The language of headers and notes: `"es"` (or `"es-…"`) for Spanish, anything else
    /// for English (the default). Spanish numbers have a decimal comma.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.language("es");
    /// table.row("un hilo").wall(Duration::from_millis(40));
    /// table.row("dos hilos").workers(2).wall(Duration::from_millis(25));
    /// let text = table.to_string();
    /// assert!(text.contains("Variante") && text.contains("Tiempo real") && text.contains("1,60×"));
    /// ```
    pub fn language(&mut self, code: &str) -> &mut Self {
        self.language = Language::from_code(code);
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

    /// The rows measured on a busy machine, with the share of the CPUs others took.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.row("a").wall(Duration::from_millis(1)); // not measured here: never busy
    /// assert!(table.busy_rows().is_empty());
    /// ```
    pub fn busy_rows(&self) -> Vec<(&str, f64)> {
        self.rows
            .iter()
            .filter_map(|r| Some((r.name.as_str(), r.busy_share?)))
            .collect()
    }

    /// Shows the table in Jupyter as HTML, with the text version for other front ends.
    ///
    /// evcxr calls this when the table is the value of a cell; call it yourself to show a
    /// table from the middle of a cell. Outside Jupyter it prints evcxr's content markers
    /// around each form.
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

    /// The baseline's wall time divided by this row's (medians), or `None` without such a row.
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

    fn efficiency_of(&self, row: &TimingRow) -> Option<f64> {
        Some(self.speedup_of(row)? / row.workers.max(1) as f64)
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
