//! The process backend of [`Pool`]: every task runs in a forked child.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Pool;
use super::async_result::{AsyncResult, Slot};
use super::builder::PoolBuilder;
use super::lifecycle::{Backend, Busy, Ledger};
use super::process::{Children, Crew, Engine, Job, Jobs, start_runners};
use crate::{Error, ErrorKind, Result, StarFn};

mod lazy_maps;

/// The process backend of [`Pool`]: tasks run in child processes.
///
/// Select it with [`Pool::processes`] or [`PoolBuilder::build_processes`]. The methods are
/// the thread pool's; what differs:
///
/// - The function and the items reach the child through `fork` (nothing is encoded on the
///   way in, closures may capture anything); the **results** come back encoded with serde,
///   so they must be `Serialize + DeserializeOwned`.
/// - **Where a task runs**: a stateless task (a function item, or a closure that
///   captures nothing) may run on one of at most `workers` persistent processes kept from
///   call to call, any other in a process forked from the caller. Which call takes which
///   route, and why, is one decision, described in `src/pool/process/README.md` (in short:
///   the table in [`Pool`]'s docs). Like Python's workers, a persistent one keeps its
///   memory from task to task, has the code loaded when it was forked (a task of a later
///   notebook cell gets a fresh one) and keeps only stdin, stdout and stderr of its
///   parent's open files; a forked one sees the caller's memory as of the fork. The same
///   errors come back either way.
/// - A task that crashes its process — `panic`, `std::process::exit`, `abort`, `SIGSEGV`,
///   a `SIGKILL` from outside — fails with an [`ErrorKind::WorkerDied`] error naming the
///   exit code or signal; the other tasks run on, in fresh processes. No call waits on a
///   dead worker.
/// - [`terminate`](Pool::terminate) stops running tasks too (`SIGTERM`; persistent
///   workers `SIGKILL`), as in Python. Dropping the pool stops and reaps its workers.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::processes(2)?;
/// // A crash takes down one task's process, not the notebook.
/// let err = pool.apply(|| -> u8 { std::process::abort() }).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::WorkerDied);
/// assert_eq!(pool.map(|x: u32| x * x, 0..4)?, [0, 1, 4, 9]);
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Processes {
    pub(super) engine: Engine,
    ledger: Arc<Ledger<Jobs>>,
    runners: Mutex<Vec<JoinHandle<()>>>,
}

impl Backend<Jobs> for Processes {
    fn ledger(&self) -> &Ledger<Jobs> {
        &self.ledger
    }

    fn cancel(&self, job: Job, error: Error) -> bool {
        (job.cancel)(error);
        self.ledger.done();
        true
    }

    /// Running children get `SIGTERM`, persistent workers `SIGKILL`.
    fn stop_running(&self) {
        self.engine.children.terminate();
        self.engine.crew.terminate();
    }

    fn shut_down(&self) {
        let runners = std::mem::take(&mut *self.runners.lock().unwrap_or_else(|p| p.into_inner()));
        for runner in runners {
            let _ = runner.join();
        }
        self.engine.crew.shutdown();
    }
}

impl Processes {
    fn start(options: &PoolBuilder) -> Result<Self> {
        let workers = options.checked_workers()?;
        let chunksize = options.checked_chunksize()?;
        if options.max_tasks == Some(0) {
            return Err(Error::invalid_argument(
                "maxtasksperchild must be at least 1 (got 0; Python raises ValueError)",
            ));
        }
        let ledger = Arc::new(Ledger::new());
        let runners = start_runners(workers, &ledger)?;
        let children = Arc::new(Children::default());
        let crew_size = if options.fresh { 0 } else { workers };
        Ok(Processes {
            engine: Engine {
                workers,
                chunksize,
                fresh: options.fresh,
                initializer: options.initializer.clone(),
                crew: Arc::new(Crew::new(crew_size, options.max_tasks, children.clone())?),
                children,
            },
            ledger,
            runners: Mutex::new(runners),
        })
    }

