//! The engine of the process-backed [`Pool`](super::Pool): cuts the work into tasks, runs
//! each in a forked child (see `crate::process::children`), decodes the results in order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::builder::Initializer;
use super::process_workers::Crew;
use crate::ipc::codec;
use crate::process::children::{ChildTask, Children, run_tasks, run_tasks_with};
use crate::{Error, ErrorKind, Result};

/// Runs tasks in children; clonable into the runner threads.
#[derive(Clone)]
pub(super) struct Engine {
    pub(super) workers: usize,
    pub(super) chunksize: Option<usize>,
    pub(super) initializer: Option<Initializer>,
    pub(super) children: Arc<Children>,
    /// Persistent workers for stateless `apply` tasks.
    pub(super) crew: Arc<Crew>,
}

pub(super) fn encode<R: Serialize>(value: &R) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    codec::encode_into(value, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The results of a chunk, encoded as they are computed (the same bytes as a `Vec<R>`)
/// so that a worker never holds the results and their encoding at once.
pub(super) struct EncodeAsComputed<I>(pub(super) RefCell<Option<I>>);

impl<I> Serialize for EncodeAsComputed<I>
where
    I: ExactSizeIterator,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let items = self.0.borrow_mut().take();
        let items = items.ok_or_else(|| serde::ser::Error::custom("chunk encoded twice"))?;
        serializer.collect_seq(items)
    }
}

/// At most this many items per automatic chunk: bounds what each worker and the owner
/// hold at once, for a few more forks on very long inputs.
const MAX_AUTO_CHUNK: usize = 1 << 16;

impl Engine {
    /// The chunk size for `n` items: the one set, or Python's rule (about four chunks per
    /// worker), capped at [`MAX_AUTO_CHUNK`].
    pub(super) fn chunk_len(&self, n: usize) -> usize {
        self.chunksize
            .unwrap_or_else(|| n.div_ceil(4 * self.workers).min(MAX_AUTO_CHUNK))
            .max(1)
    }

    /// `f` over `items` in children, one chunk per child; each chunk's outcome goes to
    /// `sink`, in order, as soon as it and every chunk before it are done. Chunks are cut
    /// from `items` as children become free, and decoded one at a time: neither the input
    /// nor the encoded results are ever all in memory at once (unless the input's length
    /// is unknown and the chunk size is automatic: then it is collected first).
    pub(super) fn map_chunks<A, F, R>(
        &self,
        f: &F,
        items: impl Iterator<Item = A>,
        sink: &mut dyn FnMut(Result<Vec<R>>),
    ) where
        F: Fn(A) -> R,
        R: Serialize + DeserializeOwned,
    {
        let (low, high) = items.size_hint();
        if self.chunksize.is_none() && high != Some(low) {
            let items: Vec<A> = items.collect();
            return self.map_chunks(f, items.into_iter(), sink);
        }
        let per = self.chunk_len(low);
        let mut items = items;
        let chunks = std::iter::from_fn(move || {
            let chunk: Vec<A> = items.by_ref().take(per).collect();
            (!chunk.is_empty()).then_some(chunk)
        });
        let tasks = chunks.map(|chunk| {
            let init = self.initializer.clone();
            Box::new(move || {
                if let Some(init) = init {
                    init();
                }
                encode(&EncodeAsComputed(RefCell::new(Some(
                    chunk.into_iter().map(f),
                ))))
            }) as ChildTask<'_>
        });
        // Chunks that finished before an earlier one wait here, still encoded.
        let mut early: BTreeMap<usize, Result<Vec<u8>>> = BTreeMap::new();
        let mut next = 0;
        run_tasks_with(
            tasks,
            self.workers,
            &self.children,
            "ForkPoolWorker",
            |index, outcome| {
                early.insert(index, outcome);
                while let Some(outcome) = early.remove(&next) {
                    sink(outcome.and_then(|bytes| codec::decode(&bytes)));
                    next += 1;
                }
            },
        );
    }

    pub(super) fn map<A, F, R>(&self, f: &F, items: impl Iterator<Item = A>) -> Result<Vec<R>>
    where
        F: Fn(A) -> R,
        R: Serialize + DeserializeOwned,
    {
        let mut out = Vec::with_capacity(items.size_hint().0);
        let mut first_error = None;
        self.map_chunks(f, items, &mut |chunk| match chunk {
            Ok(values) => out.extend(values),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        });
        match first_error {
            None => Ok(out),
            Some(e) => Err(e),
        }
    }

    pub(super) fn apply<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R,
        R: Serialize + DeserializeOwned,
    {
        // A pool with an initializer or pinned cores keeps its documented per-task
        // processes (the initializer before each task, each task's core in turn).
        let f = if self.initializer.is_none() && !self.children.is_pinned() {
            match self.crew.try_apply(f) {
                Ok(outcome) => return outcome,
                Err(f) => f,
            }
        } else {
            f
        };
        let init = self.initializer.clone();
        let task: ChildTask<'_> = Box::new(move || {
            if let Some(init) = init {
                init();
            }
            encode(&f())
        });
        let outcome = run_tasks(vec![task], 1, &self.children, "ForkPoolWorker").pop();
        codec::decode(
            &outcome.unwrap_or_else(|| Err(Error::new(ErrorKind::Cancelled, "no outcome")))?,
        )
    }
}
