//! The engine of the process-backed [`Pool`](super::Pool): cuts the work into tasks, runs
//! them in child processes (forked for the call, or persistent: see `map_chunks`),
//! decodes the results in order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::builder::Initializer;
use super::process_workers::Crew;
use crate::ipc::codec;
use crate::process::children::{ChildTask, Children, cancelled, run_tasks, run_tasks_with};
use crate::process::chunk_workers::{Forked, run_chunks};
use crate::process::map_crew::MapCrew;
use crate::sys::{EncodeResults, PlainCall, plain_bytes};
use crate::{Error, ErrorKind, Result};

/// Runs tasks in children; clonable into the runner threads.
#[derive(Clone)]
pub(super) struct Engine {
    pub(super) workers: usize,
    pub(super) chunksize: Option<usize>,
    pub(super) initializer: Option<Initializer>,
    /// Map chunks each in a fresh process (`fresh_process_per_task`, `maxtasksperchild`).
    pub(super) fresh: bool,
    pub(super) children: Arc<Children>,
    /// Persistent workers for stateless `apply` tasks.
    pub(super) crew: Arc<Crew>,
    /// Persistent workers for `map` with a stateless function over plain items.
    pub(super) map_crew: Arc<MapCrew>,
}

/// Encodes a chunk's results as persistent `map` workers send them (the bytes of a
/// `Vec<R>`, as from a forked child).
struct EncodeChunk;

impl<R: Serialize> EncodeResults<R> for EncodeChunk {
    fn encode(
        results: impl ExactSizeIterator<Item = R>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), String> {
        encode_results_into(results, out).map_err(|e| e.to_string())
    }
}

