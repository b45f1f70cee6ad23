//! `Lock`: a mutual-exclusion lock shared by processes and threads.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sys::{RawMutex, Relock, SharedRegion};
use crate::{Error, ErrorKind, Result};

/// A lock that one process or thread at a time holds, like Python's `multiprocessing.Lock`.
///
/// It lives in shared memory mapped before `fork`: clone it (or just capture it) into a
/// [`Process`](crate::Process)'s closure and parent and child exclude each other. Acquiring
/// returns a [`LockGuard`]; the lock is released when the guard is dropped, even on a panic.
///
/// If a process dies while holding the lock (killed, crashed), the lock is not stuck: the
/// next `acquire` gets it, and its guard's [`previous_owner_died`](LockGuard::previous_owner_died)
/// says so (a robust mutex, `EOWNERDEAD`). Acquiring it again from the thread that holds it
/// is an error instead of the deadlock Python gives.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let lock = Lock::new()?;
/// let procs: Vec<Process> = (0..5)
///     .map(|i| {
///         let lock = lock.clone();
///         Process::new(move || {
///             let _guard = lock.acquire().unwrap();
///             println!("Proceso {i} en ejecución");
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
#[derive(Clone, Debug)]
pub struct Lock {
    mutex: RawMutex,
}

/// Proof that a [`Lock`] is held; dropping it releases the lock.
///
/// It stays on the thread that acquired the lock (it is not `Send`): the lock must be
/// released by its owner.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let lock = Lock::new()?;
/// {
///     let _guard = lock.acquire()?; // held until the end of this block
/// }
/// assert!(lock.try_acquire()?.is_some());
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    mutex: &'a RawMutex,
    owner_died: bool,
    _not_send: PhantomData<*const ()>,
}

impl LockGuard<'_> {
    /// True when the previous holder died while holding the lock: whatever it protected
    /// may have been left half-updated.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = Lock::new()?;
    /// assert!(!lock.acquire()?.previous_owner_died());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn previous_owner_died(&self) -> bool {
        self.owner_died
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

pub(crate) fn mutex_in_new_region(recursive: bool) -> Result<RawMutex> {
    let region = Arc::new(SharedRegion::new(64)?);
    RawMutex::init(region, 0, recursive)
}

/// Locks `mutex`, waiting as long as needed, but in slices, so that an interrupt (the
/// notebook's stop button, see [`crate::interrupt`]) ends the wait with an error.
pub(crate) fn acquire_interruptibly(mutex: &RawMutex) -> Result<Relock> {
    let epoch = crate::interrupt::epoch();
    loop {
        match mutex.lock(Some(Instant::now() + Duration::from_millis(50))) {
            Err(e) if e.is_timeout() => {
                if crate::interrupt::happened_since(epoch) {
                    return Err(crate::interrupt::error());
                }
            }
            other => return other,
        }
    }
}

pub(crate) fn guard_timeout(what: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "could not acquire the {what} within {timeout:?}: another process or thread holds it"
        ),
    )
}

impl Lock {
    /// A new, unlocked lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = Lock::new()?;
    /// drop(lock.acquire()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`] when shared memory could not be mapped.
    pub fn new() -> Result<Self> {
        Ok(Lock {
            mutex: mutex_in_new_region(false)?,
        })
    }

    fn guard(&self, relock: Relock) -> LockGuard<'_> {
        LockGuard {
            mutex: &self.mutex,
            owner_died: relock == Relock::OwnerDied,
            _not_send: PhantomData,
        }
    }

    /// Waits until the lock is free and takes it (Python's `acquire()` / `with lock:`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = Lock::new()?;
    /// let guard = lock.acquire()?;
    /// assert!(lock.acquire().is_err()); // the same thread again: an error, not a deadlock
    /// drop(guard);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when this thread already holds it (waiting would be
    /// for ever).
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn acquire(&self) -> Result<LockGuard<'_>> {
        Ok(self.guard(acquire_interruptibly(&self.mutex)?))
    }

    /// Like [`acquire`](Self::acquire), waiting at most `timeout` (Python's
    /// `acquire(timeout=…)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let lock = Lock::new()?;
    /// let held = lock.clone();
    /// let p = Process::new(move || {
    ///     let _g = held.acquire().unwrap();
    ///     std::thread::sleep(Duration::from_secs(30));
    /// });
    /// p.start()?;
    /// std::thread::sleep(Duration::from_millis(100));
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// p.kill()?; // dies holding the lock…
    /// p.join()?;
    /// let g = lock.acquire_timeout(Duration::from_secs(5))?; // …which is not stuck
    /// assert!(g.previous_owner_died());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when it stayed held, or as [`acquire`](Self::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard<'_>> {
        match self.mutex.lock(Some(Instant::now() + timeout)) {
            Ok(relock) => Ok(self.guard(relock)),
            Err(e) if e.is_timeout() => Err(guard_timeout("lock", timeout)),
            Err(e) => Err(e),
        }
    }

    /// Takes the lock if it is free, without waiting (Python's `acquire(block=False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let lock = Lock::new()?;
    /// let g = lock.try_acquire()?;
    /// assert!(g.is_some());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    pub fn try_acquire(&self) -> Result<Option<LockGuard<'_>>> {
        Ok(self.mutex.try_lock()?.map(|relock| self.guard(relock)))
    }
}
