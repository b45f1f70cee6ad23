//! The engine of the process-backed [`Pool`](super::Pool): cuts the work into tasks, runs
//! them in child processes (forked for the call, or the persistent crew: see `map_chunks`),
//! decodes the results in order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::children::{ChildTask, Children, cancelled, run_tasks, run_tasks_with};
use super::chunk_workers::{Forked, run_chunks};
use super::crew::Crew;
use super::frame;
use super::route::{Call, Route, Shape, route};
use crate::ipc::codec;
use crate::pool::builder::Initializer;
use crate::pool::chunking::{MAX_AUTO_CHUNK, guided_chunks};
use crate::sys::{EncodeResults, ITEM_CAPACITY, PlainCall, plain_bytes};
use crate::{Error, ErrorKind, Result};

/// Runs tasks in children; clonable into the runner threads.
#[derive(Clone)]
pub(in crate::pool) struct Engine {
    pub(in crate::pool) workers: usize,
    pub(in crate::pool) chunksize: Option<usize>,
    pub(in crate::pool) initializer: Option<Initializer>,
    /// Never a persistent worker (`fresh_process_per_task`).
    pub(in crate::pool) fresh: bool,
    pub(in crate::pool) children: Arc<Children>,
    /// Persistent workers for stateless `apply` tasks and for `map` with a stateless
    /// function over plain items.
    pub(in crate::pool) crew: Arc<Crew>,
}

/// Encodes a chunk's results as persistent workers send them (the bytes of a `Vec<R>`,
/// as from a forked child), a panic or an encoding error as its message.
struct EncodeChunk;

impl<R: Serialize> EncodeResults<R> for EncodeChunk {
    fn encode(results: impl ExactSizeIterator<Item = R>, out: &mut Vec<u8>) -> u8 {
        let run = |out: &mut Vec<u8>| encode_results_into(results, out).map_err(|e| e.to_string());
        frame::run_caught(out, 0, run) as u8
    }
}

/// Encodes a chunk's results as they are computed (the bytes of a `Vec<R>`); an error
/// names `Vec<R>`, the user's type, not the wrapper.
pub(in crate::pool) fn encode_results_into<I>(results: I, out: &mut Vec<u8>) -> Result<()>
where
    I: ExactSizeIterator,
    I::Item: Serialize,
{
    codec::encode_into_as(&EncodeAsComputed(RefCell::new(Some(results))), out, || {
        format!("Vec<{}>", std::any::type_name::<I::Item>())
    })
}

/// The results of a chunk, encoded as they are computed (the same bytes as a `Vec<R>`)
/// so that a worker never holds the results and their encoding at once.
pub(in crate::pool) struct EncodeAsComputed<I>(pub(in crate::pool) RefCell<Option<I>>);

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

/// Chunks per worker in a window, at least, with a chunk size set.
const MIN_WINDOW_CHUNKS: usize = 16;

/// At most this many bytes of items per chunk sent to a persistent worker: a request
/// slot of its mailbox.
const MAX_ITEM_BYTES: usize = ITEM_CAPACITY;

