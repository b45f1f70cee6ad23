//! The thread backend of [`Pool`]: a rayon thread pool plus a ledger of queued tasks.
//!
//! rayon runs the work; the ledger adds what Python's pool promises on top: FIFO tasks that
//! can be cancelled before they start (`terminate`), `close`/`join`, and a count of work in
//! flight so that `join` and `Drop` know when everything has finished.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use rayon::prelude::*;

mod another_copy;

use super::Pool;
use super::async_result::{AsyncResult, Slot};
use super::builder::PoolBuilder;
use super::chunking::checked_chunksize;
use super::lifecycle::{Backend, Busy, Ledger, Queue};
use crate::interrupt::{self, Checked};
use crate::par::catch_panic;
use crate::runtime;
use crate::{Error, ErrorKind, MapItems, Result, StarFn};

/// How long `apply` spins for its value before sleeping: long enough for a short task on an
/// awake worker, short enough that a long task wastes nothing noticeable.
const APPLY_SPIN: Duration = Duration::from_micros(50);

/// The default backend of [`Pool`]: worker threads of this process.
///
/// There is no GIL in Rust: threads run CPU-bound work in parallel, share memory without
/// copying, and start in microseconds. Use it unless you need what only processes give
/// (isolation from crashes, a PID of their own).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use paralelo::Threads;
///
/// let pool: Pool<Threads> = Pool::new(2)?; // `Pool` alone means the same
/// assert_eq!(pool.apply(|| current_process().pid())?, std::process::id());
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Threads {
    rayon: rayon::ThreadPool,
    ledger: Arc<Ledger<Queued>>,
    workers: usize,
    chunksize: Option<usize>,
    /// The workers' thread ids: rayon's own answer reads a thread-local, which code of
    /// another copy of this crate (a later notebook cell) does not share. Fixed once every
    /// worker has started (rayon never replaces one), so it needs no lock.
    worker_ids: Vec<ThreadId>,
    /// [`runtime::code_copy`] of the code that built the pool.
    code_copy: usize,
}

/// The tasks submitted and not started, so that `terminate` can fail them at once.
#[derive(Default)]
pub(super) struct Queued {
    next_id: u64,
    slots: HashMap<u64, Arc<dyn Cancel>>,
}

impl Queued {
    fn push(&mut self, slot: Arc<dyn Cancel>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.slots.insert(id, slot);
        id
    }
}

impl Queue for Queued {
    type Task = Arc<dyn Cancel>;

    fn drain(&mut self) -> Vec<Arc<dyn Cancel>> {
        self.slots.drain().map(|(_, slot)| slot).collect()
    }
}

/// A slot of any result type, seen only as something that can be cancelled.
pub(super) trait Cancel: Send + Sync {
    fn cancel(&self, error: Error) -> bool;
}

impl<T: Send> Cancel for Slot<T> {
    fn cancel(&self, error: Error) -> bool {
        Slot::cancel(self, error)
    }
}

impl Backend<Queued> for Threads {
    fn ledger(&self) -> &Ledger<Queued> {
        &self.ledger
    }

    fn cancel(&self, slot: Arc<dyn Cancel>, error: Error) -> bool {
        // Its rayon job still runs, finds the slot done and counts the task as over.
        slot.cancel(error)
    }

    fn waits_for_itself(&self) -> bool {
        self.on_own_worker()
    }
}

