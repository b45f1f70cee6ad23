//! The lazy iterators of `imap` and `imap_unordered`.
//!
//! Both keep a bounded window of chunks in flight and read more input only as results are
//! consumed, so the input can be endless.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::async_result::{AsyncResult, Slot};
use super::chunking::checked_chunksize;
use super::{Pool, Threads};
use crate::par::catch_panic;
use crate::{Result, interrupt};

/// One `imap` task: a chunk of items already bound to the function.
type ChunkJob<R> = Box<dyn FnOnce() -> Vec<Result<R>> + Send>;

/// Cuts `items` into chunks of `chunksize`, lazily, each bound to `f` as one task whose
/// items fail or succeed one by one.
fn chunk_jobs<I, F, R>(f: F, items: I, chunksize: usize) -> Box<dyn Iterator<Item = ChunkJob<R>>>
where
    I: IntoIterator,
    I::IntoIter: 'static,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    let f = Arc::new(f);
    let epoch = interrupt::epoch();
    let mut input = items.into_iter();
    Box::new(std::iter::from_fn(move || {
        let chunk: Vec<I::Item> = input.by_ref().take(chunksize).collect();
        if chunk.is_empty() {
            return None;
        }
        let f = f.clone();
        let run = move || {
            let one = |x| {
                catch_panic(|| {
                    interrupt::check(epoch);
                    f(x)
                })
            };
            chunk.into_iter().map(one).collect()
        };
        Some(Box::new(run) as ChunkJob<R>)
    }))
}

/// The lazy methods of the thread pool.
impl Pool<Threads> {
    /// A lazy iterator over `f` applied to each item, in input order (Python's `imap`).
    ///
    /// The input is read as the results are consumed: at most a few chunks per worker are
    /// in flight, so an endless or huge iterator streams through in constant memory.
    /// Each item's outcome is its own: a panic on one item is that item's `Err`, and the
    /// iteration goes on.
    ///
    /// The items must be owned (`'static`): `imap(f, &data)` does not compile, where
    /// `map(f, &data)` does. `map` blocks until every item is done, so its tasks may
    /// borrow; `imap` returns a lazy iterator that could be leaked (`mem::forget`) while
    /// workers still read the items, so a borrow could outlive its owner. Give it owned
    /// items (`data.clone()`, an `Arc`, or `(0..data.len())` and an `Arc<Vec<_>>` in `f`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let firsts: Vec<u64> = pool
    ///     .imap(|x: u64| x * x, 0..)? // endless input
    ///     .take(5)
    ///     .collect::<Result<_>>()?;
    /// assert_eq!(firsts, [0, 1, 4, 9, 16]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PoolClosed`](crate::ErrorKind::PoolClosed) / [`ErrorKind::PoolTerminated`](crate::ErrorKind::PoolTerminated) when the pool takes no work.
    pub fn imap<I, F, R>(&self, f: F, items: I) -> Result<Imap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        self.backend.check()?; // refuse at once, as Python does, not at the first item
        Ok(Imap::new(
            self,
            chunk_jobs(f, items, self.imap_chunksize()),
            self.imap_window(),
        ))
    }

    /// Like [`imap`](Self::imap) with this call's own chunk size (Python's
    /// `pool.imap(f, items, chunksize)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let v: Vec<u32> = pool.imap_with_chunksize(|x: u32| x * 2, 0..5u32, 2)?.collect::<Result<_>>()?;
    /// assert_eq!(v, [0, 2, 4, 6, 8]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`imap`](Self::imap); [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a chunk size of 0.
    pub fn imap_with_chunksize<I, F, R>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<Imap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let chunksize = checked_chunksize(chunksize)?;
        self.backend.check()?;
        Ok(Imap::new(
            self,
            chunk_jobs(f, items, chunksize),
            self.imap_window(),
        ))
    }

    /// Like [`imap`](Self::imap), but yields each result as soon as it is ready, in any
    /// order (Python's `imap_unordered`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::new(2)?;
    /// let mut squares: Vec<u64> =
    ///     pool.imap_unordered(|x: u64| x * x, 0..5)?.collect::<Result<_>>()?;
    /// squares.sort();
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`imap`](Self::imap).
    pub fn imap_unordered<I, F, R>(&self, f: F, items: I) -> Result<ImapUnordered<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        self.backend.check()?;
        Ok(ImapUnordered::new(
            self,
            chunk_jobs(f, items, self.imap_chunksize()),
            self.imap_window(),
        ))
    }

    fn imap_chunksize(&self) -> usize {
        self.chunksize().unwrap_or(1)
    }

    /// Chunks in flight for `imap`: enough to keep every worker busy while the consumer
    /// reads, few enough to stream.
    fn imap_window(&self) -> usize {
        2 * self.workers() + 2
    }

    fn spawn_chunk<R: Send + 'static>(
        &self,
        slot: Arc<Slot<Vec<Result<R>>>>,
        job: ChunkJob<R>,
    ) -> Result<()> {
        self.backend.spawn(slot, move || Ok(job()))
    }
}

