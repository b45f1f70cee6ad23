//! `RowBuilder`: one row of a timing table, measured here (repeating short work) or elsewhere.

use std::time::Duration;

use super::{TimingRow, TimingTable};
use crate::timing::{CpuTimes, MachineLoad, Measurement, measure};

/// Repeated runs stop once they add up to this much wall time (IPython's `%timeit` target).
const REPEAT_UNTIL: Duration = Duration::from_millis(200);
/// ... or after this many runs (IPython's default `-r`).
const MAX_RUNS: usize = 7;

/// A row being added to a [`TimingTable`]; it is added by [`measure`](Self::measure),
/// [`measure_once`](Self::measure_once), [`wall`](Self::wall) or
/// [`measurement`](Self::measurement).
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
#[must_use = "the row is only added by measure(), measure_once(), wall() or measurement()"]
pub struct RowBuilder<'t> {
    table: &'t mut TimingTable,
    row: TimingRow,
}

impl<'t> RowBuilder<'t> {
    pub(super) fn new(table: &'t mut TimingTable, name: String) -> Self {
        RowBuilder {
            table,
            row: TimingRow {
                name,
                workers: 1,
                wall: Duration::ZERO,
                cpu: None,
                reference: None,
                runs: Vec::new(),
                others_share: None,
                busy_share: None,
            },
        }
    }

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

    /// Runs and times `work` (wall and CPU), repeating short work as IPython does, adds the
    /// row, and returns the last run's value.
    ///
    /// Work that takes 0.2 s or more runs once; shorter work runs again until the runs add up
    /// to 0.2 s, at most 7 times. The row shows the median run with the fastest and the
    /// slowest; a run's value is dropped after the next run, outside the timing. For work
    /// that must not run twice (it consumes something, or prints), use
    /// [`measure_once`](Self::measure_once).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// let squares = table.row("par_map").workers(2).measure(|| par_map(|x: u32| x * x, 0..4u32))?;
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// let row = &table.rows()[0];
    /// assert!(row.cpu.is_some() && (1..=7).contains(&row.runs.len()));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn measure<R>(self, mut work: impl FnMut() -> R) -> R {
        let mut runs: Vec<Measurement> = Vec::new();
        let mut last: Option<R> = None;
        let mut total = Duration::ZERO;
        loop {
            let (value, m) = measure(&mut work);
            // The previous run's value goes now, between runs: its drop is not timed.
            drop(last.replace(value));
            total += m.wall;
            runs.push(m);
            if total >= REPEAT_UNTIL || runs.len() >= MAX_RUNS {
                break;
            }
        }
        self.runs(&runs);
        last.expect("the loop runs the work at least once")
    }

    /// Runs and times `work` exactly once, adds the row, and returns `work`'s value.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut table = TimingTable::new("t");
    /// let datos = vec![3, 1, 2];
    /// let ordenados = table.row("ordenar").measure_once(move || { let mut d = datos; d.sort(); d });
    /// assert_eq!(ordenados, [1, 2, 3]);
    /// assert_eq!(table.rows()[0].runs.len(), 1);
    /// ```
    pub fn measure_once<R>(self, work: impl FnOnce() -> R) -> R {
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
    pub fn measurement(self, m: Measurement) {
        self.runs(&[m]);
    }

    /// Adds the row with a wall time alone (no CPU column, no busy-machine check).
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
        self.row.runs = vec![wall];
        self.table.rows.push(self.row);
    }

    /// Adds the row from its runs: medians, and the machine's load over all of them.
    fn runs(mut self, runs: &[Measurement]) {
        let walls: Vec<Duration> = runs.iter().map(|m| m.wall).collect();
        let cpus: Vec<Duration> = runs.iter().map(|m| m.cpu.total()).collect();
        self.row.wall = median(&walls);
        self.row.cpu = Some(median(&cpus));
        self.row.runs = walls;
        let wall_total: Duration = runs.iter().map(|m| m.wall).sum();
        let ours = runs
            .iter()
            .map(|m| m.cpu)
            .fold(CpuTimes::default(), |a, b| CpuTimes {
                user: a.user + b.user,
                system: a.system + b.system,
                children_user: a.children_user + b.children_user,
                children_system: a.children_system + b.children_system,
            });
        let load: Option<MachineLoad> = runs
            .iter()
            .map(|m| m.machine)
            .try_fold(MachineLoad::default(), |a, b| Some(a.plus(&b?)));
        self.row.others_share = load.map(|l| l.others_share(&ours));
        self.row.busy_share = load.and_then(|l| l.busy_share(&ours, wall_total));
        self.table.rows.push(self.row);
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
