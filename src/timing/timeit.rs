//! `timeit`: IPython's `%timeit` — automatic loop count, 7 runs, `mean ± std` line.

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use super::format::format_seconds;
use super::{CpuTimes, MachineCpu, load_between};

/// Options of [`timeit_with`], the flags of IPython's `%timeit`.
///
/// # Examples
///
/// ```
/// use paralelo::timing::TimeitOptions;
///
/// let opts = TimeitOptions { loops: Some(100), quiet: true, ..TimeitOptions::default() };
/// assert_eq!(opts.repeat, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeitOptions {
    /// Loops per run (`-n`). `None`: IPython's rule, ×10 until one run takes ≥ 0.2 s.
    pub loops: Option<u64>,
    /// Runs (`-r`), 7 by default.
    pub repeat: u32,
    /// Significant digits of the printed times (`-p`), 3 by default.
    pub precision: usize,
    /// Print nothing (`-q`).
    pub quiet: bool,
}

impl Default for TimeitOptions {
    fn default() -> Self {
        TimeitOptions {
            loops: None,
            repeat: 7,
            precision: 3,
            quiet: false,
        }
    }
}

/// What [`timeit`] measured (IPython's `TimeitResult`, from `%timeit -o`).
///
/// Its `Display` is IPython's line:
/// `12.3 ms ± 150 µs per loop (mean ± std. dev. of 7 runs, 10 loops each)`.
///
/// # Examples
///
/// ```
/// use paralelo::timing::{TimeitOptions, timeit_with};
///
/// let opts = TimeitOptions { loops: Some(1000), quiet: true, ..Default::default() };
/// let r = timeit_with(&opts, || 2 + 2);
/// assert!(r.to_string().ends_with("per loop (mean ± std. dev. of 7 runs, 1,000 loops each)"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimeitResult {
    /// Loops per run.
    pub loops: u64,
    /// Number of runs.
    pub repeat: u32,
    /// Total time of each run (all its loops).
    pub all_runs: Vec<Duration>,
    /// Fastest time per loop.
    pub best: Duration,
    /// Slowest time per loop.
    pub worst: Duration,
    /// Mean time per loop.
    pub average: Duration,
    /// Standard deviation of the time per loop, over the runs (population, as IPython).
    pub stdev: Duration,
    /// Significant digits used by `Display`.
    pub precision: usize,
    /// The share of the CPUs (0.0 to 1.0) other programs took during the timed runs, when
    /// the system tells (see [`Measurement::others_share`](crate::timing::Measurement::others_share)).
    pub others_share: Option<f64>,
    /// [`others_share`](Self::others_share) when it makes the runs a busy machine's (at least
    /// [`BUSY_THRESHOLD`](crate::timing::BUSY_THRESHOLD)); `timeit` then prints a note under
    /// IPython's line.
    pub busy_share: Option<f64>,
}

impl TimeitResult {
    fn from_runs(loops: u64, all_runs: Vec<Duration>, precision: usize) -> Self {
        let per_loop: Vec<f64> = all_runs
            .iter()
            .map(|r| r.as_secs_f64() / loops as f64)
            .collect();
        let n = per_loop.len().max(1) as f64;
        let mean = per_loop.iter().sum::<f64>() / n;
        let variance = per_loop.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n;
        let best = per_loop.iter().copied().fold(f64::INFINITY, f64::min);
        let worst = per_loop.iter().copied().fold(0.0, f64::max);
        TimeitResult {
            loops,
            repeat: all_runs.len() as u32,
            best: Duration::from_secs_f64(if best.is_finite() { best } else { 0.0 }),
            worst: Duration::from_secs_f64(worst),
            average: Duration::from_secs_f64(mean),
            stdev: Duration::from_secs_f64(variance.sqrt()),
            all_runs,
            precision,
            others_share: None,
            busy_share: None,
        }
    }
}

impl fmt::Display for TimeitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ± {} per loop (mean ± std. dev. of {} run{}, {} loop{} each)",
            format_seconds(self.average.as_secs_f64(), self.precision),
            format_seconds(self.stdev.as_secs_f64(), self.precision),
            self.repeat,
            if self.repeat == 1 { "" } else { "s" },
            with_thousands(self.loops),
            if self.loops == 1 { "" } else { "s" },
        )
    }
}