impl Threads {
    pub(super) fn start(options: &PoolBuilder) -> Result<Self> {
        let workers = options.checked_workers()?;
        let chunksize = options.checked_chunksize()?;
        let init_report = Arc::new((Mutex::new(InitReport::default()), Condvar::new()));
        let report = init_report.clone();
        let initializer = options.initializer.clone();
        let started_ids = Arc::new(Mutex::new(Vec::with_capacity(workers)));
        let ids = started_ids.clone();
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("paralelo-worker-{}", i + 1))
            .start_handler(move |_| {
                ids.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(std::thread::current().id());
                let outcome = match &initializer {
                    Some(init) => catch_unwind(AssertUnwindSafe(|| init())).err(),
                    None => None,
                };
                let (lock, cv) = &*report;
                let mut r = lock.lock().unwrap_or_else(|p| p.into_inner());
                r.started += 1;
                if let (Some(payload), None) = (outcome, &r.first_panic) {
                    r.first_panic = Some(crate::error::panic_message(&*payload));
                }
                cv.notify_all();
            })
            // Tasks catch their own panics; this only keeps a bug of ours from aborting.
            .panic_handler(|_| {})
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Os,
                    format!("could not start {workers} worker threads: {e}"),
                )
            })?;
        let (lock, cv) = &*init_report;
        let mut r = lock.lock().unwrap_or_else(|p| p.into_inner());
        while r.started < workers {
            r = cv.wait(r).unwrap_or_else(|p| p.into_inner());
        }
        if let Some(message) = r.first_panic.take() {
            return Err(Error::new(
                ErrorKind::TaskPanicked,
                format!("the pool's initializer panicked: {message}"),
            ));
        }
        Ok(Threads {
            rayon,
            ledger: Arc::new(Ledger::new()),
            workers,
            chunksize,
            worker_ids: std::mem::take(
                &mut started_ids.lock().unwrap_or_else(PoisonError::into_inner),
            ),
            code_copy: runtime::code_copy(),
        })
    }

    /// Refuses work when the pool is not running or belongs to another process.
    pub(super) fn check(&self) -> Result<()> {
        self.ledger.check()
    }

    /// Registers a synchronous call as work in flight.
    fn busy(&self) -> Result<Busy<'_, Queued>> {
        self.ledger.busy()
    }

    /// Queues `task`, whose outcome lands in `slot`.
    pub(super) fn spawn<R: Send + 'static>(
        &self,
        slot: Arc<Slot<R>>,
        task: impl FnOnce() -> Result<R> + Send + 'static,
    ) -> Result<()> {
        let id = self.ledger.admit(|queued| queued.push(slot.clone()))?;
        let ledger = self.ledger.clone();
        let epoch = interrupt::epoch();
        self.rayon.spawn_fifo(move || {
            ledger.with_queue(|queued| queued.slots.remove(&id));
            if slot.start() {
                // A task still queued when an interrupt came is skipped, not run.
                slot.finish(if interrupt::happened_since(epoch) {
                    Err(interrupt::error())
                } else {
                    task()
                });
            }
            ledger.done();
        });
        Ok(())
    }

    fn on_own_worker(&self) -> bool {
        self.worker_ids.contains(&std::thread::current().id())
    }
}

#[derive(Default)]
struct InitReport {
    started: usize,
    first_panic: Option<String>,
}

impl Pool<Threads> {
    /// A pool of `workers` threads, like Python's `Pool(workers)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = Pool::new(4)?;
    /// assert_eq!(pool.map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when `workers` is 0 (Python: `ValueError: Number of
    /// processes must be at least 1`).
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::new(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// ```
    pub fn new(workers: usize) -> Result<Self> {
        PoolBuilder::new().workers(workers).build()
    }

    /// A pool with one worker per CPU this process may use ([`cpu_count()`](crate::cpu_count)),
    /// like Python's `Pool()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::with_cpu_count()?;
    /// assert_eq!(pool.workers(), cpu_count());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`] when the threads could not be started.
    pub fn with_cpu_count() -> Result<Self> {
        PoolBuilder::new().build()
    }

    /// A builder for the other options (chunk size, initializer, backend).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::builder().workers(2).build()?;
    /// assert_eq!(pool.workers(), 2);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::new()
    }

