//! `PoolBuilder`: the options of Python's `Pool(processes, initializer, …)`.

use std::fmt;
use std::sync::Arc;

use super::{Pool, Threads};
use crate::{Error, Result};

/// A per-worker initializer, shared by every worker.
pub(crate) type Initializer = Arc<dyn Fn() + Send + Sync + 'static>;

/// Configures a [`Pool`] before it starts: number of workers, chunk size, initializer.
///
/// Python's `Pool(processes=4, initializer=init)` is
/// `Pool::builder().workers(4).initializer(init).build()`.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::builder().workers(2).chunksize(100).build()?;
/// assert_eq!(pool.workers(), 2);
/// assert_eq!(pool.map(|x| x + 1, 0..1000)?.len(), 1000);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct PoolBuilder {
    pub(crate) workers: Option<usize>,
    pub(crate) chunksize: Option<usize>,
    pub(crate) initializer: Option<Initializer>,
    /// Process pools: never a persistent worker (see `fresh_process_per_task`).
    pub(crate) fresh: bool,
    /// Process pools: a persistent worker retires after this many tasks.
    pub(crate) max_tasks: Option<usize>,
}

impl PoolBuilder {
    /// A builder with every option at its default: [`cpu_count()`](crate::cpu_count)
    /// workers, automatic chunking, no initializer.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = PoolBuilder::new().build()?;
    /// assert_eq!(pool.workers(), cpu_count());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn new() -> Self {
        PoolBuilder::default()
    }

    /// The number of workers (Python's `processes`). Default: [`cpu_count()`](crate::cpu_count).
    ///
    /// Zero is refused by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::builder().workers(3).build()?.workers(), 3);
    /// assert!(Pool::builder().workers(0).build().is_err());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// How many items each task of `map`, `starmap` and `imap` takes at once (Python's
    /// `chunksize`). Default: automatic for `map` (the work is split adaptively between
    /// the workers) and 1 for `imap`.
    ///
    /// Larger chunks cost less bookkeeping per item; smaller ones balance uneven work better.
    /// Zero is refused by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(2).chunksize(10).build()?;
    /// assert_eq!(pool.chunksize(), Some(10));
    /// assert_eq!(pool.map(|x: u32| x * 2, 0..5u32)?, [0, 2, 4, 6, 8]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = Some(n);
        self
    }

    /// A function every worker runs once when it starts, before any task (Python's
    /// `initializer`; capture what would be `initargs`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let pool = Pool::builder()
    ///     .workers(3)
    ///     .initializer(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()?;
    /// assert_eq!(started.load(Ordering::SeqCst), 3);
    /// # drop(pool);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn initializer(mut self, init: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// Process pools only: run every task (every chunk of a `map`) in a fresh process
    /// forked for it, never on a persistent worker, so that no task sees what an earlier
    /// one left in a worker's memory (Python's `maxtasksperchild=1`). Without it, a
    /// stateless task (a function, a closure that captures nothing) runs on a persistent
    /// worker and a capturing closure in a fresh fork: see [`Processes`](crate::Processes).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(2).fresh_process_per_task().build_processes()?;
    /// let a = pool.apply(std::process::id)?;
    /// let b = pool.apply(std::process::id)?;
    /// assert_ne!(a, b); // two tasks, two processes
    /// assert!(pool.persistent_worker_pids().is_empty());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn fresh_process_per_task(mut self) -> Self {
        self.fresh = true;
        self
    }

    /// Process pools only: a persistent worker leaves after `n` tasks and a fresh one
    /// takes its place (Python's `maxtasksperchild`), to bound what a worker accumulates.
    /// `map` then runs a process per chunk, as Python counts a chunk as one task.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(1).maxtasksperchild(2).build_processes()?;
    /// let pids: Vec<u32> = (0..4).map(|_| pool.apply(std::process::id)).collect::<Result<_>>()?;
    /// assert_eq!(pids[0], pids[1]);
    /// assert_ne!(pids[1], pids[2]); // the first worker left after two tasks
    /// assert_eq!(pids[2], pids[3]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `build_processes` fails with [`ErrorKind::InvalidArgument`](crate::ErrorKind) for 0.
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.max_tasks = Some(n);
        self
    }

    /// The number of workers, checked: the given one or [`cpu_count()`](crate::cpu_count).
    pub(crate) fn checked_workers(&self) -> Result<usize> {
        let n = self.workers.unwrap_or_else(crate::cpu_count);
        if n == 0 {
            return Err(Error::invalid_argument(
                "Number of workers must be at least 1 (got 0; Python raises \
                 `ValueError: Number of processes must be at least 1`)",
            ));
        }
        Ok(n)
    }

    /// The chunk size, checked.
    pub(crate) fn checked_chunksize(&self) -> Result<Option<usize>> {
        match self.chunksize {
            Some(0) => Err(Error::invalid_argument(
                "chunksize must be at least 1 (got 0): it is the number of items per task",
            )),
            other => Ok(other),
        }
    }

    /// Starts a pool of worker threads.
    ///
    /// It returns once every worker has started and run the initializer.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(2).build()?;
    /// assert_eq!(pool.apply(|| 1 + 1)?, 2);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) for zero workers or a zero chunk
    /// size; [`ErrorKind::TaskPanicked`](crate::ErrorKind) when the initializer panicked
    /// (Python would restart the worker forever); [`ErrorKind::Os`](crate::ErrorKind) when
    /// the threads could not be started.
    pub fn build(self) -> Result<Pool<Threads>> {
        Ok(Pool {
            backend: Threads::start(&self)?,
        })
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("workers", &self.workers)
            .field("chunksize", &self.chunksize)
            .field("initializer", &self.initializer.as_ref().map(|_| "Fn()"))
            .field("fresh_process_per_task", &self.fresh)
            .field("maxtasksperchild", &self.max_tasks)
            .finish()
    }
}