/// `1234567` → `1,234,567`, as Python's `{:,}`.
fn with_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Times `work` as IPython's `%timeit` does and prints its line.
///
/// The loop count grows ×10 (1, 10, 100, …) until one run takes at least 0.2 s; then 7
/// runs of that many loops are timed. The value of `work` is passed through
/// [`black_box`] so the compiler cannot skip the work.
///
/// # Examples
///
/// ```no_run
/// use paralelo::prelude::*;
///
/// let r = timeit(|| (0..1000u64).map(|x| x * x).sum::<u64>());
/// // 612 ns ± 4.1 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)
/// assert_eq!(r.repeat, 7);
/// ```
pub fn timeit<R>(work: impl FnMut() -> R) -> TimeitResult {
    timeit_with(&TimeitOptions::default(), work)
}

/// [`timeit`] with options: loops (`-n`), runs (`-r`), precision (`-p`), quiet (`-q`).
///
/// # Examples
///
/// ```
/// use paralelo::timing::{TimeitOptions, timeit_with};
///
/// let opts = TimeitOptions { loops: Some(10), repeat: 3, quiet: true, ..Default::default() };
/// let r = timeit_with(&opts, || (0..100u32).sum::<u32>());
/// assert_eq!((r.loops, r.repeat, r.all_runs.len()), (10, 3, 3));
/// assert!(r.best <= r.average && r.average <= r.worst);
/// ```
pub fn timeit_with<R>(options: &TimeitOptions, mut work: impl FnMut() -> R) -> TimeitResult {
    let mut run = |loops: u64| {
        let start = Instant::now();
        for _ in 0..loops {
            black_box(work());
        }
        start.elapsed()
    };
    let loops = options.loops.unwrap_or_else(|| {
        let mut loops = 1;
        for power in 0..10 {
            loops = 10u64.pow(power);
            if run(loops) >= Duration::from_millis(200) {
                break;
            }
        }
        loops
    });
    let machine_before = MachineCpu::now();
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let all_runs = (0..options.repeat.max(1)).map(|_| run(loops)).collect();
    let wall = started.elapsed();
    let ours = CpuTimes::now().since(&cpu_before);
    let load = load_between(machine_before, MachineCpu::now(), wall);
    let mut result = TimeitResult::from_runs(loops, all_runs, options.precision);
    result.others_share = load.map(|l| l.others_share(&ours));
    result.busy_share = load.and_then(|l| l.busy_share(&ours, wall));
    if !options.quiet {
        let (best, worst) = (result.best.as_secs_f64(), result.worst.as_secs_f64());
        if worst > 4.0 * best && best > 0.0 && worst > 1e-6 {
            println!(
                "The slowest run took {:.2} times longer than the fastest. This could mean \
                 that an intermediate result is being cached.",
                worst / best
            );
        }
        println!("{result}");
        if let Some(share) = result.busy_share {
            println!(
                "Busy machine: other programs used {:.0} % of the CPUs during these runs; \
                 times are longer than on an idle machine.",
                100.0 * share
            );
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_ipython() {
        let runs = vec![Duration::from_millis(123); 7];
        let r = TimeitResult::from_runs(10, runs, 3);
        assert_eq!(
            r.to_string(),
            "12.3 ms ± 0 ns per loop (mean ± std. dev. of 7 runs, 10 loops each)"
        );
        let one = TimeitResult::from_runs(1_000_000, vec![Duration::from_millis(500)], 3);
        assert_eq!(
            one.to_string(),
            "500 ns ± 0 ns per loop (mean ± std. dev. of 1 run, 1,000,000 loops each)"
        );
    }

    #[test]
    fn population_stdev() {
        let runs = [1.0, 2.0, 3.0, 4.0].map(Duration::from_secs_f64).to_vec();
        let r = TimeitResult::from_runs(1, runs, 3);
        assert_eq!(r.average, Duration::from_secs_f64(2.5));
        assert!((r.stdev.as_secs_f64() - 1.25f64.sqrt()).abs() < 1e-9);
        assert_eq!(
            (r.best, r.worst),
            (Duration::from_secs(1), Duration::from_secs(4))
        );
    }

    #[test]
    fn thousands() {
        assert_eq!(with_thousands(1), "1");
        assert_eq!(with_thousands(1000), "1,000");
        assert_eq!(with_thousands(10_000_000), "10,000,000");
    }
}
