//! `Timer`: the documents' `Temporizador`, a stopwatch for wall and CPU time.

use std::time::{Duration, Instant};

use super::{CpuTimes, MachineCpu, Measurement, format_time, load_between};

/// A stopwatch for wall-clock and CPU time: the course's `Temporizador`.
///
/// Python's
///
/// ```python
/// with Temporizador() as temp:
///     tarea(1000, 2000, resultado)
/// print(f"Tiempo: {temp.ver_tiempo():.4f} s")
/// ```
///
/// is, in Rust:
///
/// ```
/// use paralelo::prelude::*;
///
/// let mut temp = Temporizador::start();
/// let resultado: u64 = (1000..2000u64).sum();
/// temp.stop();
/// println!("Tiempo: {:.4} s", temp.ver_tiempo());
/// # assert_eq!(resultado, 1_499_500);
/// ```
///
/// Around a closure, [`Timer::run`] returns the value and the stopped timer; as a guard,
/// [`Timer::report`] prints the time when it goes out of scope.
#[derive(Debug, Clone)]
pub struct Timer {
    start: Instant,
    cpu_start: CpuTimes,
    machine_start: Option<MachineCpu>,
    stopped: Option<Measurement>,
}

/// The course documents' name for [`Timer`].
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let temp = Temporizador::start();
/// println!("Tiempo total: {:.4} s", temp.ver_tiempo());
/// ```
pub type Temporizador = Timer;

impl Timer {
    /// Starts timing now.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let timer = Timer::start();
    /// assert!(timer.elapsed() < std::time::Duration::from_secs(60));
    /// ```
    pub fn start() -> Self {
        let machine_start = MachineCpu::now();
        let cpu_start = CpuTimes::now();
        Timer {
            start: Instant::now(),
            cpu_start,
            machine_start,
            stopped: None,
        }
    }

    /// Runs `work` under a timer and returns its value with the stopped timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (total, timer) = Timer::run(|| (1..=10u32).sum::<u32>());
    /// assert_eq!(total, 55);
    /// println!("{:.4} s", timer.secs());
    /// ```
    pub fn run<R>(work: impl FnOnce() -> R) -> (R, Timer) {
        let mut timer = Timer::start();
        let value = work();
        timer.stop();
        (value, timer)
    }

    /// A guard that prints `label: <time>` when it goes out of scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// {
    ///     let _t = Timer::report("suma");
    ///     let _ = (1..1000u32).sum::<u32>();
    /// } // prints "suma: 1.2 µs"
    /// ```
    pub fn report(label: impl Into<String>) -> TimerReport {
        TimerReport {
            label: label.into(),
            timer: Timer::start(),
        }
    }

    /// Stops the timer (the first call wins) and returns what it measured.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut t = Timer::start();
    /// let first = t.stop();
    /// assert_eq!(t.stop(), first);
    /// assert_eq!(t.elapsed(), first.wall);
    /// ```
    pub fn stop(&mut self) -> Measurement {
        if let Some(m) = self.stopped {
            return m;
        }
        let m = self.measure_now();
        self.stopped = Some(m);
        m
    }

    /// What the timer measured: up to [`stop`](Self::stop), or up to now while running.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let t = Timer::start();
    /// let m = t.measurement();
    /// assert!(m.wall <= t.elapsed());
    /// ```
    pub fn measurement(&self) -> Measurement {
        self.stopped.unwrap_or_else(|| self.measure_now())
    }

    fn measure_now(&self) -> Measurement {
        let wall = self.start.elapsed();
        let cpu = CpuTimes::now().since(&self.cpu_start);
        let machine = load_between(self.machine_start, MachineCpu::now(), wall);
        Measurement { wall, cpu, machine }
    }

    /// Wall-clock time: up to [`stop`](Self::stop), or up to now while running.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start();
    /// std::thread::sleep(Duration::from_millis(5));
    /// assert!(t.elapsed() >= Duration::from_millis(5));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.stopped
            .map_or_else(|| self.start.elapsed(), |m| m.wall)
    }

    /// [`elapsed`](Self::elapsed) in seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (_, t) = Timer::run(|| std::thread::sleep(std::time::Duration::from_millis(5)));
    /// assert!(t.secs() >= 0.005);
    /// ```
    pub fn secs(&self) -> f64 {
        self.elapsed().as_secs_f64()
    }

    /// [`secs`](Self::secs) under the course's name (`temp.ver_tiempo()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut temp = Temporizador::start();
    /// temp.stop();
    /// assert_eq!(temp.ver_tiempo(), temp.secs());
    /// ```
    pub fn ver_tiempo(&self) -> f64 {
        self.secs()
    }
}

/// The guard returned by [`Timer::report`]: prints its label and the time on drop.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let guard = Timer::report("fase 1");
/// drop(guard); // prints "fase 1: …"
/// ```
#[derive(Debug)]
#[must_use = "the time is printed when this guard is dropped; bind it with `let _t = …`"]
pub struct TimerReport {
    label: String,
    timer: Timer,
}

impl Drop for TimerReport {
    fn drop(&mut self) {
        println!("{}: {}", self.label, format_time(self.timer.elapsed()));
    }
}