type Chunks<R> = Box<dyn Iterator<Item = ChunkJob<R>>>;

/// Feeds chunks to the pool while fewer than `window` are in flight.
struct Feeder<'p, R> {
    pool: &'p Pool<Threads>,
    chunks: Chunks<R>,
    window: usize,
    /// Set when the pool refused a chunk (closed or terminated meanwhile): reported once,
    /// then the iteration ends.
    refused: Option<crate::Error>,
    done: bool,
}

impl<'p, R: Send + 'static> Feeder<'p, R> {
    /// Submits the next chunk into a slot made by `make_slot`. None when there is nothing
    /// more to submit.
    fn submit_next(
        &mut self,
        make_slot: impl FnOnce() -> Arc<Slot<Vec<Result<R>>>>,
    ) -> Option<Arc<Slot<Vec<Result<R>>>>> {
        if self.done {
            return None;
        }
        let Some(job) = self.chunks.next() else {
            self.done = true;
            return None;
        };
        let slot = make_slot();
        match self.pool.spawn_chunk(slot.clone(), job) {
            Ok(()) => Some(slot),
            Err(e) => {
                self.refused = Some(crate::Error::new(
                    e.kind(),
                    format!("{e}; the rest of the input was not processed"),
                ));
                self.done = true;
                None
            }
        }
    }
}

/// The iterator returned by [`Pool::imap`]: each item's result, in input order.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::new(2)?;
/// let mut results = pool.imap(|x: u8| x + 1, vec![1, 2])?;
/// assert_eq!(results.next().transpose()?, Some(2));
/// assert_eq!(results.next().transpose()?, Some(3));
/// assert!(results.next().is_none());
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "imap is lazy: nothing runs until the iterator is consumed"]
pub struct Imap<'p, R> {
    feeder: Feeder<'p, R>,
    in_flight: VecDeque<AsyncResult<Vec<Result<R>>>>,
    ready: std::vec::IntoIter<Result<R>>,
}

impl<'p, R: Send + 'static> Imap<'p, R> {
    pub(super) fn new(pool: &'p Pool<Threads>, chunks: Chunks<R>, window: usize) -> Self {
        Imap {
            feeder: Feeder {
                pool,
                chunks,
                window,
                refused: None,
                done: false,
            },
            in_flight: VecDeque::new(),
            ready: Vec::new().into_iter(),
        }
    }
}

