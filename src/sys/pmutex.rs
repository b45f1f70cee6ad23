//! Process-shared, robust pthread mutexes and condition variables in a [`SharedRegion`].
//!
//! A robust mutex whose owner dies (process killed, thread ended) is not locked forever:
//! the next `lock` gets it with `EOWNERDEAD`, marks it consistent and reports that the
//! previous owner died, so the caller can decide what the half-done update means.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::shm::SharedRegion;
use crate::{Error, ErrorKind, Result};

/// Bytes reserved for one mutex or condvar in a region (more than glibc needs).
pub(crate) const SLOT: usize = 64;

const _: () = assert!(size_of::<libc::pthread_mutex_t>() <= SLOT);
const _: () = assert!(size_of::<libc::pthread_cond_t>() <= SLOT);

/// A robust, process-shared pthread mutex at a fixed place in a shared region.
#[derive(Clone, Debug)]
pub(crate) struct RawMutex {
    region: Arc<SharedRegion>,
    offset: usize,
}

/// The outcome of a successful lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relock {
    /// Locked normally.
    Clean,
    /// Locked, but the previous owner died holding it: the data it guards may be half-updated.
    OwnerDied,
}

fn check(call: &str, rc: libc::c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::os(call, nix::errno::Errno::from_raw(rc)))
    }
}

/// An absolute time `left` from now on `clock`, as a timespec.
fn abs_time(clock: libc::clockid_t, left: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    unsafe { libc::clock_gettime(clock, &mut now) };
    let left = left.min(Duration::from_secs(10 * 365 * 24 * 3600));
    let mut sec = now.tv_sec + left.as_secs() as libc::time_t;
    let mut nsec = now.tv_nsec + left.subsec_nanos() as libc::c_long;
    if nsec >= 1_000_000_000 {
        sec += 1;
        nsec -= 1_000_000_000;
    }
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

fn timeout_error() -> Error {
    Error::new(
        ErrorKind::Timeout,
        "timed out waiting for a lock held by another process or thread",
    )
}

impl RawMutex {
    /// Initialises a mutex in the `SLOT` bytes at `offset` (zeroed, never used before).
    pub(crate) fn init(region: Arc<SharedRegion>, offset: usize, recursive: bool) -> Result<Self> {
        let p = region.ptr_at(offset, SLOT, 8) as *mut libc::pthread_mutex_t;
        // SAFETY: `attr` is initialised before use and destroyed after; `p` points to
        // `SLOT` in-bounds, aligned, unused bytes of the shared mapping.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(
                "pthread_mutexattr_init",
                libc::pthread_mutexattr_init(&mut attr),
            )?;
            let kind = if recursive {
                libc::PTHREAD_MUTEX_RECURSIVE
            } else {
                libc::PTHREAD_MUTEX_ERRORCHECK
            };
            let rc = libc::pthread_mutexattr_settype(&mut attr, kind);
            let rc = if rc == 0 {
                libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED)
            } else {
                rc
            };
            let rc = if rc == 0 {
                libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST)
            } else {
                rc
            };
            let rc = if rc == 0 {
                libc::pthread_mutex_init(p, &attr)
            } else {
                rc
            };
            libc::pthread_mutexattr_destroy(&mut attr);
            check("pthread_mutex_init", rc)?;
        }
        Ok(RawMutex { region, offset })
    }

    fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.region.ptr_at(self.offset, SLOT, 8) as *mut libc::pthread_mutex_t
    }

    /// Locks, waiting until `deadline` at most (for ever with `None`).
    pub(crate) fn lock(&self, deadline: Option<Instant>) -> Result<Relock> {
        let rc = match deadline {
            // SAFETY: the mutex was initialised by `init` and lives as long as `region`.
            None => unsafe { libc::pthread_mutex_lock(self.ptr()) },
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let at = abs_time(libc::CLOCK_REALTIME, left);
                // SAFETY: as above; `at` is a valid timespec.
                unsafe { libc::pthread_mutex_timedlock(self.ptr(), &at) }
            }
        };
        self.after_lock(rc)
    }

    /// Locks if free, without waiting.
    pub(crate) fn try_lock(&self) -> Result<Option<Relock>> {
        // SAFETY: the mutex was initialised by `init` and lives as long as `region`.
        let rc = unsafe { libc::pthread_mutex_trylock(self.ptr()) };
        if rc == libc::EBUSY {
            return Ok(None);
        }
        self.after_lock(rc).map(Some)
    }

    fn after_lock(&self, rc: libc::c_int) -> Result<Relock> {
        match rc {
            0 => Ok(Relock::Clean),
            libc::EOWNERDEAD => {
                // SAFETY: we hold the mutex (EOWNERDEAD means it was handed to us).
                unsafe { libc::pthread_mutex_consistent(self.ptr()) };
                Ok(Relock::OwnerDied)
            }
            libc::ETIMEDOUT => Err(timeout_error()),
            libc::EDEADLK => Err(Error::new(
                ErrorKind::InvalidState,
                "this thread already holds this lock: acquiring it again would wait for ever \
                 (use an RLock to re-enter)",
            )),
            rc => check("pthread_mutex_lock", rc).map(|()| Relock::Clean),
        }
    }

    /// Unlocks. The calling thread must hold the mutex.
    pub(crate) fn unlock(&self) {
        // SAFETY: the mutex was initialised; an error-checking/recursive robust mutex
        // returns EPERM instead of misbehaving when the caller does not own it.
        unsafe { libc::pthread_mutex_unlock(self.ptr()) };
    }
}

