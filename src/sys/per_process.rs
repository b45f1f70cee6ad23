//! State that each process must have its own copy of: this process's PID without a
//! system call, and [`PerProcess`], a value rebuilt fresh in a forked child.
//!
//! `fork` copies memory as it is at that instant, but only the calling thread. A
//! `std::sync::Mutex` another thread of the parent held then stays locked for ever in the
//! child, and the value behind it may be half updated (a buffer mid-write, a socket shared
//! with the parent). A [`PerProcess`] value is tagged with the PID of the process that
//! built it; a process that finds another PID's tag builds its own value and never touches
//! the inherited one (leaked, never dropped: its lock may be held by a thread that does not
//! exist here).

use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// This process's PID, or 0 when unknown (at start, and in a child right after `fork`).
static PID: AtomicU32 = AtomicU32::new(0);

extern "C" fn forget_pid_in_child() {
    PID.store(0, Ordering::Relaxed);
}

/// This process's PID, read from the system once per process (`getpid` is a system call
/// since glibc 2.25). A `pthread_atfork` handler forgets it in every child, forked by
/// paralelo or not.
pub(crate) fn current_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // SAFETY: registers a child handler that only stores to an atomic (async-signal
        // safe, as a handler run right after fork must be); no prepare or parent handler.
        unsafe {
            libc::pthread_atfork(None, None, Some(forget_pid_in_child));
        }
    });
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

/// Forgets the cached PID: called by `fork_run` in every child (the atfork handler covers
/// forks made by others).
pub(crate) fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

struct Tagged<T> {
    pid: u32,
    value: T,
}

/// A value each process builds for itself (with `T::default()`) the first time it uses it.
pub(crate) struct PerProcess<T: Default> {
    current: AtomicPtr<Tagged<T>>,
}

impl<T: Default> Default for PerProcess<T> {
    fn default() -> Self {
        PerProcess::new()
    }
}

impl<T: Default> PerProcess<T> {
    /// An empty cell (usable in a `static`).
    pub(crate) const fn new() -> Self {
        PerProcess {
            current: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// This process's value.
    pub(crate) fn get(&self) -> &T {
        let me = current_pid();
        let seen = self.current.load(Ordering::Acquire);
        // SAFETY: non-null pointers stored here come from `Box::into_raw` below and are
        // freed only by `drop`, which has `&mut self`; `&self` keeps them alive.
        if let Some(tagged) = unsafe { seen.as_ref() } {
            if tagged.pid == me {
                return &tagged.value;
            }
        }
        let fresh = Box::into_raw(Box::new(Tagged {
            pid: me,
            value: T::default(),
        }));
        match self
            .current
            .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // The inherited value (if any) is leaked: it belongs to the parent's threads.
            // SAFETY: `fresh` is now stored and lives until `drop`.
            Ok(_) => unsafe { &(*fresh).value },
            Err(winner) => {
                // Another thread of this process installed its own first.
                // SAFETY: `fresh` was never shared; `winner` is a stored pointer (above).
                unsafe {
                    drop(Box::from_raw(fresh));
                    &(*winner).value
                }
            }
        }
    }
}

impl<T: Default> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let p = *self.current.get_mut();
        // SAFETY: stored pointers come from `Box::into_raw`; `&mut self` means no one else
        // uses them. A value tagged with another PID is inherited: leaked, not dropped.
        unsafe {
            if !p.is_null() && (*p).pid == current_pid() {
                drop(Box::from_raw(p));
            }
        }
    }
}

impl<T: Default> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerProcess")
    }
}

// SAFETY: a `PerProcess<T>` hands out `&T` to any thread of its process, like a `T` behind
// an `Arc`: `T` must be `Sync` for that, and `Send` because another thread may drop it.
unsafe impl<T: Default + Send + Sync> Sync for PerProcess<T> {}
// SAFETY: as above; moving the cell moves ownership of the value behind the pointer.
unsafe impl<T: Default + Send> Send for PerProcess<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn one_value_per_process() {
        let cell: PerProcess<Mutex<Vec<u8>>> = PerProcess::default();
        cell.get().lock().unwrap().push(1);
        assert_eq!(*cell.get().lock().unwrap(), [1]);
        assert_eq!(current_pid(), std::process::id());
    }
}
