//! `Pool::scope`: Python's `with Pool() as pool:`, which terminates the pool on the way out.

use super::{Pool, Processes, Threads};

/// Calls `stop` on the pool when dropped: at the end of the scope, or while a panic
/// unwinds through it.
struct TerminateOnExit<'p, B> {
    pool: &'p Pool<B>,
    stop: fn(&Pool<B>),
}

impl<B> Drop for TerminateOnExit<'_, B> {
    fn drop(&mut self) {
        (self.stop)(self.pool);
    }
}

impl Pool<Threads> {
    /// Runs `body` with the pool and terminates the pool when `body` returns or panics,
    /// like Python's `with Pool() as pool:`: tasks still queued then are cancelled (their
    /// `get` fails with [`ErrorKind::Cancelled`](crate::ErrorKind)), instead of being
    /// waited for as a plain drop does.
    ///
    /// Which to use: dropping a pool **waits** for the work already submitted (nothing is
    /// lost); `scope` **terminates** (nothing is waited for: what you did not `get` inside
    /// the scope is dropped, as in Python).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let total = Pool::new(2)?.scope(|pool| -> Result<u64> {
    ///     Ok(pool.map(|x: u64| x * x, 0..10u64)?.iter().sum())
    /// })?;
    /// assert_eq!(total, 285);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn scope<R>(self, body: impl FnOnce(&Self) -> R) -> R {
        let _exit = TerminateOnExit {
            pool: &self,
            stop: |pool| {
                pool.terminate();
            },
        };
        body(&self)
    }
}

impl Pool<Processes> {
    /// As [`Pool::scope`] on threads: runs `body`, then terminates the pool (running
    /// tasks' processes are stopped, queued ones cancelled), also when `body` panics —
    /// a panic in the caller does not wait for every queued task, as a plain drop would.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let squares = Pool::processes(2)?.scope(|pool| pool.map(|x: u32| x * x, 0..4))?;
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn scope<R>(self, body: impl FnOnce(&Self) -> R) -> R {
        let _exit = TerminateOnExit {
            pool: &self,
            stop: |pool| {
                pool.terminate();
            },
        };
        body(&self)
    }
}