    /// How many workers the pool has.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::new(3)?.workers(), 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.backend.workers
    }

    /// The chunk size set with [`PoolBuilder::chunksize`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Pool::new(2)?.chunksize(), None);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn chunksize(&self) -> Option<usize> {
        self.backend.chunksize
    }

    /// Applies `f` to every item on the pool's workers and returns the results in order.
    ///
    /// `items` is anything rayon can split: a `Vec`, a range, a slice or `&Vec`, a
    /// `HashMap`… (for a plain iterator, see [`imap`](Self::imap)). Blocks until every item is done; `f` may borrow local variables.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// fn cuadrado(x: i32) -> i32 {
    ///     x * x
    /// }
    /// let pool = Pool::new(4)?;
    /// assert_eq!(pool.map(cuadrado, vec![1, 2, 3, 4, 5])?, [1, 4, 9, 16, 25]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TaskPanicked`] when `f` panicked on an item (the pool stays usable);
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`] after `close` / `terminate`.
    pub fn map<I, F, R>(&self, f: F, items: I) -> Result<Vec<R>>
    where
        I: MapItems,
        F: Fn(I::Item) -> R + Sync + Send,
        R: Send,
    {
        self.map_in_chunks(f, items, self.backend.chunksize)
    }

    /// Like [`map`](Self::map) with this call's own chunk size (Python's
    /// `pool.map(f, items, chunksize)`): `chunksize` items per task.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_with_chunksize(|x: u32| x + 1, 0..10u32, 3)?.len(), 10);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map); [`ErrorKind::InvalidArgument`] for a chunk size of 0.
    pub fn map_with_chunksize<I, F, R>(&self, f: F, items: I, chunksize: usize) -> Result<Vec<R>>
    where
        I: MapItems,
        F: Fn(I::Item) -> R + Sync + Send,
        R: Send,
    {
        self.map_in_chunks(f, items, Some(checked_chunksize(chunksize)?))
    }

    fn map_in_chunks<I, F, R>(&self, f: F, items: I, chunksize: Option<usize>) -> Result<Vec<R>>
    where
        I: MapItems,
        F: Fn(I::Item) -> R + Sync + Send,
        R: Send,
    {
        let _busy = self.backend.busy()?;
        let iter = items.into_par_items();
        let epoch = interrupt::epoch();
        if self.backend.code_copy != runtime::code_copy() {
            let items = catch_panic(|| iter.collect())?;
            return self.backend.map_from_another_copy(&f, items, epoch);
        }
        catch_panic(|| {
            self.backend
                .rayon
                .install(|| map_chunked(iter, &f, chunksize, epoch))
        })
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
    /// let pool = Pool::new(4)?;
    /// let products = pool.starmap(multiply, vec![(1, 2), (3, 4), (5, 6), (7, 8)])?;
    /// assert_eq!(products, [2, 12, 30, 56]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>>
    where
        I: MapItems,
        F: StarFn<I::Item> + Sync + Send,
        F::Output: Send,
    {
        self.map(move |args| f.call(args), items)
    }

    /// Runs `f` on a worker and waits for its value (Python's `apply`).
    ///
    /// `f` may borrow local variables, since the call blocks until it is done.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let name = String::from("Tarea 1");
    /// assert_eq!(pool.apply(|| name.len())?, 7);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TaskPanicked`] when `f` panicked; [`ErrorKind::PoolClosed`] /
    /// [`ErrorKind::PoolTerminated`] after `close` / `terminate`.
    pub fn apply<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let _busy = self.backend.busy()?;
        let epoch = interrupt::epoch();
        if self.backend.on_own_worker() && self.backend.code_copy != runtime::code_copy() {
            // As in `map_from_another_copy`: the scope's wait would block this worker.
            return catch_panic(f);
        }
        // `Mutex`, not `OnceLock`: `R` need only be `Send`.
        let outcome = Mutex::new(None);
        let done = AtomicBool::new(false);
        // A scope rather than `install`: `install` puts the caller to sleep at once, and
        // waking it costs more than a short task. Here the caller spins a few µs for the
        // value and only then sleeps in the scope's wait, which returns at once when the
        // task is already done. The scope lets `f` borrow, as with `install`.
        self.backend.rayon.in_place_scope(|scope| {
            scope.spawn(|_| {
                let value = catch_panic(|| {
                    interrupt::check(epoch); // skipped when interrupted while queued
                    f()
                });
                *outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
                done.store(true, Ordering::Release);
            });
            // On one of this pool's own workers the task sits in this thread's queue: the
            // scope's wait runs it, and spinning would only delay it.
            let spin_until = if self.backend.on_own_worker() {
                Instant::now()
            } else {
                Instant::now() + APPLY_SPIN
            };
            while !done.load(Ordering::Acquire) && Instant::now() < spin_until {
                std::hint::spin_loop();
            }
        });
        let value = outcome.into_inner().unwrap_or_else(PoisonError::into_inner);
        value.expect("the scope waits for its task")
    }

    /// Queues `f` and returns at once with an [`AsyncResult`] for its value
    /// (Python's `apply_async`). Tasks start in the order they were queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let a1 = pool.apply_async(|| 1)?;
    /// let a2 = pool.apply_async(|| 2)?;
    /// assert_eq!(a1.get()? + a2.get()?, 3);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`] after `close` / `terminate`.
    /// A panic in `f` is reported by the [`AsyncResult`], not here.
    pub fn apply_async<F, R>(&self, f: F) -> Result<AsyncResult<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        self.backend.spawn(slot.clone(), move || catch_panic(f))?;
        Ok(AsyncResult::new(slot))
    }

    /// [`map`](Self::map) in the background: returns at once with an [`AsyncResult`] for
    /// the whole list (Python's `map_async`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let squares = pool.map_async(|x: u32| x * x, vec![1, 2, 3])?;
    /// assert_eq!(squares.get()?, [1, 4, 9]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Self::apply_async); a panic in `f` is reported by the
    /// [`AsyncResult`].
    pub fn map_async<I, F, R>(&self, f: F, items: I) -> Result<AsyncResult<Vec<R>>>
    where
        I: MapItems + Send + 'static,
        F: Fn(I::Item) -> R + Sync + Send + 'static,
        R: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        let chunksize = self.backend.chunksize;
        self.backend.spawn(slot.clone(), move || {
            // Runs on a worker, so rayon keeps the work inside this pool.
            catch_panic(|| map_chunked(items.into_par_items(), &f, chunksize, interrupt::epoch()))
        })?;
        Ok(AsyncResult::new(slot))
    }

    /// [`starmap`](Self::starmap) in the background (Python's `starmap_async`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let sums = pool.starmap_async(|a: i32, b: i32| a + b, vec![(1, 2), (3, 4)])?;
    /// assert_eq!(sums.get()?, [3, 7]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map_async`](Self::map_async).
    pub fn starmap_async<I, F>(&self, f: F, items: I) -> Result<AsyncResult<Vec<F::Output>>>
    where
        I: MapItems + Send + 'static,
        F: StarFn<I::Item> + Sync + Send + 'static,
        F::Output: Send + 'static,
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
    /// let pool = Pool::new(2)?;
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

    /// Stops taking work and cancels every queued task that has not started (Python's
    /// `terminate`). Their [`AsyncResult`]s return an [`ErrorKind::Cancelled`] error at
    /// once. Returns how many tasks were cancelled.
    ///
    /// Tasks already running finish: a thread cannot be stopped from outside. (With the
    /// process backend, running workers are killed, as in Python.)
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(1)?;
    /// let busy = pool.apply_async(|| std::thread::sleep(Duration::from_millis(100)))?;
    /// busy.wait_timeout(Duration::from_millis(20)); // let it start
    /// let queued = pool.apply_async(|| 5)?;
    /// pool.terminate();
    /// assert_eq!(queued.get().unwrap_err().kind(), ErrorKind::Cancelled);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn terminate(&self) -> usize {
        self.backend.terminate()
    }

    /// Waits for every queued and running task to finish (Python's `join`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let r = pool.apply_async(|| 3)?;
    /// pool.close();
    /// pool.join()?;
    /// assert!(r.ready());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the pool was neither closed nor terminated (Python
    /// raises `ValueError` too), or when called from one of the pool's own workers (it
    /// would wait for itself).
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
    /// let pool = Pool::new(1)?;
    /// let _ = pool.apply_async(|| std::thread::sleep(Duration::from_millis(200)))?;
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
}