/// Items per window of chunks handed to the children of one fork (with a chunk size
/// set, at least [`MIN_WINDOW_CHUNKS`] chunks per worker): bounds the input held at
/// once, and the forks of a long input with small chunks.
const WINDOW_ITEMS: usize = 1 << 20;

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
    /// What the route of a call depends on, of this pool.
    fn shape(&self) -> Shape {
        Shape {
            initializer: self.initializer.is_some(),
            pinned: self.children.is_pinned(),
            fresh: self.fresh,
            max_tasks: self.crew.max_tasks().is_some(),
            owner: self.crew.is_owner(),
        }
    }

    pub(in crate::pool) fn chunk_len(&self, n: usize, per_worker: usize) -> usize {
        self.chunksize
            .unwrap_or_else(|| n.div_ceil(per_worker * self.workers).min(MAX_AUTO_CHUNK))
            .max(1)
    }

    /// `f` over `items` in children; each chunk's outcome goes to `sink`, in order, as
    /// soon as it and every chunk before it are done.
    ///
    /// The route (see `route.rs`) says where: a process per chunk, children forked for
    /// the call (`chunk_workers`), or the persistent crew (`crew`). In the last two,
    /// up to `workers` children take chunk after chunk from windows of chunks cut from
    /// `items`: neither the input nor the encoded results of a long input are ever all in
    /// memory at once.
    pub(in crate::pool) fn map_chunks<A, F, R>(
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
        let plain = PlainCall::of::<A, F, R, EncodeChunk>();
        let call = Call::Map {
            stateless_plain: plain.is_some(),
        };
        let plain = match route(call, self.shape()) {
            Route::ForkPerTask => {
                let per = self.chunk_len(low, 4);
                return self.map_process_per_chunk(f, items, per, sink);
            }
            Route::Crew => plain,
            Route::ForkPerCall => None,
        };
        // A chunk costs a round trip on a socket here, not a fork: finer chunks than
        // Python's four per worker balance better. Automatic chunks shrink as the window
        // is consumed (see `guided_chunks`), so that the children finish together.
        let epoch = crate::interrupt::epoch();
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
            let mut on_outcome = |i: usize, outcome: Result<&[u8]>| emitter.put(base + i, outcome);
            let forked: Vec<usize> = match plain {
                Some(call) => {
                    let items = |i: usize| plain_bytes(&chunks[i]).unwrap_or_default();
                    self.crew
                        .map(call, count, &items, self.workers, &mut on_outcome)
                }
                None => (0..count).collect(),
            };
            if !forked.is_empty() {
                // Any closure over any items, or no crew worker free (other calls hold
                // them): children forked for these chunks, each with all of them.
                let mut chunks: Vec<Option<Vec<A>>> = chunks.into_iter().map(Some).collect();
                // Runs in the children, each on its own copy of `chunks`.
                let mut run = |j: usize, out: &mut Vec<u8>| {
                    let chunk = chunks[forked[j]].take().ok_or("a chunk was given twice")?;
                    encode_results_into(chunk.into_iter().map(f), out).map_err(|e| e.to_string())
                };
                let mut supply = Forked::new(&mut run, &self.children, "ForkPoolWorker");
                let on_forked = |j: usize, outcome: Result<&[u8]>| on_outcome(forked[j], outcome);
                run_chunks(
                    forked.len(),
                    &mut supply,
                    self.workers,
                    &self.children,
                    on_forked,
                );
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
            Box::new(move |out: &mut Vec<u8>| {
                if let Some(init) = init {
                    init();
                }
                encode_results_into(chunk.into_iter().map(f), out).map_err(|e| e.to_string())
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

    pub(in crate::pool) fn map<A, F, R>(
        &self,
        f: &F,
        items: impl Iterator<Item = A>,
    ) -> Result<Vec<R>>
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

    pub(in crate::pool) fn apply<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R,
        R: Serialize + DeserializeOwned,
    {
        let stateless = Crew::call_of::<F, R>();
        let call = Call::Apply {
            stateless: stateless.is_some(),
        };
        let f = match (route(call, self.shape()), stateless) {
            (Route::Crew, Some(stateless)) => match self.crew.try_apply(stateless, f) {
                Ok(outcome) => return outcome,
                Err(f) => f, // no worker free for it
            },
            _ => f,
        };
        let init = self.initializer.clone();
        let task: ChildTask<'_> = Box::new(move |out| {
            if let Some(init) = init {
                init();
            }
            codec::encode_into(&f(), out).map_err(|e| e.to_string())
        });
        let outcome = run_tasks(vec![task], 1, &self.children, "ForkPoolWorker").pop();
        codec::decode(
            &outcome.unwrap_or_else(|| Err(Error::new(ErrorKind::Cancelled, "no outcome")))?,
        )
    }
}
