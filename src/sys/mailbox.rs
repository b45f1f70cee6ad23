//! The shared-memory mailbox between a pool and one persistent worker process: the one
//! transport of the pool's crew, for `apply` (one stateless call, no items) and `map` (a
//! stateless chunk call and its plain items' bytes).
//!
//! One `MAP_SHARED` region per worker, mapped before the worker is forked:
//!
//! - counters (32-bit, wrapping): requests `posted` (the pool's), results `done` (the
//!   worker's), results `answered` (taken by the pool), parts of a big result `sent` and
//!   `taken`, and a `stop` flag;
//! - two request slots (request `n` in slot `n % 2`): the call's address, the items'
//!   length, up to [`ITEM_CAPACITY`] bytes of items, read in place by the call;
//! - three result slots of 1 MiB (result `n` in slot `n % 3`): the tag and the encoded
//!   outcome, which the pool decodes in place.
//!
//! A worker holds at most two requests (one running, one queued so that it never waits
//! for the pool between chunks), and the pool decodes a result before it posts the
//! request after those two: the slot being decoded is never the one being written. A
//! result over 1 MiB goes through its slot in parts, each taken (copied out) by the pool
//! before the worker writes the next.
//!
//! Waking: the worker sleeps on its mailbox's event count; the pool's side sleeps on the
//! crew's [`Doorbell`], which every worker of the crew rings when it has news, so that one
//! caller waits for any of its workers at once. Either side pays a `FUTEX_WAKE` only when
//! the other sleeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::event_count::EventCount;
use super::loaded::LoadedCode;
use super::shm::SharedRegion;
use super::zst_call::{PostedCall, run_posted};
use crate::Result;

const POSTED: usize = 0;
const DONE: usize = 4;
const PARTS_SENT: usize = 8;
const PARTS_TAKEN: usize = 12;
const ANSWERED: usize = 16;
const STOP: usize = 20;
/// The worker's event count (8 bytes).
const TO_WORKER: usize = 24;

const REQUESTS: usize = 64;
/// A request's head: the call's address, the items' length (u64 each).
const REQUEST_HEAD: usize = 16;
/// At most this many bytes of items per request: a chunk's items are cut to fit.
pub(crate) const ITEM_CAPACITY: usize = 32 * 1024;
const REQUEST_SIZE: usize = REQUEST_HEAD + ITEM_CAPACITY;
const REQUEST_SLOTS: usize = 2;

const RESULTS: usize = REQUESTS + REQUEST_SLOTS * REQUEST_SIZE;
/// A result's head: the tag, the length of the bytes in the slot (u64 each).
const RESULT_HEAD: usize = 16;
const RESULT_CAPACITY: usize = 1 << 20;
const RESULT_SIZE: usize = RESULT_HEAD + RESULT_CAPACITY;
const RESULT_SLOTS: usize = 3;
const SIZE: usize = RESULTS + RESULT_SLOTS * RESULT_SIZE;

/// Spins before a waiting side starts yielding its CPU at each check: one. When the pool's
/// thread and the worker share a CPU (a busy machine), the other side runs only once this
/// one yields, and 256 spins (`pause` is ~140 cycles on recent x86) cost each side ~12 µs
/// per round trip: an `apply` took 24 µs there with 256, 7.0 µs with 32, 5.0–5.4 µs with 8,
/// 4.6–4.8 µs with 1 (two context switches); ~1–2 µs on two CPUs.
const PURE_SPINS: u32 = 1;
/// How long a worker sleeps at a time before checking that its parent lives.
const WORKER_NAP: Duration = Duration::from_secs(1);

