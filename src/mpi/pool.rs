//! The MPI backend of [`Pool`]: tasks run on the other ranks of the job. Its lifecycle
//! (`close`, `terminate`, `join`, the phase and the work in flight) is the other pools',
//! from `pool::lifecycle`: [`Mpi`] implements its `Backend`, with the tasks sent and not
//! finished as the queue that `terminate` fails (`dispatch::Sent`).

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::dispatch::{self, Dispatch, Ledger, Sent, guided_chunks};
use super::imap::MpiImap;
use super::links::Links;
use super::task::{self, ApplyTask, MapChunk, call_of, run_here};
use crate::pool::lifecycle::{self, Backend};
use crate::pool::{AsyncResult, Slot};
use crate::{Error, ErrorKind, Pool, Result, StarFn};

/// The MPI backend of [`Pool`]: the workers are the job's other ranks, one task (one
/// chunk of a map) at a time each. Get one from [`Cluster::pool`](super::Cluster::pool).
///
/// The methods are the other pools'; what differs:
///
/// - **Only functions that capture nothing cross** (function items, closures without
///   captured variables): each rank runs the same executable, so the function is sent as
///   its place in the file. A capturing closure does not compile (the error says
///   "paralelo::mpi runs only functions that capture nothing"): pass what it needs as
///   items or arguments.
/// - **Items and results cross with serde** (bincode), so both are `Serialize +
///   DeserializeOwned`; values of any size cross, in parts of 1 MiB.
/// - [`map`](Pool::map) cuts the items into guided chunks (large first, small last) and
///   sends each rank the next chunk when it has finished one (dynamic scheduling).
/// - A task that panics fails that task (that chunk) with its message and the rank that
///   ran it; the pool goes on. A rank that dies or whose host is lost (no message, not
///   even a heartbeat, for 3 s) fails the call that needed it with an
///   [`ErrorKind::WorkerDied`] naming the rank and its host, at once for a dead process
///   and within about 3 s for a lost host. Later calls run on the ranks left; when the
///   program ends, rank 0 ends the job with `MPI_Abort` (see [`Cluster`](super::Cluster)).
///   This needs
///   `mpirun --mca orte_enable_recovery 1`; without it `mpirun` itself stops the whole
///   job when a rank dies.
/// - [`terminate`](Pool::terminate) fails every unfinished task at once with
///   [`ErrorKind::Cancelled`]; a task already running on a rank runs to its end there, and
///   its result is dropped.
/// - Dropping the pool does not wait (the other pools do): tasks already sent finish on
///   their own, and their [`AsyncResult`]s still get their values. To wait, call
///   [`close`](Pool::close) and [`join`](Pool::join) first.
/// - With one rank (no `mpirun`, or `mpirun -n 1`), every task runs on rank 0 itself, in
///   the calling thread (`*_async`: a thread of its own), with the same results and errors.
///
/// # Examples
///
/// ```no_run
/// use paralelo::prelude::*;
///
/// fn factorial(n: u32) -> BigUint {
///     (1..=n).map(BigUint::from).product()
/// }
///
/// let cluster = paralelo::mpi::init()?;
/// let pool = cluster.pool()?;
/// let digits: Vec<usize> = pool
///     .map(factorial, 1000..1010)?
///     .iter()
///     .map(|f| f.to_string().len())
///     .collect();
/// println!("{digits:?}");
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Mpi {
    links: Arc<Links>,
    ledger: Arc<Ledger>,
}

/// The lifecycle of the other pools; the queue is the tasks sent and not finished. No
/// `Drop` (no [`Backend::drop_pool`]): dropping the pool does not wait, its tasks finish
/// on their own.
impl Backend<Sent> for Mpi {
    fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A task sent may already run on its rank: it runs to its end there, its result is
    /// dropped.
    fn cancel(&self, id: u64, error: Error) -> bool {
        self.links.cancel(id, error)
    }