    pub(super) fn busy(&self) -> Result<Busy<'_, Jobs>> {
        self.ledger.busy()
    }

    fn submit(&self, job: Job) -> Result<()> {
        self.ledger.admit(|jobs| jobs.push(job))?;
        self.ledger.task_queued();
        Ok(())
    }

    /// What the pool's children need to run tasks: a cheap, `'static` handle.
    pub(super) fn engine(&self) -> Engine {
        self.engine.clone()
    }
}

impl PoolBuilder {
    /// Starts a pool whose tasks run in forked child processes (see [`Processes`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(2).chunksize(10).build_processes()?;
    /// assert_eq!(pool.map(|x: u64| x * x, 0..100u64)?[99], 9801);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for zero workers or a zero chunk size;
    /// [`ErrorKind::Os`] when the pool's threads could not be started.
    pub fn build_processes(self) -> Result<Pool<Processes>> {
        Ok(Pool {
            backend: Processes::start(&self)?,
        })
    }
}

impl Pool<Processes> {
    /// A pool of `workers` processes, like Python's `Pool(workers)` with the `fork` start
    /// method: at most `workers` tasks run at once, each in a child process of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = Pool::processes(4)?;
    /// assert_eq!(pool.map(square, 0..10u64)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `workers` is 0.
    pub fn processes(workers: usize) -> Result<Self> {
        PoolBuilder::new().workers(workers).build_processes()
    }