/// Maps in order, in tasks of exactly `chunksize` items when one is set; otherwise rayon
/// splits the work adaptively (its own load balancing beats any fixed chunk size). Stops
/// between items once an interrupt comes after `epoch`.
pub(super) fn map_chunked<P, F, R>(items: P, f: &F, chunksize: Option<usize>, epoch: u64) -> Vec<R>
where
    P: ParallelIterator,
    F: Fn(P::Item) -> R + Sync + Send,
    R: Send,
{
    match chunksize {
        // Exact chunks need positions: gather the items first (only when asked for).
        Some(c) => {
            let items: Vec<P::Item> = items.collect();
            let chunked = items.into_par_iter().with_min_len(c).with_max_len(c);
            Checked::new(chunked.map(f), epoch).collect()
        }
        None => Checked::new(items.map(f), epoch).collect(),
    }
}

/// Dropping a thread pool closes it and waits for the tasks already queued: nothing
/// submitted is lost, and every [`AsyncResult`] still gets its value. Call
/// [`terminate`](Pool::terminate) first to cancel queued tasks instead (what Python's
/// `with Pool() as pool:` does, silently).
impl Drop for Threads {
    fn drop(&mut self) {
        // From one of its own workers, waiting would wait for itself: the rayon pool then
        // lets the queued work finish on its own.
        self.drop_pool();
    }
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threads")
            .field("workers", &self.workers)
            .field("phase", &self.ledger.phase())
            .field("in_flight", &self.ledger.in_flight())
            .finish()
    }
}