/// Checks `ready` for up to `spin`: pure spins first, then yielding the CPU between checks
/// (the other side may be waiting for this very CPU). True as soon as it holds.
pub(crate) fn spin_until(ready: impl Fn() -> bool, spin: Duration) -> bool {
    let start = Instant::now();
    let mut i = 0u32;
    loop {
        if ready() {
            return true;
        }
        i = i.wrapping_add(1);
        if i % 16 == 0 && start.elapsed() >= spin {
            return false;
        }
        if i < PURE_SPINS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Rung by any worker of a crew when it has news for the pool (a result, or a part of
/// one): a caller sleeps on it for all of its workers at once. Map it before forking the
/// crew's workers.
#[derive(Clone, Debug)]
pub(crate) struct Doorbell(EventCount);

impl Doorbell {
    pub(crate) fn new() -> Result<Self> {
        Ok(Doorbell(EventCount::new(
            Arc::new(SharedRegion::new(64)?),
            0,
        )))
    }

    /// Sleeps until `ready()` or `deadline`: true when ready (checked again first).
    pub(crate) fn wait(&self, ready: impl Fn() -> bool, deadline: Instant) -> bool {
        self.0.wait(ready, deadline)
    }
}

/// A complete result, found by [`Mailbox::take_result`]: read it with
/// [`Mailbox::bytes`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taken {
    /// The tag the call returned (the pool's framing).
    pub(crate) tag: u8,
    at: usize,
    len: usize,
}

/// One worker's mailbox, with the code that was loaded when it was made (the worker is
/// forked right after, so it has at least that code). A clone is the same mailbox (the
/// worker's side is a clone moved into the forked child).
#[derive(Clone, Debug)]
pub(crate) struct Mailbox {
    region: Arc<SharedRegion>,
    to_worker: EventCount,
    doorbell: Doorbell,
    code: LoadedCode,
}

impl Mailbox {
    /// A fresh mailbox whose worker rings `doorbell`. Fork the worker right after: the
    /// snapshot of loaded code is now.
    pub(crate) fn new(doorbell: &Doorbell) -> Result<Self> {
        let region = Arc::new(SharedRegion::new(SIZE)?);
        Ok(Mailbox {
            to_worker: EventCount::new(region.clone(), TO_WORKER),
            region,
            doorbell: doorbell.clone(),
            code: LoadedCode::now(),
        })
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        self.region.u32_at(offset)
    }

    fn request_at(n: u32) -> usize {
        REQUESTS + n as usize % REQUEST_SLOTS * REQUEST_SIZE
    }

    fn result_at(n: u32) -> usize {
        RESULTS + n as usize % RESULT_SLOTS * RESULT_SIZE
    }

    /// True when the worker has the code at `addr` (loaded before its fork, nothing
    /// unloaded since): the crew's one staleness check.
    pub(crate) fn can_run(&self, addr: usize) -> bool {
        self.code.contains(addr)
    }

    // ----- the pool's side -----

    /// Requests posted and not answered yet.
    pub(crate) fn outstanding(&self) -> u32 {
        let posted = self.word(POSTED).load(Ordering::Relaxed);
        posted.wrapping_sub(self.word(ANSWERED).load(Ordering::Relaxed))
    }

    /// Posts `call` over `items` (the bytes of plain values, or none). False (nothing
    /// posted) when the worker does not have the call's code, the items do not fit, or the
    /// worker already holds two requests.
    pub(crate) fn post(&self, call: PostedCall, items: &[u8]) -> bool {
        if !self.code.contains(call.addr)
            || items.len() > ITEM_CAPACITY
            || self.outstanding() as usize >= REQUEST_SLOTS
        {
            return false;
        }
        let n = self.word(POSTED).load(Ordering::Relaxed);
        let at = Self::request_at(n);
        self.region
            .u64_at(at)
            .store(call.addr as u64, Ordering::Relaxed);
        self.region
            .u64_at(at + 8)
            .store(items.len() as u64, Ordering::Relaxed);
        self.region.write_bytes(at + REQUEST_HEAD, items);
        self.word(POSTED)
            .store(n.wrapping_add(1), Ordering::Release);
        self.to_worker.notify();
        true
    }

    /// True when the worker has news: a complete result, or a part of one to take.
    pub(crate) fn has_news(&self) -> bool {
        let answered = self.word(ANSWERED).load(Ordering::Relaxed);
        self.word(DONE).load(Ordering::Acquire) != answered
            || self.word(PARTS_SENT).load(Ordering::Acquire)
                != self.word(PARTS_TAKEN).load(Ordering::Relaxed)
    }

    /// The oldest unanswered result, if complete. Parts of a big one are copied into
    /// `parts` as they come (pass the same buffer until the result is complete, and clear
    /// it once done with the result's bytes).
    pub(crate) fn take_result(&self, parts: &mut Vec<u8>) -> Option<Taken> {
        let answered = self.word(ANSWERED).load(Ordering::Relaxed);
        let at = Self::result_at(answered);
        if self.word(DONE).load(Ordering::Acquire) == answered {
            // Parts belong to the result being made: this one.
            let taken = self.word(PARTS_TAKEN);
            while self.word(PARTS_SENT).load(Ordering::Acquire) != taken.load(Ordering::Relaxed) {
                let len = (self.region.u64_at(at + 8).load(Ordering::Relaxed) as usize)
                    .min(RESULT_CAPACITY);
                parts.extend_from_slice(self.region.bytes(at + RESULT_HEAD, len));
                taken.fetch_add(1, Ordering::Release);
                self.to_worker.notify();
            }
            if self.word(DONE).load(Ordering::Acquire) == answered {
                return None;
            }
        }
        let tag = self.region.u64_at(at).load(Ordering::Relaxed) as u8;
        let len =
            (self.region.u64_at(at + 8).load(Ordering::Relaxed) as usize).min(RESULT_CAPACITY);
        self.word(ANSWERED)
            .store(answered.wrapping_add(1), Ordering::Relaxed);
        Some(Taken {
            tag,
            at: at + RESULT_HEAD,
            len,
        })
    }

    /// The bytes of a result taken just now: in place in its slot, or (a big one) after
    /// its earlier parts in `parts`. Valid until the pool posts the request after the two
    /// that follow this result's.
    pub(crate) fn bytes<'a>(&'a self, taken: Taken, parts: &'a mut Vec<u8>) -> &'a [u8] {
        let last = self.region.bytes(taken.at, taken.len);
        if parts.is_empty() {
            return last;
        }
        parts.extend_from_slice(last);
        parts
    }

    /// Asks the worker to leave (it does when it holds no request).
    pub(crate) fn stop(&self) {
        self.word(STOP).store(1, Ordering::Release);
        self.to_worker.notify();
    }

    // ----- the worker's side -----

    /// The worker's loop: runs posted calls until told to stop or until `parent` (the
    /// pool's process) is gone, spinning up to `spin` for each next request before it
    /// sleeps. Returns the worker's exit code.
    pub(crate) fn serve(&self, parent: u32, spin: Duration) -> i32 {
        let mut out = Vec::new();
        let mut n = self.word(DONE).load(Ordering::Relaxed);
        let stop = || self.word(STOP).load(Ordering::Acquire) != 0;
        loop {
            let posted = || self.word(POSTED).load(Ordering::Acquire) != n;
            if !self.worker_wait(parent, spin, || posted() || stop()) {
                return 1; // orphaned
            }
            if !posted() {
                return 0; // told to stop, and nothing is posted
            }
            let at = Self::request_at(n);
            let addr = self.region.u64_at(at).load(Ordering::Relaxed) as usize;
            let len =
                (self.region.u64_at(at + 8).load(Ordering::Relaxed) as usize).min(ITEM_CAPACITY);
            out.clear();
            // `post` wrote this address only if this process's snapshot of loaded code
            // (taken right before its fork) has it: a `PostedFn` of `ZstCall` or
            // `PlainCall`, whose items are the bytes beside it.
            let tag = run_posted(addr, self.region.bytes(at + REQUEST_HEAD, len), &mut out);
            super::fork::flush_output();
            let at = Self::result_at(n);
            let mut sent = 0;
            loop {
                let k = (out.len() - sent).min(RESULT_CAPACITY);
                self.region
                    .write_bytes(at + RESULT_HEAD, &out[sent..sent + k]);
                self.region
                    .u64_at(at + 8)
                    .store(k as u64, Ordering::Relaxed);
                sent += k;
                if sent == out.len() {
                    self.region.u64_at(at).store(tag as u64, Ordering::Relaxed);
                    self.word(DONE).store(n.wrapping_add(1), Ordering::Release);
                    self.doorbell.0.notify();
                    break;
                }
                let part = self
                    .word(PARTS_SENT)
                    .load(Ordering::Relaxed)
                    .wrapping_add(1);
                self.word(PARTS_SENT).store(part, Ordering::Release);
                self.doorbell.0.notify();
                let taken = || self.word(PARTS_TAKEN).load(Ordering::Acquire) == part;
                if !self.worker_wait(parent, spin, || taken() || stop()) {
                    return 1;
                }
                if !taken() {
                    return 0;
                }
            }
            n = n.wrapping_add(1);
            if out.capacity() > 4 * RESULT_CAPACITY {
                out = Vec::new(); // do not keep a big result's buffer for ever
            }
        }
    }

    /// Waits (spin, then naps) until `ready`; false when the parent is gone.
    fn worker_wait(&self, parent: u32, spin: Duration, ready: impl Fn() -> bool + Copy) -> bool {
        if spin_until(ready, spin) {
            return true;
        }
        loop {
            if self.to_worker.wait(ready, Instant::now() + WORKER_NAP) {
                return true;
            }
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return false;
            }
        }
    }
}