    fn cancel_error(&self) -> Error {
        lifecycle::unfinished()
    }
}

impl Mpi {
    pub(super) fn new(links: Arc<Links>) -> Self {
        Mpi {
            links,
            ledger: Arc::new(Ledger::new()),
        }
    }

    /// No worker ranks: tasks run on rank 0.
    fn local(&self) -> bool {
        self.links.links.is_empty()
    }
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("workers", &self.links.links.len())
            .finish()
    }
}

/// `map` on the links: guided chunks, each to the next rank with room.
fn map_on<A, R>(
    links: &Arc<Links>,
    ledger: &Arc<Ledger>,
    call: task::Call,
    items: &[A],
) -> Result<Vec<R>>
where
    A: Serialize,
    R: DeserializeOwned,
{
    let live = links.links.iter().filter(|l| !l.is_lost()).count();
    let sizes = guided_chunks(items.len(), live);
    let mut starts = Vec::with_capacity(sizes.len());
    let mut at = 0;
    for size in &sizes {
        starts.push(at);
        at += size;
    }
    let mut dispatch = Dispatch::new(links.clone(), ledger.clone());
    let mut results: Vec<Option<Vec<R>>> = (0..sizes.len()).map(|_| None).collect();
    let (mut next, mut first_error) = (0, None::<Error>);
    let mut input = Vec::new();
    loop {
        while first_error.is_none() && next < sizes.len() && dispatch.has_room() {
            input.clear();
            input.extend_from_slice(&call.input);
            crate::ipc::codec::encode_into(
                &items[starts[next]..starts[next] + sizes[next]],
                &mut input,
            )?;
            dispatch.send(next, call.offset, &input)?;
            next += 1;
        }
        if next < sizes.len() && first_error.is_none() && dispatch.in_flight == 0 {
            return Err(links.first_lost().unwrap_or_else(|| links.all_lost()));
        }
        let Some((chunk, outcome)) = dispatch.receive::<R>() else {
            break;
        };
        match outcome {
            Ok(values) => results[chunk] = Some(values),
            // A lost rank ends the call now: the job cannot go on without it.
            Err(e) if e.kind() == ErrorKind::WorkerDied => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(results.into_iter().flatten().flatten().collect())
}

/// `apply` on the links: one task to the least busy rank.
fn apply_on<R: DeserializeOwned>(
    links: &Links,
    ledger: &Arc<Ledger>,
    call: task::Call,
) -> Result<R> {
    let index = links.least_busy().ok_or_else(|| links.all_lost())?;
    let (sent, outcome) = sync_channel(1);
    dispatch::submit(links, ledger, index, call.offset, &call.input, move |o| {
        let _ = sent.send(o);
    });
    // Every task sent finishes (with its value, its error or its rank's loss).
    let outcome = outcome.recv().unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Disconnected,
            "the task channel closed",
        ))
    });
    let (tag, bytes) = outcome?;
    task::outcome(tag, &bytes, &links.links[index].name())
}

