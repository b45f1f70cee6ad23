//! `measure` and `time`: wall and CPU time of one run, printed as IPython's `%%time` does.

use std::fmt;
use std::time::{Duration, Instant};

use super::{CpuTimes, format_time};

/// Wall-clock and CPU time of one piece of work.
///
/// Its `Display` is what IPython's `%%time` prints, plus a line for the CPU time of child
/// processes when there was any:
///
/// ```text
/// CPU times: user 1.21 s, sys: 8.2 ms, total: 1.22 s
/// Wall time: 640 ms
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
            cpu: CpuTimes::default(),
        }
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
        writeln!(f, "Wall time: {}", format_time(self.wall))
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
    let cpu_before = CpuTimes::now();
    let start = Instant::now();
    let value = work();
    let wall = start.elapsed();
    (
        value,
        Measurement {
            wall,
            cpu: CpuTimes::now().since(&cpu_before),
        },
    )
}

/// Runs `work`, prints its CPU and wall time as IPython's `%%time` does, and returns its value.
///
/// The CPU time is the whole process's (every thread, so a parallel map shows more CPU than
/// wall time), plus a separate line for child processes that ended meanwhile.
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