    /// How many tasks run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::processes(3)?.workers(), 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.backend.engine.workers
    }

    /// Pins each task's process to one of `cores`, in turn: the first task to `cores[0]`,
    /// the next to `cores[1]`, … (what the course's S4-2 does with psutil's
    /// `cpu_affinity`). To pin a single task, call
    /// [`set_cpu_affinity`](crate::set_cpu_affinity) inside it instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(1)?.pin_workers(&[0])?;
    /// assert_eq!(pool.apply(|| current_cpu().unwrap())?, 0);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `cores` is empty or names a core the machine
    /// does not have (no wrap-around: on a 2-core machine, `&[0, 1, 2]` is refused; write
    /// `&[0, 1, 0]` or use `i % cpu_count()`); [`ErrorKind::InvalidState`] when the pool
    /// was already pinned.
    pub fn pin_workers(self, cores: &[usize]) -> Result<Self> {
        let online = crate::machine_cpu_count();
        if cores.is_empty() {
            return Err(Error::invalid_argument(
                "no core given: pass at least one core number",
            ));
        }
        if let Some(&bad) = cores.iter().find(|&&c| c >= online) {
            return Err(Error::invalid_argument(format!(
                "core {bad} does not exist: this machine has {online} CPUs, numbered 0 to {}",
                online - 1
            )));
        }
        if !self.backend.engine.children.pin_to(cores.to_vec()) {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this pool's workers are already pinned",
            ));
        }
        Ok(self)
    }

    /// The chunk size set with [`PoolBuilder::chunksize`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::processes(2)?.chunksize(), None);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn chunksize(&self) -> Option<usize> {
        self.backend.engine.chunksize
    }

    /// Applies `f` to every item in child processes and returns the results in order
    /// (Python's `map`). The items are cut into chunks (unless a chunk size was set, each
    /// about 1/(4 × workers) of the items left, at most 65,536 items, smaller toward the
    /// end so that the workers finish together); at most `workers` children take the
    /// chunks one after another: persistent workers for a stateless `f` over plain items
    /// (see [`Processes`]), else children forked for the call. A child that dies fails its chunk
    /// and a fresh child takes the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let pids = pool.map(|_| std::process::id(), 0..4)?;
    /// assert!(pids.iter().all(|&pid| pid != std::process::id()));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first failed chunk's error, once every chunk has finished:
    /// [`ErrorKind::TaskPanicked`], [`ErrorKind::WorkerDied`] (exit code or signal),
    /// [`ErrorKind::Serialization`] for a result that cannot be encoded;
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`] after `close` / `terminate`.
    pub fn map<I, F, R>(&self, f: F, items: I) -> Result<Vec<R>>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> R,
        R: Serialize + DeserializeOwned,
    {
        let _busy = self.backend.busy()?;
        self.backend.engine().map(&f, items.into_iter())
    }

    /// Like [`map`](Self::map) with this call's own chunk size (Python's
    /// `pool.map(f, items, chunksize)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// assert_eq!(pool.map_with_chunksize(|x: u32| x * x, 0..6u32, 4)?, [0, 1, 4, 9, 16, 25]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map); [`ErrorKind::InvalidArgument`] for a chunk size of 0.
    pub fn map_with_chunksize<I, F, R>(&self, f: F, items: I, chunksize: usize) -> Result<Vec<R>>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> R,
        R: Serialize + DeserializeOwned,
    {
        let chunksize = super::chunking::checked_chunksize(chunksize)?;
        let _busy = self.backend.busy()?;
        let mut engine = self.backend.engine();
        engine.chunksize = Some(chunksize);
        engine.map(&f, items.into_iter())
    }

    /// Like [`map`](Self::map) for functions of several arguments: each item is a tuple.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// fn multiply(a: i32, b: i32) -> i32 {
    ///     a * b
    /// }
    /// let pool = Pool::processes(4)?;
    /// assert_eq!(pool.starmap(multiply, vec![(1, 2), (3, 4), (5, 6), (7, 8)])?, [2, 12, 30, 56]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>>
    where
        I: IntoIterator,
        F: StarFn<I::Item>,
        F::Output: Serialize + DeserializeOwned,
    {
        self.map(move |args| f.call(args), items)
    }

    /// Runs `f` in a child process and waits for its value (Python's `apply`).
    ///
    /// A stateless `f` (a function item, or a closure that captures nothing) runs on a
    /// persistent worker (see [`Processes`]); any other closure in a process forked for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(1)?;
    /// assert_ne!(pool.apply(std::process::id)?, std::process::id());
    /// let err = pool.apply(|| -> u8 { std::process::exit(3) }).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WorkerDied);
    /// assert!(err.to_string().contains("exit code 3"));
    /// assert_eq!(pool.apply(|| 5 * 5)?, 25); // the pool goes on
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TaskPanicked`], [`ErrorKind::WorkerDied`], [`ErrorKind::Serialization`],
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`], as for [`map`](Self::map).
    pub fn apply<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R,
        R: Serialize + DeserializeOwned,
    {
        let _busy = self.backend.busy()?;
        self.backend.engine().apply(f)
    }

    fn spawn_job<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine) -> Result<R> + Send + 'static,
    ) -> Result<AsyncResult<R>> {
        self.spawn_job_into(Slot::new(), work)
    }

    /// As `spawn_job`, the outcome landing in `slot` (one with a callback).
    pub(super) fn spawn_job_into<R: Send + 'static>(
        &self,
        slot: Slot<R>,
        work: impl FnOnce(&Engine) -> Result<R> + Send + 'static,
    ) -> Result<AsyncResult<R>> {
        let slot = Arc::new(slot);
        let (run_slot, cancel_slot) = (slot.clone(), slot.clone());
        let engine = self.backend.engine();
        self.backend.submit(Job {
            run: Box::new(move || {
                if run_slot.start() {
                    // A bug of ours must not leave the result waiting for ever.
                    let outcome = catch_unwind(AssertUnwindSafe(|| work(&engine)));
                    run_slot.finish(outcome.unwrap_or_else(|p| Err(Error::from_panic(p))));
                }
            }),
            cancel: Box::new(move |error| {
                cancel_slot.cancel(error);
            }),
        })?;
        Ok(AsyncResult::new(slot))
    }

    /// Queues `f` and returns at once with an [`AsyncResult`] for its value (Python's
    /// `apply_async`). At most [`workers`](Self::workers) such tasks run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let r = pool.apply_async(|| 5 * 5)?;
    /// assert_eq!(r.get()?, 25);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`]; the task's own failure
    /// is reported by the [`AsyncResult`].
    pub fn apply_async<F, R>(&self, f: F) -> Result<AsyncResult<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.spawn_job(move |engine| engine.apply(f))
    }

    /// [`map`](Self::map) in the background (Python's `map_async`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let r = pool.map_async(|x: u32| x * x, vec![1, 2, 3])?;
    /// assert_eq!(r.get()?, [1, 4, 9]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Self::apply_async).
    pub fn map_async<I, F, R>(&self, f: F, items: I) -> Result<AsyncResult<Vec<R>>>
    where
        I: IntoIterator + Send + 'static,
        F: Fn(I::Item) -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.spawn_job(move |engine| engine.map(&f, items.into_iter()))
    }

    /// [`starmap`](Self::starmap) in the background (Python's `starmap_async`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let r = pool.starmap_async(|a: i32, b: i32| a + b, vec![(1, 2), (3, 4)])?;
    /// assert_eq!(r.get()?, [3, 7]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Self::apply_async).
    pub fn starmap_async<I, F>(&self, f: F, items: I) -> Result<AsyncResult<Vec<F::Output>>>
    where
        I: IntoIterator + Send + 'static,
        F: StarFn<I::Item> + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(move |args| f.call(args), items)
    }

    /// Stops taking work; queued tasks still run (Python's `close`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let r = pool.apply_async(|| 42)?;
    /// pool.close();
    /// pool.join()?;
    /// assert_eq!(r.get()?, 42);
    /// assert_eq!(pool.apply(|| 1).unwrap_err().kind(), ErrorKind::PoolClosed);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn close(&self) {
        self.backend.close();
    }

    /// Stops taking work, cancels queued tasks and stops running ones with `SIGTERM`
    /// (Python's `terminate`). Their [`AsyncResult`]s fail with [`ErrorKind::Cancelled`]
    /// at once. Returns how many queued tasks were cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::processes(1)?;
    /// let running = pool.apply_async(|| std::thread::sleep(Duration::from_secs(60)))?;
    /// let queued = pool.apply_async(|| 5)?;
    /// pool.terminate();
    /// assert_eq!(queued.get().unwrap_err().kind(), ErrorKind::Cancelled);
    /// assert_eq!(running.get().unwrap_err().kind(), ErrorKind::Cancelled);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn terminate(&self) -> usize {
        self.backend.terminate()
    }

    /// Waits until every queued and running task has finished (Python's `join`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let r = pool.apply_async(|| 6 * 7)?;
    /// pool.close();
    /// pool.join()?;
    /// assert_eq!(r.get()?, 42);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the pool was neither closed nor terminated.
    pub fn join(&self) -> Result<()> {
        self.backend.join()
    }

    /// Like [`join`](Self::join), giving up after `timeout`. True when every task finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::processes(1)?;
    /// let _ = pool.apply_async(|| std::thread::sleep(Duration::from_millis(300)))?;
    /// pool.close();
    /// assert!(!pool.join_timeout(Duration::from_millis(1))?);
    /// assert!(pool.join_timeout(Duration::from_secs(60))?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.backend.join_timeout(timeout)
    }

    /// How many tasks ran on the pool's persistent workers (the fast path of
    /// [`apply`](Self::apply)) so far. For tests and benchmarks.
    #[doc(hidden)]
    pub fn fast_path_runs(&self) -> u64 {
        self.backend.engine.crew.fast_runs()
    }

    /// The PIDs of the pool's persistent workers alive now. For tests.
    #[doc(hidden)]
    pub fn persistent_worker_pids(&self) -> Vec<u32> {
        self.backend.engine.crew.pids()
    }

    /// The PIDs of the pool's idle persistent workers (those `map` finds free). For
    /// tests.
    #[doc(hidden)]
    pub fn map_worker_pids(&self) -> Vec<u32> {
        self.backend.engine.crew.idle_pids()
    }
}

/// Dropping a process pool closes it, waits for the tasks already queued, and stops its
/// runner threads; nothing submitted is lost. Call [`terminate`](Pool::terminate) first to
/// cancel instead.
impl Drop for Processes {
    fn drop(&mut self) {
        self.drop_pool();
    }
}

impl std::fmt::Debug for Processes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processes")
            .field("workers", &self.engine.workers)
            .field("phase", &self.ledger.phase())
            .field("in_flight", &self.ledger.in_flight())
            .finish()
    }
}
