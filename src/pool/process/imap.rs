//! The lazy iterator of the process pool's `imap` and `imap_unordered`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::children::{Outcome, PastDeadline, Runner};
use super::jobs::Jobs;
use crate::pool::lifecycle::Busy;
use crate::{Error, ErrorKind, Result};

/// The iterator returned by [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered) on a process pool: each item's
/// result, in input order (`imap`) or as soon as ready (`imap_unordered`).
///
/// It is lazy: chunks are cut from the input and forked only as results are consumed (at
/// most one child per worker at a time), so the input may be endless. Dropping it early
/// stops the children still running.
#[must_use = "imap is lazy: nothing runs until the iterator is consumed"]
pub struct ProcessImap<'p, R> {
    pub(in crate::pool) _busy: Busy<'p, Jobs>,
    pub(in crate::pool) runner: Runner<'static>,
    pub(in crate::pool) ordered: bool,
    /// Items per chunk index, written by the chunk generator, read when the chunk lands.
    pub(in crate::pool) sizes: Rc<RefCell<HashMap<usize, usize>>>,
    /// Chunks that landed before an earlier one (ordered mode).
    pub(in crate::pool) early: BTreeMap<usize, Result<Vec<u8>>>,
    pub(in crate::pool) next: usize,
    /// How far ahead of `next` chunks may be started (ordered mode).
    pub(in crate::pool) window: usize,
    pub(in crate::pool) ready: std::vec::IntoIter<Result<R>>,
}

impl<R: DeserializeOwned> ProcessImap<'_, R> {
    /// Python's `next(timeout)`: the next result, waiting at most `timeout` for it. A
    /// [`Timeout`](crate::ErrorKind::Timeout) error when it is not ready by then; nothing is
    /// lost, the children go on, and a later call gives the result. `None` at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// fn slow_square(x: u64) -> u64 {
    ///     if x == 0 {
    ///         std::thread::sleep(Duration::from_millis(300));
    ///     }
    ///     x * x
    /// }
    ///
    /// let pool = Pool::processes(2)?;
    /// let mut it = pool.imap(slow_square, vec![0u64, 2])?;
    /// assert!(it.next_timeout(Duration::from_millis(1)).unwrap().unwrap_err().is_timeout());
    /// assert_eq!(it.next_timeout(Duration::from_secs(10)).unwrap()?, 0);
    /// assert_eq!(it.next().unwrap()?, 4);
    /// assert!(it.next_timeout(Duration::from_secs(1)).is_none());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<R>> {
        loop {
            if let Some(item) = self.ready.next() {
                return Some(item);
            }
            let (index, outcome) = match self.next_chunk(deadline) {
                Ok(next) => next?,
                Err(PastDeadline) => {
                    return Some(Err(Error::new(
                        ErrorKind::Timeout,
                        "the next result is not ready yet (its task is still running; \
                         call next_timeout again later)",
                    )));
                }
            };
            let size = self.sizes.borrow_mut().remove(&index).unwrap_or(1);
            self.ready = match outcome.and_then(|bytes| crate::ipc::codec::decode::<Vec<R>>(&bytes))
            {
                Ok(values) => values.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
                // The chunk failed as a whole: each of its items carries the error.
                Err(e) => (0..size.max(1))
                    .map(|_| Err(Error::new(e.kind(), e.message())))
                    .collect::<Vec<_>>()
                    .into_iter(),
            };
        }
    }

    /// The next chunk's outcome and index, in the iterator's order; `Err` at `deadline`.
    fn next_chunk(
        &mut self,
        deadline: Option<Instant>,
    ) -> std::result::Result<Option<Outcome>, PastDeadline> {
        if !self.ordered {
            return self.runner.next_outcome_until(usize::MAX, deadline);
        }
        loop {
            if let Some(outcome) = self.early.remove(&self.next) {
                self.next += 1;
                return Ok(Some((self.next - 1, outcome)));
            }
            // A few chunks ahead of the one awaited, no more (as the thread pool's window).
            let Some((index, outcome)) = self
                .runner
                .next_outcome_until(self.next + self.window, deadline)?
            else {
                return Ok(None);
            };
            self.early.insert(index, outcome);
        }
    }
}

impl<R: DeserializeOwned> Iterator for ProcessImap<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_until(None)
    }
}

impl<R> std::fmt::Debug for ProcessImap<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessImap")
            .field("ordered", &self.ordered)
            .finish()
    }
}