pub(super) fn encode<R: Serialize>(value: &R) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    codec::encode_into(value, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Encodes a chunk's results as they are computed (the bytes of a `Vec<R>`); an error
/// names `Vec<R>`, the user's type, not the wrapper.
pub(super) fn encode_results_into<I>(results: I, out: &mut Vec<u8>) -> Result<()>
where
    I: ExactSizeIterator,
    I::Item: Serialize,
{
    codec::encode_into_as(&EncodeAsComputed(RefCell::new(Some(results))), out, || {
        format!("Vec<{}>", std::any::type_name::<I::Item>())
    })
}

/// As [`encode_results_into`], into a new buffer.
pub(super) fn encode_results<I>(results: I) -> std::result::Result<Vec<u8>, String>
where
    I: ExactSizeIterator,
    I::Item: Serialize,
{
    let mut out = Vec::new();
    encode_results_into(results, &mut out).map_err(|e| e.to_string())?;
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

/// The share of the items still to cut that an automatic chunk takes, per worker.
const GUIDED_SHARE: usize = 4;

/// The floor of automatic chunks: 1/(`SMALLEST_SHARE` × workers) of the window. Finer
/// than Python's 1/4 of a worker's share, since a chunk costs a socket round trip here,
/// not a fork.
const SMALLEST_SHARE: usize = 64;

/// Chunks per worker in a window, at least, with a chunk size set.
const MIN_WINDOW_CHUNKS: usize = 16;

/// At most this many bytes of items per chunk sent to a persistent worker: a message
/// stays well within a socket's buffer.
const MAX_ITEM_BYTES: usize = 32 * 1024;

/// Items per window of chunks handed to the children of one fork (with a chunk size
/// set, at least [`MIN_WINDOW_CHUNKS`] chunks per worker): bounds the input held at
/// once, and the forks of a long input with small chunks.
const WINDOW_ITEMS: usize = 1 << 20;

/// Automatic chunk sizes for a window of `n` items on `workers` children: each chunk
/// is about 1/([`GUIDED_SHARE`] × `workers`) of the items still to cut, at least
/// `n / (SMALLEST_SHARE × workers)`, at most `largest` (and [`MAX_AUTO_CHUNK`]). Big chunks
/// first cost few round trips; small ones last keep a child from running a long chunk
/// alone while the other idles ("guided" scheduling).
pub(super) fn guided_chunks(n: usize, workers: usize, largest: usize) -> Vec<usize> {
    let workers = workers.max(1);
    let largest = largest.clamp(1, MAX_AUTO_CHUNK);
    let smallest = n.div_ceil(SMALLEST_SHARE * workers).clamp(1, largest);
    let mut left = n;
    let mut sizes = Vec::new();
    while left > 0 {
        let size = left
            .div_ceil(GUIDED_SHARE * workers)
            .clamp(smallest, largest)
            .min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Decodes chunk outcomes as they come and hands them to a sink in chunk order; those
/// that finish before an earlier one wait here, decoded (the receive buffer they came
/// in is reused at once).
struct InOrder<'s, R> {
    sink: &'s mut dyn FnMut(Result<Vec<R>>),
    early: BTreeMap<usize, Result<Vec<R>>>,
    next: usize,
}

impl<'s, R: DeserializeOwned> InOrder<'s, R> {
    fn new(sink: &'s mut dyn FnMut(Result<Vec<R>>)) -> Self {
        InOrder {
            sink,
            early: BTreeMap::new(),
            next: 0,
        }
    }

    /// How many chunks went to the sink.
    fn emitted(&self) -> usize {
        self.next
    }

    fn put(&mut self, index: usize, outcome: Result<&[u8]>) {
        let outcome = outcome.and_then(codec::decode);
        if index != self.next {
            self.early.insert(index, outcome);
            return;
        }
        (self.sink)(outcome);
        self.next += 1;
        while let Some(outcome) = self.early.remove(&self.next) {
            (self.sink)(outcome);
            self.next += 1;
        }
    }

    /// The run stops here: the next chunk's outcome is `error`.
    fn stop(&mut self, error: Error) {
        (self.sink)(Err(error));
    }
}

impl Engine {
    /// The chunk size for `n` items: the one set, or about `per_worker` chunks per worker
    /// (Python's rule is four), capped at [`MAX_AUTO_CHUNK`].
    pub(super) fn chunk_len(&self, n: usize, per_worker: usize) -> usize {
        self.chunksize
            .unwrap_or_else(|| n.div_ceil(per_worker * self.workers).min(MAX_AUTO_CHUNK))
            .max(1)
    }

    /// `f` over `items` in children; each chunk's outcome goes to `sink`, in order, as
    /// soon as it and every chunk before it are done.
    ///
    /// Up to `workers` children take chunk after chunk (see
    /// `crate::process::chunk_workers`) from windows of chunks cut from `items`: neither
    /// the input nor the encoded results of a long input are ever all in memory at once.
    /// A stateless `f` over plain items (numbers, `bool`, `char`) runs on persistent
    /// workers, which get each chunk's items as bytes (`crate::process::map_crew`); any
    /// other call forks its children, which have every chunk of the window in memory.
    /// Pools with an initializer or pinned cores keep one process per chunk, as
    /// documented (the initializer before each chunk, each chunk's core in turn).
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
        if self.initializer.is_some() || self.children.is_pinned() || self.fresh {
            let per = self.chunk_len(low, 4);
            return self.map_process_per_chunk(f, items, per, sink);
        }
        // A chunk costs a round trip on a socket here, not a fork: finer chunks than
        // Python's four per worker balance better. Automatic chunks shrink as the window
        // is consumed (see `guided_chunks`), so that the children finish together.
        let epoch = crate::interrupt::epoch();
        let plain = PlainCall::of::<A, F, R, EncodeChunk>().filter(|_| self.map_crew.is_owner());
        let largest = match plain {
            Some(_) => MAX_ITEM_BYTES / std::mem::size_of::<A>().max(1),
            None => usize::MAX,
        };
        let mut items = items;
        let mut left = low;
        let mut emitter = InOrder::new(sink);
        loop {
            let sizes = match self.chunksize {
                Some(per) => {
                    let per = per.clamp(1, largest);
                    vec![per; (WINDOW_ITEMS / per).max(MIN_WINDOW_CHUNKS * self.workers)]
                }
                // At least one item: the input's hint is exact here, but a wrong one must
                // not lose items.
                None => guided_chunks(left.clamp(1, WINDOW_ITEMS), self.workers, largest),
            };
            let chunks: Vec<Vec<A>> = sizes
                .into_iter()
                .map_while(|per| {
                    let chunk: Vec<A> = items.by_ref().take(per).collect();
                    (!chunk.is_empty()).then_some(chunk)
                })
                .collect();
            left = left.saturating_sub(chunks.iter().map(Vec::len).sum());
            if chunks.is_empty() {
                return;
            }
            // A stop between two windows: the rest of the input is given up.
            if self.children.is_terminated() {
                return emitter.stop(cancelled());
            }
            if crate::interrupt::happened_since(epoch) {
                return emitter.stop(crate::interrupt::error());
            }
            let count = chunks.len();
            let base = emitter.emitted();
            let on_outcome = |i: usize, outcome: Result<&[u8]>| emitter.put(base + i, outcome);
            match plain {
                Some(call) => {
                    let bytes: Vec<Vec<u8>> = chunks
                        .iter()
                        .map(|c| plain_bytes(c).unwrap_or_default().to_vec())
                        .collect();
                    drop(chunks);
                    let mut supply = self.map_crew.supply(call.addr(), &bytes);
                    run_chunks(count, &mut supply, self.workers, &self.children, on_outcome);
                }
                None => {
                    let mut chunks: Vec<Option<Vec<A>>> = chunks.into_iter().map(Some).collect();
                    // Runs in the children, each on its own copy of `chunks`.
                    let mut run = |i: usize, out: &mut Vec<u8>| {
                        let chunk = chunks[i].take().ok_or("a chunk was given twice")?;
                        EncodeChunk::encode(chunk.into_iter().map(f), out)
                    };
                    let mut supply = Forked::new(&mut run, &self.children, "ForkPoolWorker");
                    run_chunks(count, &mut supply, self.workers, &self.children, on_outcome);
                }
            }
            if emitter.emitted() < base + count {
                return; // some chunk has no outcome: the run was stopped
            }
        }
    }

    /// One process per chunk (see [`map_chunks`](Self::map_chunks)): chunks are cut from
    /// `items` as children become free.
    fn map_process_per_chunk<A, F, R>(
        &self,
        f: &F,
        items: impl Iterator<Item = A>,
        per: usize,
        sink: &mut dyn FnMut(Result<Vec<R>>),
    ) where
        F: Fn(A) -> R,
        R: Serialize + DeserializeOwned,
    {
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
                encode_results(chunk.into_iter().map(f))
            }) as ChildTask<'_>
        });
        let mut emitter = InOrder::new(sink);
        run_tasks_with(
            tasks,
            self.workers,
            &self.children,
            "ForkPoolWorker",
            |index, outcome| match outcome {
                Ok(bytes) => emitter.put(index, Ok(&bytes)),
                Err(e) => emitter.put(index, Err(e)),
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

#[cfg(test)]
mod tests {
    use super::{MAX_AUTO_CHUNK, guided_chunks};

    #[test]
    fn guided_chunks_cover_the_window_and_shrink_to_a_floor() {
        for (n, workers) in [
            (1, 1),
            (7, 2),
            (1000, 2),
            (1000, 5),
            (1 << 20, 2),
            (100, 64),
        ] {
            let sizes = guided_chunks(n, workers, usize::MAX);
            assert_eq!(sizes.iter().sum::<usize>(), n, "n={n} workers={workers}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
            assert!(sizes.iter().all(|s| (1..=MAX_AUTO_CHUNK).contains(s)));
        }
        // 1,000 items on 2 workers: 125 first, 8-item chunks at the end.
        let sizes = guided_chunks(1000, 2, usize::MAX);
        assert_eq!(sizes[0], 125);
        assert_eq!(sizes[sizes.len() - 2], 8);
        assert!(sizes.len() < 40, "{} chunks", sizes.len());
        assert!(guided_chunks(0, 2, usize::MAX).is_empty());
        // Capped (persistent workers' messages): no chunk above the cap.
        let sizes = guided_chunks(100_000, 2, 4096);
        assert_eq!(sizes.iter().sum::<usize>(), 100_000);
        assert!(sizes.iter().all(|&s| s <= 4096));
    }
}
