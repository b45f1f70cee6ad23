//! The lazy iterators of `imap` and `imap_unordered`.
//!
//! Both keep a bounded window of chunks in flight and read more input only as results are
//! consumed, so the input can be endless.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::async_result::{AsyncResult, Slot};
use super::threads::ChunkJob;
use super::{Pool, Threads};
use crate::Result;

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