/// A process-shared condition variable on the monotonic clock.
#[derive(Clone, Debug)]
pub(crate) struct RawCondvar {
    region: Arc<SharedRegion>,
    offset: usize,
}

impl RawCondvar {
    /// Initialises a condvar in the `SLOT` bytes at `offset` (zeroed, never used before).
    pub(crate) fn init(region: Arc<SharedRegion>, offset: usize) -> Result<Self> {
        let p = region.ptr_at(offset, SLOT, 8) as *mut libc::pthread_cond_t;
        // SAFETY: as for `RawMutex::init`.
        unsafe {
            let mut attr: libc::pthread_condattr_t = std::mem::zeroed();
            check(
                "pthread_condattr_init",
                libc::pthread_condattr_init(&mut attr),
            )?;
            let rc = libc::pthread_condattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            let rc = if rc == 0 {
                libc::pthread_condattr_setclock(&mut attr, libc::CLOCK_MONOTONIC)
            } else {
                rc
            };
            let rc = if rc == 0 {
                libc::pthread_cond_init(p, &attr)
            } else {
                rc
            };
            libc::pthread_condattr_destroy(&mut attr);
            check("pthread_cond_init", rc)?;
        }
        Ok(RawCondvar { region, offset })
    }

    fn ptr(&self) -> *mut libc::pthread_cond_t {
        self.region.ptr_at(self.offset, SLOT, 8) as *mut libc::pthread_cond_t
    }

    /// Waits for a notification, until `deadline` at most. `mutex` must be held; it is
    /// held again on return. Returns true when the deadline passed (the mutex is held then
    /// too). A previous owner's death is repaired silently: condvar users keep their shared
    /// state consistent at every instant.
    pub(crate) fn wait(&self, mutex: &RawMutex, deadline: Option<Instant>) -> Result<bool> {
        let rc = match deadline {
            // SAFETY: both were initialised and the caller holds `mutex`.
            None => unsafe { libc::pthread_cond_wait(self.ptr(), mutex.ptr()) },
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let at = abs_time(libc::CLOCK_MONOTONIC, left);
                // SAFETY: as above; `at` is a valid timespec on the condvar's clock.
                unsafe { libc::pthread_cond_timedwait(self.ptr(), mutex.ptr(), &at) }
            }
        };
        if rc == libc::ETIMEDOUT {
            return Ok(true);
        }
        mutex.after_lock(rc).map(|_| false)
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        // SAFETY: the condvar was initialised.
        unsafe { libc::pthread_cond_broadcast(self.ptr()) };
    }
}
