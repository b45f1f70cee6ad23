//! `Event`: a flag that processes can wait for.

use std::time::{Duration, Instant};

use super::monitor::Monitor;
use crate::Result;

/// A flag shared by processes and threads, like Python's `multiprocessing.Event`: some
/// wait until it is set, others set it.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use std::time::Duration;
///
/// let ready = Event::new()?;
/// let setter = ready.clone();
/// let p = Process::new(move || setter.set().unwrap());
/// p.start()?;
/// assert!(ready.wait_timeout(Duration::from_secs(10))?);
/// assert!(ready.is_set());
/// p.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    monitor: Monitor,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// assert!(!e.is_set());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn new() -> Result<Self> {
        Ok(Event {
            monitor: Monitor::new(&[0])?,
        })
    }

    /// True when the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// e.set()?;
    /// assert!(e.is_set());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.monitor.peek(0) != 0
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// e.set()?;
    /// e.wait()?; // returns at once
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) if the shared lock fails.
    pub fn set(&self) -> Result<()> {
        let held = self.monitor.lock()?;
        self.monitor.set(&held, 0, 1);
        drop(held);
        self.monitor.notify_all();
        Ok(())
    }

    /// Clears the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// e.set()?;
    /// e.clear()?;
    /// assert!(!e.is_set());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn clear(&self) -> Result<()> {
        let held = self.monitor.lock()?;
        self.monitor.set(&held, 0, 0);
        Ok(())
    }

    /// Waits until the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// let setter = e.clone();
    /// let p = Process::new(move || setter.set().unwrap());
    /// p.start()?;
    /// e.wait()?;
    /// p.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None).map(drop)
    }

    /// Waits at most `timeout` for the flag. True when it is set (Python's `wait(timeout)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let e = Event::new()?;
    /// assert!(!e.wait_timeout(std::time::Duration::from_millis(5))?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let epoch = crate::interrupt::epoch();
        let held = self.monitor.lock()?;
        while self.monitor.get(&held, 0) == 0 {
            if self.monitor.wait(&held, deadline, epoch)? {
                return Ok(self.monitor.get(&held, 0) != 0);
            }
        }
        Ok(true)
    }
}