impl Pool<Mpi> {
    /// How many ranks run tasks: the job's size minus rank 0, still live (1 when tasks
    /// run on rank 0 itself).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// assert_eq!(cluster.pool()?.workers(), (cluster.size() - 1).max(1));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        let links = &self.backend.links.links;
        if links.is_empty() {
            1
        } else {
            links.iter().filter(|l| !l.is_lost()).count()
        }
    }

    /// Applies `f` to every item on the worker ranks and returns the results in input
    /// order (Python's `Pool.map`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// assert_eq!(pool.map(|x: u64| x * x, 0..5)?, [0, 1, 4, 9, 16]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first failed chunk's [`ErrorKind::TaskPanicked`] or
    /// [`ErrorKind::Serialization`] once the chunks in flight have finished;
    /// [`ErrorKind::WorkerDied`] at once when a rank is lost (naming it and its host);
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`] after `close` / `terminate`.
    pub fn map<I, F, R>(&self, f: F, items: I) -> Result<Vec<R>>
    where
        I: IntoIterator,
        I::Item: Serialize + DeserializeOwned,
        F: Fn(I::Item) -> R,
        R: Serialize + DeserializeOwned,
    {
        let _busy = self.backend.ledger.busy()?;
        let items: Vec<I::Item> = items.into_iter().collect();
        if self.backend.local() {
            return run_here(|| items.into_iter().map(f).collect());
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let call = call_of::<F, MapChunk<I::Item, R>>(f);
        map_on(&self.backend.links, &self.backend.ledger, call, &items)
    }

    /// Like [`map`](Self::map) for functions of several arguments: each item is a tuple.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn multiply(a: i32, b: i32) -> i32 {
    ///     a * b
    /// }
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// assert_eq!(pool.starmap(multiply, vec![(1, 2), (3, 4)])?, [2, 12]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>>
    where
        I: IntoIterator,
        I::Item: Serialize + DeserializeOwned,
        F: StarFn<I::Item>,
        F::Output: Serialize + DeserializeOwned,
    {
        self.map(move |args| f.call(args), items)
    }

    /// Runs `f` on a worker rank and waits for its value (Python's `apply`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// println!("ran on {}", pool.apply(paralelo::mpi::this_host)?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    pub fn apply<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R,
        R: Serialize + DeserializeOwned,
    {
        let _busy = self.backend.ledger.busy()?;
        if self.backend.local() {
            return run_here(f);
        }
        let call = call_of::<F, ApplyTask<R>>(f);
        apply_on(&self.backend.links, &self.backend.ledger, call)
    }

    /// Sends `f` to a worker rank and returns at once with an [`AsyncResult`] for its
    /// value (Python's `apply_async`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// let r = pool.apply_async(|| 5 * 5)?;
    /// assert_eq!(r.get()?, 25);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`]; the task's own failure
    /// (as for [`map`](Self::map)) is reported by the [`AsyncResult`].
    pub fn apply_async<F, R>(&self, f: F) -> Result<AsyncResult<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let busy = self.backend.ledger.busy_owned()?;
        let slot = Arc::new(Slot::new());
        slot.start();
        if self.backend.local() {
            let done = slot.clone();
            std::thread::Builder::new()
                .name("paralelo-mpi-local".into())
                .spawn(move || {
                    done.finish(run_here(f));
                    drop(busy);
                })?;
            return Ok(AsyncResult::new(slot));
        }
        let call = call_of::<F, ApplyTask<R>>(f);
        let links = &self.backend.links;
        let Some(index) = links.least_busy() else {
            return Err(links.all_lost());
        };
        let (done, name) = (slot.clone(), links.links[index].name());
        dispatch::submit(
            links,
            &self.backend.ledger,
            index,
            call.offset,
            &call.input,
            move |outcome| {
                done.finish(outcome.and_then(|(tag, bytes)| task::outcome(tag, &bytes, &name)));
                drop(busy);
            },
        );
        Ok(AsyncResult::new(slot))
    }

    /// [`map`](Self::map) in the background (Python's `map_async`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
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
        I::Item: Serialize + DeserializeOwned,
        F: Fn(I::Item) -> R + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let busy = self.backend.ledger.busy_owned()?;
        let slot = Arc::new(Slot::new());
        slot.start();
        let (done, links, ledger) = (
            slot.clone(),
            self.backend.links.clone(),
            self.backend.ledger.clone(),
        );
        let local = self.backend.local();
        let (call, run_local) = if local {
            (None, Some(f))
        } else {
            (Some(call_of::<F, MapChunk<I::Item, R>>(f)), None)
        };
        std::thread::Builder::new()
            .name("paralelo-mpi-map".into())
            .spawn(move || {
                let items: Vec<I::Item> = items.into_iter().collect();
                let outcome = match (call, run_local) {
                    (_, Some(f)) => run_here(|| items.into_iter().map(f).collect()),
                    (Some(call), None) => map_on(&links, &ledger, call, &items),
                    (None, None) => unreachable!("either local or not"),
                };
                done.finish(outcome);
                drop(busy);
            })?;
        Ok(AsyncResult::new(slot))
    }

    /// A lazy iterator over `f` applied to each item, in input order (Python's `imap`):
    /// one item per task, a few tasks per rank in flight, so the input may be endless.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use paralelo::Result;
    ///
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// let firsts: Vec<u64> = pool.imap(|x: u64| x * x, 0..)?.take(5).collect::<Result<_>>()?;
    /// assert_eq!(firsts, [0, 1, 4, 9, 16]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PoolClosed`] / [`ErrorKind::PoolTerminated`]; each item's own failure
    /// is that item's `Err`.
    pub fn imap<I, F, R>(&self, f: F, items: I) -> Result<MpiImap<R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Serialize + DeserializeOwned + 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        self.lazy(f, items, true)
    }

    /// Like [`imap`](Self::imap), yielding each result as soon as it is ready (Python's
    /// `imap_unordered`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use paralelo::Result;
    ///
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// let mut squares: Vec<u64> = pool.imap_unordered(|x: u64| x * x, 0..5)?.collect::<Result<_>>()?;
    /// squares.sort();
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`imap`](Self::imap).
    pub fn imap_unordered<I, F, R>(&self, f: F, items: I) -> Result<MpiImap<R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Serialize + DeserializeOwned + 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        self.lazy(f, items, false)
    }

    fn lazy<I, F, R>(&self, f: F, items: I, ordered: bool) -> Result<MpiImap<R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Serialize + DeserializeOwned + 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        let busy = self.backend.ledger.busy_owned()?;
        let mut input = items.into_iter();
        if self.backend.local() {
            let values = std::iter::from_fn(move || input.next().map(|item| run_here(|| f(item))));
            return Ok(MpiImap::local(busy, Box::new(values)));
        }
        let call = call_of::<F, MapChunk<I::Item, R>>(f);
        let chunks = std::iter::from_fn(move || {
            let item = input.next()?;
            let mut bytes = call.input.clone();
            Some(
                crate::ipc::codec::encode_into(std::slice::from_ref(&item), &mut bytes)
                    .map(|()| bytes),
            )
        });
        let dispatch = Dispatch::new(self.backend.links.clone(), self.backend.ledger.clone());
        let window = 2 * self.workers() + 2;
        Ok(MpiImap::remote(
            busy,
            dispatch,
            call.offset,
            Box::new(chunks),
            ordered,
            window,
        ))
    }

    /// Stops taking work; tasks already sent still run (Python's `close`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use paralelo::ErrorKind;
    ///
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// pool.close();
    /// pool.join()?;
    /// assert_eq!(pool.apply(|| 1).unwrap_err().kind(), ErrorKind::PoolClosed);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn close(&self) {
        self.backend.close();
    }

    /// Stops taking work and fails every unfinished task at once with
    /// [`ErrorKind::Cancelled`] (Python's `terminate`). Returns how many were failed. A
    /// task already running on a rank runs to its end there; its result is dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// let r = pool.apply_async(|| std::thread::sleep(std::time::Duration::from_secs(5)))?;
    /// pool.terminate();
    /// assert_eq!(r.get().unwrap_err().kind(), paralelo::ErrorKind::Cancelled);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn terminate(&self) -> usize {
        self.backend.terminate()
    }

    /// Waits for every task in flight to finish (Python's `join`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the pool was neither closed nor terminated.
    pub fn join(&self) -> Result<()> {
        self.backend.join()
    }

    /// Like [`join`](Self::join), giving up after `timeout`. True when everything finished.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.backend.join_timeout(timeout)
    }
}