impl<R: Send + 'static> Imap<'_, R> {
    /// The next result, waiting at most `timeout` for it (Python's `next(timeout)` on
    /// `imap`'s iterator). `None` at the end, as `next`.
    ///
    /// On a timeout nothing is lost: the result stays in flight and a later call (or
    /// `next`) returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap(|ms: u64| { std::thread::sleep(Duration::from_millis(ms)); ms }, [300, 0])?;
    /// assert!(it.next_timeout(Duration::from_millis(1)).unwrap().unwrap_err().is_timeout());
    /// assert_eq!(it.next_timeout(Duration::from_secs(10)).unwrap()?, 300);
    /// assert_eq!(it.next().unwrap()?, 0);
    /// assert!(it.next_timeout(Duration::from_secs(1)).is_none());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Option<Result<R>> {
        self.next_until(Some(std::time::Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<std::time::Instant>) -> Option<Result<R>> {
        loop {
            if let Some(item) = self.ready.next() {
                return Some(item);
            }
            while self.in_flight.len() < self.feeder.window {
                match self.feeder.submit_next(|| Arc::new(Slot::new())) {
                    Some(slot) => self.in_flight.push_back(AsyncResult::new(slot)),
                    None => break,
                }
            }
            let Some(oldest) = self.in_flight.front() else {
                return self.feeder.refused.take().map(Err);
            };
            let outcome = oldest.take_until(deadline);
            if matches!(&outcome, Err(e) if e.is_timeout() && !oldest.ready()) {
                return Some(outcome.map(|_| unreachable!("a timeout carries no value")));
            }
            self.in_flight.pop_front();
            match outcome {
                Ok(chunk) => self.ready = chunk.into_iter(),
                // The whole chunk never ran (its pool was terminated).
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<R: Send + 'static> Iterator for Imap<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_until(None)
    }
}

/// The iterator returned by [`Pool::imap_unordered`]: each item's result, as soon as ready.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::new(2)?;
/// let total: u32 = pool.imap_unordered(|x: u32| x * 10, 1..=3)?.map(|r| r.unwrap()).sum();
/// assert_eq!(total, 60);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[must_use = "imap_unordered is lazy: nothing runs until the iterator is consumed"]
pub struct ImapUnordered<'p, R> {
    feeder: Feeder<'p, R>,
    in_flight: HashMap<usize, AsyncResult<Vec<Result<R>>>>,
    next_tag: usize,
    landed_tx: Sender<usize>,
    landed_rx: Receiver<usize>,
    ready: std::vec::IntoIter<Result<R>>,
}

impl<'p, R: Send + 'static> ImapUnordered<'p, R> {
    pub(super) fn new(pool: &'p Pool<Threads>, chunks: Chunks<R>, window: usize) -> Self {
        let (landed_tx, landed_rx) = channel();
        ImapUnordered {
            feeder: Feeder {
                pool,
                chunks,
                window,
                refused: None,
                done: false,
            },
            in_flight: HashMap::new(),
            next_tag: 0,
            landed_tx,
            landed_rx,
            ready: Vec::new().into_iter(),
        }
    }
}

impl<R: Send + 'static> ImapUnordered<'_, R> {
    /// The next result to be ready, waiting at most `timeout` (Python's `next(timeout)`).
    /// `None` at the end. On a timeout nothing is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap_unordered(|ms: u64| { std::thread::sleep(Duration::from_millis(ms)); ms }, [300])?;
    /// assert!(it.next_timeout(Duration::from_millis(1)).unwrap().unwrap_err().is_timeout());
    /// assert_eq!(it.next_timeout(Duration::from_secs(10)).unwrap()?, 300);
    /// assert!(it.next_timeout(Duration::from_secs(1)).is_none());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Option<Result<R>> {
        self.next_until(Some(std::time::Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<std::time::Instant>) -> Option<Result<R>> {
        loop {
            if let Some(item) = self.ready.next() {
                return Some(item);
            }
            while self.in_flight.len() < self.feeder.window {
                let tag = self.next_tag;
                let tx = self.landed_tx.clone();
                match self
                    .feeder
                    .submit_next(|| Arc::new(Slot::notifying(tx, tag)))
                {
                    Some(slot) => {
                        self.in_flight.insert(tag, AsyncResult::new(slot));
                        self.next_tag += 1;
                    }
                    None => break,
                }
            }
            if self.in_flight.is_empty() {
                return self.feeder.refused.take().map(Err);
            }
            // Every slot in flight lands exactly once (run or cancelled) and sends its tag,
            // and this iterator holds a sender: the channel cannot be closed here.
            let tag = match deadline {
                None => self
                    .landed_rx
                    .recv()
                    .expect("imap_unordered: sender held by self"),
                Some(d) => match self
                    .landed_rx
                    .recv_timeout(d.saturating_duration_since(std::time::Instant::now()))
                {
                    Ok(tag) => tag,
                    Err(_) => {
                        return Some(Err(crate::Error::new(
                            crate::ErrorKind::Timeout,
                            "no result was ready before the timeout (call next again later)",
                        )));
                    }
                },
            };
            let landed = self.in_flight.remove(&tag).expect("each tag lands once");
            match landed.into_value() {
                Ok(chunk) => self.ready = chunk.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<R: Send + 'static> Iterator for ImapUnordered<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_until(None)
    }
}
