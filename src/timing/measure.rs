//! `measure` and `time`: wall and CPU time of one run, printed as IPython's `%%time` does.

use std::fmt;
use std::time::{Duration, Instant};

use super::busy::{MachineCpu, load_between};
use super::{CpuTimes, MachineLoad, format_time};

/// Below this wall time the "CPUs busy on average" line is left out: CPU time is counted in
/// ticks of 10 ms for child processes, so the ratio would mean nothing.
const AVERAGE_MIN_WALL: Duration = Duration::from_millis(10);

/// Wall-clock and CPU time of one piece of work.
///
/// Its `Display` is what IPython's `%%time` prints, plus a line for the CPU time of child
/// processes when there was any, then two lines of its own: how many CPUs were busy on
/// average (all CPU time, child processes included, ÷ wall time; from 10 ms of wall time),
/// and, when other programs took at least
/// [`BUSY_THRESHOLD`](crate::timing::BUSY_THRESHOLD) of the CPUs, a busy-machine note:
///
/// ```text
/// CPU times: user 1.21 s, sys: 8.2 ms, total: 1.22 s
/// Wall time: 640 ms
/// CPUs busy on average: 1.91 (CPU time ÷ wall time, child processes included)
/// Busy machine: other programs used 48 % of the CPUs meanwhile; times are longer than on an idle machine.
/// ```
///
/// # Examples
///
/// ```
/// use paralelo::timing::measure;
///
/// let (sum, m) = measure(|| (1..=100u64).sum::<u64>());
/// assert_eq!(sum, 5050);
/// assert!(m.to_string().starts_with("CPU times: user "));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measurement {
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time used meanwhile, by this process's threads and by its children.
    pub cpu: CpuTimes,
    /// What the whole machine's CPUs did meanwhile, for [`others_share`](Self::others_share);
    /// `None` when it was not measured (or the system does not tell).
    pub machine: Option<MachineLoad>,
}

impl Measurement {
    /// A measurement of wall time alone (for durations measured elsewhere).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::Measurement;
    /// use std::time::Duration;
    ///
    /// let m = Measurement::wall(Duration::from_millis(5));
    /// assert_eq!(m.cpu.total(), Duration::ZERO);
    /// ```
    pub fn wall(wall: Duration) -> Self {
        Measurement {
            wall,
            ..Measurement::default()
        }
    }

    /// The share of the CPUs (0.0 to 1.0) that other programs took meanwhile: the machine's
    /// busy time minus this process's and its children's, over wall time × CPUs.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::measure;
    ///
    /// let ((), m) = measure(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    /// let share = m.others_share().expect("Linux tells");
    /// assert!((0.0..=1.0).contains(&share));
    /// ```
    pub fn others_share(&self) -> Option<f64> {
        Some(self.machine?.others_share(&self.cpu))
    }

    /// [`others_share`](Self::others_share) when the machine was busy: at least
    /// [`BUSY_THRESHOLD`](crate::timing::BUSY_THRESHOLD) over at least
    /// [`BUSY_MIN_WALL`](crate::timing::BUSY_MIN_WALL).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::Measurement;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Measurement::wall(Duration::from_secs(1)).busy_share(), None);
    /// ```
    pub fn busy_share(&self) -> Option<f64> {
        self.machine?.busy_share(&self.cpu, self.wall)
    }

    /// How many CPUs were busy on average with this work: all its CPU time (threads and
    /// child processes) ÷ wall time. `None` for a zero wall time.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::{CpuTimes, Measurement};
    /// use std::time::Duration;
    ///
    /// let m = Measurement {
    ///     wall: Duration::from_secs(1),
    ///     cpu: CpuTimes { user: Duration::from_millis(1900), ..Default::default() },
    ///     machine: None,
    /// };
    /// assert_eq!(m.cpus_busy(), Some(1.9));
    /// ```
    pub fn cpus_busy(&self) -> Option<f64> {
        (!self.wall.is_zero()).then(|| self.cpu.total().as_secs_f64() / self.wall.as_secs_f64())
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.cpu;
        writeln!(
            f,
            "CPU times: user {}, sys: {}, total: {}",
            format_time(c.user),
            format_time(c.system),
            format_time(c.own())
        )?;
        if c.children() > Duration::ZERO {
            writeln!(
                f,
                "CPU times (child processes): user {}, sys: {}, total: {}",
                format_time(c.children_user),
                format_time(c.children_system),
                format_time(c.children())
            )?;
        }
        writeln!(f, "Wall time: {}", format_time(self.wall))?;
        if self.wall >= AVERAGE_MIN_WALL
            && let Some(cpus) = self.cpus_busy()
        {
            writeln!(
                f,
                "CPUs busy on average: {cpus:.2} (CPU time ÷ wall time, child processes included)"
            )?;
        }
        if let Some(share) = self.busy_share() {
            writeln!(
                f,
                "Busy machine: other programs used {:.0} % of the CPUs meanwhile; times are \
                 longer than on an idle machine.",
                100.0 * share
            )?;
        }
        Ok(())
    }
}

/// Runs `work` and returns its value with the wall and CPU time it took.
///
/// # Examples
///
/// ```
/// use paralelo::timing::measure;
/// use std::time::Duration;
///
/// let ((), m) = measure(|| std::thread::sleep(Duration::from_millis(20)));
/// assert!(m.wall >= Duration::from_millis(20));
/// ```
pub fn measure<R>(work: impl FnOnce() -> R) -> (R, Measurement) {
    let machine_before = MachineCpu::now();
    let cpu_before = CpuTimes::now();
    let start = Instant::now();
    let value = work();
    let wall = start.elapsed();
    let cpu = CpuTimes::now().since(&cpu_before);
    let machine = load_between(machine_before, MachineCpu::now(), wall);
    (value, Measurement { wall, cpu, machine })
}

/// Runs `work`, prints its CPU and wall time as IPython's `%%time` does, and returns its value.
///
/// The CPU time is the whole process's (every thread, so a parallel map shows more CPU than
/// wall time), plus a separate line for child processes; then the average number of CPUs
/// busy and, on a busy machine, a note (see [`Measurement`]).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let squares = time(|| par_map(|x: u64| x * x, 1..=1_000_000))?;
/// // CPU times: user 9.8 ms, sys: 1.1 ms, total: 10.9 ms
/// // Wall time: 5.2 ms
/// assert_eq!(squares[..5], [1, 4, 9, 16, 25]);
/// # Ok::<(), paralelo::Error>(())
/// ```
pub fn time<R>(work: impl FnOnce() -> R) -> R {
    let (value, measurement) = measure(work);
    print!("{measurement}");
    value
}
