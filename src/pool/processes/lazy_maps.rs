//! The process pool's lazy maps (`imap`, `imap_unordered`, `imap_with_chunksize`): each
//! chunk is forked as results are consumed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Processes;
use crate::Result;
use crate::pool::Pool;
use crate::pool::process::{ChildTask, ProcessImap, Runner, encode_results_into};

impl Pool<Processes> {
    /// A lazy iterator over `f` applied to each item, in input order (Python's `imap`).
    ///
    /// Chunks (of [`chunksize`](Self::chunksize) items, 1 by default as in Python) are
    /// forked as the results are consumed, at most one child per worker at a time: the
    /// input may be endless. Each chunk's outcome is its own: a chunk whose process
    /// crashed gives an error for each of its items, and the iteration goes on.
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
    /// let pool = Pool::processes(2)?;
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
    /// [`ErrorKind::PoolClosed`](crate::ErrorKind::PoolClosed) / [`ErrorKind::PoolTerminated`](crate::ErrorKind::PoolTerminated) when the pool takes no
    /// work; after a `terminate`, the iteration ends with an [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) item.
    pub fn imap<I, F, R>(&self, f: F, items: I) -> Result<ProcessImap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        self.lazy_imap(f, items, true)
    }

    /// Like [`imap`](Self::imap), but yields each chunk's results as soon as they are
    /// ready, in any order (Python's `imap_unordered`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
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
    pub fn imap_unordered<I, F, R>(&self, f: F, items: I) -> Result<ProcessImap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        self.lazy_imap(f, items, false)
    }

    /// Like [`imap`](Self::imap) with this call's own chunk size (Python's
    /// `pool.imap(f, items, chunksize)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let pool = Pool::processes(2)?;
    /// let v: Vec<u32> = pool.imap_with_chunksize(|x: u32| x + 1, 0..5u32, 2)?.collect::<Result<_>>()?;
    /// assert_eq!(v, [1, 2, 3, 4, 5]);
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
    ) -> Result<ProcessImap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        let chunksize = crate::pool::chunking::checked_chunksize(chunksize)?;
        self.imap_in_chunks(f, items, true, chunksize)
    }

    fn lazy_imap<I, F, R>(&self, f: F, items: I, ordered: bool) -> Result<ProcessImap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        self.imap_in_chunks(
            f,
            items,
            ordered,
            self.backend.engine.chunksize.unwrap_or(1),
        )
    }

    fn imap_in_chunks<I, F, R>(
        &self,
        f: F,
        items: I,
        ordered: bool,
        per: usize,
    ) -> Result<ProcessImap<'_, R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: Serialize + DeserializeOwned,
    {
        let busy = self.backend.busy()?;
        let engine = self.backend.engine();
        let sizes = Rc::new(RefCell::new(HashMap::new()));
        let (record, f) = (sizes.clone(), Rc::new(f));
        let mut input = items.into_iter();
        let mut index = 0;
        let init = engine.initializer.clone();
        let chunks = std::iter::from_fn(move || {
            let chunk: Vec<I::Item> = input.by_ref().take(per).collect();
            if chunk.is_empty() {
                return None;
            }
            record.borrow_mut().insert(index, chunk.len());
            index += 1;
            let (f, init) = (f.clone(), init.clone());
            Some(Box::new(move |out: &mut Vec<u8>| {
                if let Some(init) = init {
                    init();
                }
                encode_results_into(chunk.into_iter().map(&*f), out).map_err(|e| e.to_string())
            }) as ChildTask<'static>)
        });
        Ok(ProcessImap {
            _busy: busy,
            runner: Runner::new(
                Box::new(chunks),
                engine.workers,
                engine.children.clone(),
                "ForkPoolWorker",
            ),
            ordered,
            sizes,
            early: BTreeMap::new(),
            next: 0,
            window: 2 * engine.workers + 2,
            ready: Vec::new().into_iter(),
        })
    }
}
