//! `Barrier`: N parties wait for each other.

use std::time::{Duration, Instant};

use super::monitor::Monitor;
use crate::{Error, ErrorKind, Result};

const PARTIES: usize = 0;
const WAITING: usize = 1;
const GENERATION: usize = 2;
const BROKEN: usize = 3;

/// A meeting point for a fixed number of processes or threads, like Python's
/// `multiprocessing.Barrier`: each [`wait`](Self::wait) blocks until `parties` callers are
/// waiting, then all go on. It can be used again for the next round.
///
/// A wait that times out breaks the barrier (as in Python): every waiter, present and
/// future, gets an error instead of waiting for a party that will not come.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let barrier = Barrier::new(2)?;
/// let other = barrier.clone();
/// let p = Process::new(move || {
///     other.wait().unwrap();
/// });
/// p.start()?;
/// let index = barrier.wait()?; // returns once the child is there too
/// assert!(index < 2);
/// p.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Barrier {
    monitor: Monitor,
}

impl Barrier {
    /// A barrier for `parties` callers.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let b = Barrier::new(1)?;
    /// assert_eq!(b.wait()?, 0); // one party: nobody to wait for
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for 0 parties; [`ErrorKind::Os`] when shared memory
    /// could not be mapped.
    pub fn new(parties: usize) -> Result<Self> {
        if parties == 0 {
            return Err(Error::invalid_argument("a barrier needs at least 1 party"));
        }
        Ok(Barrier {
            monitor: Monitor::new(&[parties as u64, 0, 0, 0])?,
        })
    }

    /// The number of parties.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Barrier::new(3)?.parties(), 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn parties(&self) -> usize {
        self.monitor.peek(PARTIES) as usize
    }

    /// Waits until every party has called `wait`. Returns a number from 0 to `parties - 1`,
    /// different for each caller of the round (Python's return value).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let b = Barrier::new(2)?;
    /// let other = b.clone();
    /// let t = std::thread::spawn(move || other.wait().unwrap());
    /// let mine = b.wait()?;
    /// let theirs = t.join().unwrap();
    /// assert_ne!(mine, theirs);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the barrier is broken (a wait timed out).
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn wait(&self) -> Result<usize> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` — which breaks the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2)?;
    /// assert!(barrier.wait_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// assert_eq!(barrier.wait().unwrap_err().kind(), ErrorKind::InvalidState); // broken
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when the other parties did not come in time, or as
    /// [`wait`](Self::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    fn broken() -> Error {
        Error::new(
            ErrorKind::InvalidState,
            "the barrier is broken: a wait timed out (Python raises BrokenBarrierError)",
        )
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<usize> {
        let epoch = crate::interrupt::epoch();
        let m = &self.monitor;
        let held = m.lock()?;
        if m.get(&held, BROKEN) != 0 {
            return Err(Self::broken());
        }
        let generation = m.get(&held, GENERATION);
        let index = m.get(&held, WAITING);
        if index + 1 == m.get(&held, PARTIES) {
            m.set(&held, WAITING, 0);
            m.set(&held, GENERATION, generation + 1);
            drop(held);
            m.notify_all();
            return Ok(index as usize);
        }
        m.set(&held, WAITING, index + 1);
        while m.get(&held, GENERATION) == generation {
            if m.get(&held, BROKEN) != 0 {
                return Err(Self::broken());
            }
            if m.wait(&held, deadline, epoch)? && m.get(&held, GENERATION) == generation {
                m.set(&held, BROKEN, 1);
                drop(held);
                m.notify_all();
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "not every party reached the barrier before the timeout; it is now broken",
                ));
            }
        }
        Ok(index as usize)
    }
}
