//! `Semaphore`: at most N holders at once.

use std::time::{Duration, Instant};

use super::monitor::Monitor;
use crate::{Error, ErrorKind, Result};

const VALUE: usize = 0;
const BOUND: usize = 1;

/// A counter of free places shared by processes and threads, like Python's
/// `multiprocessing.BoundedSemaphore`: at most `value` holders at once.
///
/// [`acquire`](Self::acquire) takes a place (waiting while there is none) and returns a
/// guard that gives it back when dropped, so the count can never go above its start (the
/// bounded semaphore's promise).
///
/// A process killed while holding a place does not give it back (as in Python); keep
/// timeouts on `acquire` where that matters.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let sem = Semaphore::new(2)?;
/// let a = sem.acquire()?;
/// let b = sem.acquire()?;
/// assert!(sem.try_acquire()?.is_none()); // both places taken
/// drop(a);
/// assert!(sem.try_acquire()?.is_some());
/// # drop(b);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Semaphore {
    monitor: Monitor,
}

/// One place of a [`Semaphore`]; dropping it gives the place back.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let sem = Semaphore::new(1)?;
/// {
///     let _place = sem.acquire()?;
///     assert_eq!(sem.get_value(), 0);
/// }
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "the place is given back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Ok(held) = self.sem.monitor.lock() {
            let v = self.sem.monitor.get(&held, VALUE);
            self.sem.monitor.set(&held, VALUE, v + 1);
            drop(held);
            self.sem.monitor.notify_all();
        }
    }
}

impl Semaphore {
    /// A semaphore with `value` free places (Python's `Semaphore(value)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let sem = Semaphore::new(3)?;
    /// assert_eq!(sem.get_value(), 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`] when shared memory could not be mapped.
    pub fn new(value: usize) -> Result<Self> {
        Ok(Semaphore {
            monitor: Monitor::new(&[value as u64, value as u64])?,
        })
    }

    /// Takes a place, waiting until one is free.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let sem = Semaphore::new(2)?;
    /// let procs: Vec<Process> = (0..4)
    ///     .map(|i| {
    ///         let sem = sem.clone();
    ///         Process::new(move || {
    ///             let _place = sem.acquire().unwrap(); // at most 2 inside at once
    ///             println!("proceso {i} dentro");
    ///         })
    ///     })
    ///     .collect();
    /// for p in &procs {
    ///     p.start()?;
    /// }
    /// for p in &procs {
    ///     p.join()?;
    /// }
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`] if the shared lock fails.
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn acquire(&self) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(None)
    }

    /// Like [`acquire`](Self::acquire), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(1)?;
    /// let _g = sem.acquire()?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when no place freed up in time.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(Some(Instant::now() + timeout))
    }

    /// Takes a place if one is free, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let sem = Semaphore::new(1)?;
    /// let first = sem.try_acquire()?;
    /// assert!(first.is_some());
    /// assert!(sem.try_acquire()?.is_none());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    pub fn try_acquire(&self) -> Result<Option<SemaphoreGuard<'_>>> {
        match self.acquire_until(Some(Instant::now())) {
            Ok(g) => Ok(Some(g)),
            Err(e) if e.is_timeout() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Result<SemaphoreGuard<'_>> {
        let epoch = crate::interrupt::epoch();
        let held = self.monitor.lock()?;
        loop {
            let v = self.monitor.get(&held, VALUE);
            if v > 0 {
                self.monitor.set(&held, VALUE, v - 1);
                return Ok(SemaphoreGuard { sem: self });
            }
            if self.monitor.wait(&held, deadline, epoch)? {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "no place of the semaphore became free before the timeout",
                ));
            }
        }
    }

    /// The number of free places now (Python's `get_value()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let sem = Semaphore::new(3)?;
    /// let _g = sem.acquire()?;
    /// assert_eq!(sem.get_value(), 2);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn get_value(&self) -> usize {
        self.monitor.peek(VALUE) as usize
    }

    /// The number of places it was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Semaphore::new(4)?.bound(), 4);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn bound(&self) -> usize {
        self.monitor.peek(BOUND) as usize
    }
}
