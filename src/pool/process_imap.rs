//! The lazy iterator of the process pool's `imap` and `imap_unordered`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde::de::DeserializeOwned;

use super::processes::Busy;
use crate::process::children::Runner;
use crate::{Error, Result};

/// The iterator returned by [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered) on a process pool: each item's
/// result, in input order (`imap`) or as soon as ready (`imap_unordered`).
///
/// It is lazy: chunks are cut from the input and forked only as results are consumed (at
/// most one child per worker at a time), so the input may be endless. Dropping it early
/// stops the children still running.
#[must_use = "imap is lazy: nothing runs until the iterator is consumed"]
pub struct ProcessImap<'p, R> {
    pub(super) _busy: Busy<'p>,
    pub(super) runner: Runner<'static>,
    pub(super) ordered: bool,
    /// Items per chunk index, written by the chunk generator, read when the chunk lands.
    pub(super) sizes: Rc<RefCell<HashMap<usize, usize>>>,
    /// Chunks that landed before an earlier one (ordered mode).
    pub(super) early: BTreeMap<usize, Result<Vec<u8>>>,
    pub(super) next: usize,
    /// How far ahead of `next` chunks may be started (ordered mode).
    pub(super) window: usize,
    pub(super) ready: std::vec::IntoIter<Result<R>>,
}

impl<R: DeserializeOwned> ProcessImap<'_, R> {
    /// The next chunk's outcome and index, in the iterator's order.
    fn next_chunk(&mut self) -> Option<(usize, Result<Vec<u8>>)> {
        if !self.ordered {
            return self.runner.next_outcome();
        }
        loop {
            if let Some(outcome) = self.early.remove(&self.next) {
                self.next += 1;
                return Some((self.next - 1, outcome));
            }
            // A few chunks ahead of the one awaited, no more (as the thread pool's window).
            let (index, outcome) = self.runner.next_outcome_below(self.next + self.window)?;
            self.early.insert(index, outcome);
        }
    }
}

impl<R: DeserializeOwned> Iterator for ProcessImap<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        loop {
            if let Some(item) = self.ready.next() {
                return Some(item);
            }
            let (index, outcome) = self.next_chunk()?;
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
}

impl<R> std::fmt::Debug for ProcessImap<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessImap")
            .field("ordered", &self.ordered)
            .finish()
    }
}
