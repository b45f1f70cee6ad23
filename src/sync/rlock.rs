//! `RLock`: a lock its holder may take again.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::lock::{acquire_interruptibly, guard_timeout, mutex_in_new_region};
use crate::Result;
use crate::sys::{RawMutex, Relock};

/// A re-entrant lock, like Python's `multiprocessing.RLock`: the thread that holds it may
/// acquire it again (nested calls), and it is free once every guard has been dropped.
///
/// Shared by processes and threads like [`Lock`](crate::Lock), and robust like it: a holder
/// that dies does not leave it stuck.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let lock = RLock::new()?;
/// let outer = lock.acquire()?;
/// let inner = lock.acquire()?; // the same thread: no deadlock
/// drop(inner);
/// drop(outer);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RLock {
    mutex: RawMutex,
}

/// Proof that an [`RLock`] is held (once more); dropping it releases one level.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let lock = RLock::new()?;
/// let _outer = lock.acquire()?;
/// let _inner = lock.acquire()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RLockGuard<'a> {
    mutex: &'a RawMutex,
    owner_died: bool,
    _not_send: PhantomData<*const ()>,
}

impl RLockGuard<'_> {
    /// True when the previous holder died while holding the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = RLock::new()?;
    /// assert!(!lock.acquire()?.previous_owner_died());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn previous_owner_died(&self) -> bool {
        self.owner_died
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl RLock {
    /// A new, unlocked re-entrant lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = RLock::new()?;
    /// drop(lock.acquire()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn new() -> Result<Self> {
        Ok(RLock {
            mutex: mutex_in_new_region(true)?,
        })
    }

    fn guard(&self, relock: Relock) -> RLockGuard<'_> {
        RLockGuard {
            mutex: &self.mutex,
            owner_died: relock == Relock::OwnerDied,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock, waiting while another process or thread holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = RLock::new()?;
    /// let a = lock.acquire()?;
    /// let b = lock.acquire()?;
    /// drop((b, a));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) if the system refuses (too many nested levels).
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn acquire(&self) -> Result<RLockGuard<'_>> {
        Ok(self.guard(acquire_interruptibly(&self.mutex)?))
    }

    /// Like [`acquire`](Self::acquire), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = RLock::new()?;
    /// let _g = lock.acquire_timeout(std::time::Duration::from_secs(1))?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`](crate::ErrorKind) when it stayed held by someone else.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<RLockGuard<'_>> {
        match self.mutex.lock(Some(Instant::now() + timeout)) {
            Ok(relock) => Ok(self.guard(relock)),
            Err(e) if e.is_timeout() => Err(guard_timeout("rlock", timeout)),
            Err(e) => Err(e),
        }
    }

    /// Takes the lock if nobody else holds it, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = RLock::new()?;
    /// assert!(lock.try_acquire()?.is_some());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    pub fn try_acquire(&self) -> Result<Option<RLockGuard<'_>>> {
        Ok(self.mutex.try_lock()?.map(|relock| self.guard(relock)))
    }
}
