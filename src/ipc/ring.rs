//! A byte ring buffer in shared memory: the storage behind [`Queue`](super::Queue),
//! [`JoinableQueue`](super::JoinableQueue) and each direction of a
//! [`Pipe`](super::Pipe).
//!
//! Messages are `[u32 length][bytes]`. Writers take the ring's writer lock and readers its
//! reader lock (robust, process-shared mutexes), so at any moment one writer and one
//! reader work on the ring, and they never touch the same field: the writer alone moves
//! `HEAD` (bytes written, ever), the reader alone moves `TAIL` (bytes read, ever). A
//! message is copied in, then `HEAD` is stored with `Release`; a reader loads `HEAD` with
//! `Acquire` before copying it out, then stores `TAIL` with `Release`, which a writer loads
//! with `Acquire` before reusing the bytes. So passing a message costs no lock shared by
//! both sides, no read-modify-write on a shared line, and no system call.
//!
//! Each side's fields sit on their own 128-byte line (two cache lines: the prefetcher
//! pulls pairs), and each side keeps its last view of the other's index on its own line,
//! so a writer reads `TAIL` only when the ring looks full and a reader reads `HEAD` only
//! when it looks empty.
//!
//! A side that finds nothing to do spins for [`SPIN`] (the other side is usually busy
//! making the next message), then sleeps on an [`EventCount`]: the other side wakes it
//! with a system call only if it has announced that it sleeps. See that type for why no
//! wake-up is lost.
//!
//! `HEAD` and `TAIL` only move after a message has been copied completely, so a process
//! killed in the middle of a copy leaves no half message behind, and the robust lock it
//! held is repaired by the next writer or reader.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::{Duration, Instant};

use crate::sys::{EventCount, RawMutex, Relock, SharedRegion};
use crate::{Error, ErrorKind, Result};

/// Fields that different sides write are this far apart.
const LINE: usize = 128;
const WRITER_LOCK: usize = 0;
const READER_LOCK: usize = LINE;
// The writer's line: written only by the holder of the writer lock.
const HEAD: usize = 2 * LINE; // bytes written, ever
const PUSHED: usize = HEAD + 8; // messages written, ever
const ITEMS: usize = HEAD + 16; // whole items written, ever (task_done counts against it)
const TAIL_SEEN: usize = HEAD + 24; // the writer's last view of TAIL (never ahead of it)
const POPPED_SEEN: usize = HEAD + 32; // the writer's last view of POPPED (never ahead of it)
// The reader's line: written only by the holder of the reader lock.
const TAIL: usize = 3 * LINE; // bytes read, ever
const POPPED: usize = TAIL + 8; // messages read, ever
const HEAD_SEEN: usize = TAIL + 16; // the reader's last view of HEAD (never ahead of it)
// Written rarely.
const CLOSED: usize = 4 * LINE;
const DONE: usize = CLOSED + 8; // items marked done (task_done), ever
// Event counts, one line each.
const NOT_EMPTY: usize = 5 * LINE;
const NOT_FULL: usize = 6 * LINE;
const ALL_DONE: usize = 7 * LINE;
const DATA: usize = 8 * LINE;

/// How long a side spins for the other before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
/// Spins before a waiting side starts yielding its CPU at each check (the other side may
/// need that very CPU on a busy machine).
const PURE_SPINS: u32 = 256;
/// How long one sleep lasts when the caller gave no deadline.
const NAP: Duration = Duration::from_secs(1);

/// The default ring size: big enough for many small messages, and only the pages in use
/// cost memory.
pub(crate) const DEFAULT_BYTES: usize = 4 << 20;

#[derive(Clone, Debug)]
pub(crate) struct Ring {
    region: Arc<SharedRegion>,
    writer: RawMutex,
    reader: RawMutex,
    not_empty: EventCount,
    not_full: EventCount,
    all_done: EventCount,
    capacity: usize,
    maxsize: usize,
}

/// The ring's writer lock, held (unlocks on drop): the right to add messages.
pub(crate) struct Writer<'a> {
    ring: &'a Ring,
    relock: Relock,
}

/// The ring's reader lock, held (unlocks on drop): the right to take messages.
pub(crate) struct Reader<'a> {
    ring: &'a Ring,
    relock: Relock,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.ring.writer.unlock();
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        self.ring.reader.unlock();
    }
}

/// Locks `mutex`, trying first without reading the clock.
fn take(mutex: &RawMutex, deadline: Option<Instant>) -> Result<Relock> {
    match mutex.try_lock()? {
        Some(relock) => Ok(relock),
        None => mutex.lock(deadline),
    }
}

/// Waits until `ready()`: spins for [`SPIN`] (never past `deadline`), then sleeps on
/// `event`. True when ready, false at the deadline.
fn wait_for(ready: impl Fn() -> bool, event: &EventCount, deadline: Option<Instant>) -> bool {
    let start = Instant::now();
    if deadline.is_some_and(|d| start >= d) {
        return ready();
    }
    let spin_end = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
    let mut i = 0u32;
    loop {
        if ready() {
            return true;
        }
        i = i.wrapping_add(1);
        if i % 16 == 0 && Instant::now() >= spin_end {
            break;
        }
        if i < PURE_SPINS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    loop {
        let slice = deadline.unwrap_or_else(|| Instant::now() + NAP);
        if event.wait(&ready, slice) {
            return true;
        }
        if deadline.is_some() {
            return false;
        }
    }
}

impl Ring {
    pub(crate) fn new(maxsize: usize, capacity: usize) -> Result<Self> {
        if capacity < 64 {
            return Err(Error::invalid_argument(
                "a queue buffer needs at least 64 bytes",
            ));
        }
        let region = Arc::new(SharedRegion::new(DATA + capacity)?);
        Ok(Ring {
            writer: RawMutex::init(region.clone(), WRITER_LOCK, false)?,
            reader: RawMutex::init(region.clone(), READER_LOCK, false)?,
            not_empty: EventCount::new(region.clone(), NOT_EMPTY),
            not_full: EventCount::new(region.clone(), NOT_FULL),
            all_done: EventCount::new(region.clone(), ALL_DONE),
            capacity,
            maxsize,
            region,
        })
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// The bytes the ring holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn word(&self, field: usize) -> &AtomicU64 {
        self.region.u64_at(field)
    }

    /// Takes the writer lock, waiting until `deadline` (for ever with `None`).
    pub(crate) fn lock_writer(&self, deadline: Option<Instant>) -> Result<Writer<'_>> {
        let relock = take(&self.writer, deadline)?;
        Ok(Writer { ring: self, relock })
    }

    /// Takes the writer lock if it is free.
    pub(crate) fn try_lock_writer(&self) -> Result<Option<Writer<'_>>> {
        Ok(self
            .writer
            .try_lock()?
            .map(|relock| Writer { ring: self, relock }))
    }

    /// Takes the reader lock, waiting until `deadline` (for ever with `None`).
    pub(crate) fn lock_reader(&self, deadline: Option<Instant>) -> Result<Reader<'_>> {
        let relock = take(&self.reader, deadline)?;
        Ok(Reader { ring: self, relock })
    }

    /// Takes the reader lock if it is free.
    pub(crate) fn try_lock_reader(&self) -> Result<Option<Reader<'_>>> {
        Ok(self
            .reader
            .try_lock()?
            .map(|relock| Reader { ring: self, relock }))
    }

    fn copy_in(&self, pos: u64, bytes: &[u8]) {
        let at = (pos % self.capacity as u64) as usize;
        let first = bytes.len().min(self.capacity - at);
        self.region.write_bytes(DATA + at, &bytes[..first]);
        self.region.write_bytes(DATA, &bytes[first..]);
    }

    fn copy_out(&self, pos: u64, out: &mut [u8]) {
        let at = (pos % self.capacity as u64) as usize;
        let first = out.len().min(self.capacity - at);
        let (a, b) = out.split_at_mut(first);
        self.region.read_bytes(DATA + at, a);
        self.region.read_bytes(DATA, b);
    }

    fn closed(&self) -> bool {
        self.word(CLOSED).load(Relaxed) != 0
    }

    fn closed_error() -> Error {
        Error::new(
            ErrorKind::Disconnected,
            "the queue was closed: close() was called",
        )
    }

    /// The error of a wait for a message that timed out.
    pub(crate) fn empty_error() -> Error {
        Error::new(
            ErrorKind::Timeout,
            "the queue is empty (Python raises queue.Empty)",
        )
    }

    /// True when a message waits after `tail` (called by the reader-lock holder, or, with
    /// `update` false, by anyone).
    fn readable(&self, tail: u64, update: bool) -> bool {
        if self.word(HEAD_SEEN).load(Relaxed) != tail {
            return true;
        }
        let head = self.word(HEAD).load(Acquire);
        if update && head != tail {
            self.word(HEAD_SEEN).store(head, Relaxed);
        }
        head != tail
    }

    /// Messages in the ring now.
    pub(crate) fn len(&self) -> Result<usize> {
        // POPPED first: it never passes PUSHED, which only grows.
        let popped = self.word(POPPED).load(Acquire);
        let pushed = self.word(PUSHED).load(Acquire);
        Ok(pushed.saturating_sub(popped) as usize)
    }

    /// Waits until the ring holds a message (or is closed), until `deadline`. False on
    /// timeout. Takes no lock: the message may be gone by the time the caller looks.
    pub(crate) fn wait_nonempty(&self, deadline: Instant) -> Result<bool> {
        let ready =
            || self.closed() || self.word(HEAD).load(Acquire) != self.word(TAIL).load(Acquire);
        Ok(ready() || wait_for(ready, &self.not_empty, Some(deadline)))
    }

    pub(crate) fn close(&self) -> Result<()> {
        self.word(CLOSED).store(1, SeqCst);
        self.not_empty.notify_always();
        self.not_full.notify_always();
        Ok(())
    }

    pub(crate) fn task_done(&self) -> Result<()> {
        let done = self.word(DONE);
        let mut current = done.load(Acquire);
        loop {
            if current >= self.word(ITEMS).load(Acquire) {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    "task_done() called more times than there were items put (Python raises \
                     ValueError)",
                ));
            }
            match done.compare_exchange_weak(current, current + 1, SeqCst, Acquire) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        self.all_done.notify();
        Ok(())
    }

    /// Waits until every item put has been marked done. False on timeout.
    /// The wait is cut in slices so that an interrupt (the notebook's stop button, see
    /// [`crate::interrupt`]) ends it with an `Interrupted` error.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> Result<bool> {
        let epoch = crate::interrupt::epoch();
        // ITEMS first: DONE never passes it, and it only grows.
        let finished = || {
            let items = self.word(ITEMS).load(Acquire);
            self.word(DONE).load(Acquire) >= items
        };
        loop {
            let slice = Instant::now() + Duration::from_millis(50);
            if self
                .all_done
                .wait(finished, deadline.map_or(slice, |d| d.min(slice)))
            {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            if crate::interrupt::happened_since(epoch) {
                return Err(crate::interrupt::error());
            }
        }
    }
}

impl Writer<'_> {
    /// True when the previous holder of the writer lock died holding it.
    pub(crate) fn owner_died(&self) -> bool {
        self.relock == Relock::OwnerDied
    }

    /// True when `need` more bytes (and one more message) fit after `head`. Reads the
    /// reader's line only when the cached views say no.
    fn has_room(&self, head: u64, need: usize) -> bool {
        let ring = self.ring;
        let fits = |tail: u64| ring.capacity - (head - tail) as usize >= need;
        if !fits(ring.word(TAIL_SEEN).load(Relaxed)) {
            let tail = ring.word(TAIL).load(Acquire);
            ring.word(TAIL_SEEN).store(tail, Relaxed);
            if !fits(tail) {
                return false;
            }
        }
        if ring.maxsize == 0 {
            return true;
        }
        let below_max = |popped: u64| {
            let pushed = ring.word(PUSHED).load(Relaxed);
            pushed.saturating_sub(popped) < ring.maxsize as u64
        };
        if below_max(ring.word(POPPED_SEEN).load(Relaxed)) {
            return true;
        }
        let popped = ring.word(POPPED).load(Acquire);
        ring.word(POPPED_SEEN).store(popped, Relaxed);
        below_max(popped)
    }

    /// Writes one message made of `pieces` if it fits now; false when the ring is full.
    /// `item`: the message is a whole item or an item's last part (what `task_done`
    /// counts).
    pub(crate) fn try_push(&self, pieces: &[&[u8]], item: bool) -> Result<bool> {
        let ring = self.ring;
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        let need = 4 + len;
        if need > ring.capacity {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "an item of {len} bytes does not fit this queue's buffer of {} bytes: \
                     create the queue with Queue::with_buffer and a larger size",
                    ring.capacity
                ),
            ));
        }
        if ring.closed() {
            return Err(Ring::closed_error());
        }
        let head = ring.word(HEAD).load(Relaxed);
        if !self.has_room(head, need) {
            return Ok(false);
        }
        ring.copy_in(head, &(len as u32).to_le_bytes());
        let mut at = head + 4;
        for piece in pieces {
            ring.copy_in(at, piece);
            at += piece.len() as u64;
        }
        // The counters before HEAD: whoever sees the message sees them counted (a
        // `task_done` right after a `get` must find the item in ITEMS).
        let pushed = ring.word(PUSHED);
        pushed.store(pushed.load(Relaxed) + 1, Relaxed);
        if item {
            let items = ring.word(ITEMS);
            items.store(items.load(Relaxed) + 1, Release);
        }
        ring.word(HEAD).store(at, Release);
        ring.not_empty.notify();
        Ok(true)
    }

    /// Writes one message, waiting for room until `deadline` (`Some(now)`: not at all).
    pub(crate) fn push(
        &self,
        pieces: &[&[u8]],
        deadline: Option<Instant>,
        item: bool,
    ) -> Result<()> {
        let need = 4 + pieces.iter().map(|p| p.len()).sum::<usize>();
        loop {
            if self.try_push(pieces, item)? {
                return Ok(());
            }
            let ring = self.ring;
            let head = ring.word(HEAD).load(Relaxed);
            let room = || ring.closed() || self.has_room(head, need);
            if !wait_for(room, &ring.not_full, deadline) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the queue is full (Python raises queue.Full)",
                ));
            }
        }
    }
}

impl Reader<'_> {
    /// True when the previous holder of the reader lock died holding it.
    pub(crate) fn owner_died(&self) -> bool {
        self.relock == Relock::OwnerDied
    }

    /// True when no message waits.
    pub(crate) fn is_empty(&self) -> bool {
        !self.ring.readable(self.ring.word(TAIL).load(Relaxed), true)
    }

    /// Takes one message into `out` (replacing its contents) if there is one; false when
    /// the ring is empty. An empty, closed ring is a `Disconnected` error.
    pub(crate) fn try_pop_into(&self, out: &mut Vec<u8>) -> Result<bool> {
        let ring = self.ring;
        let tail = ring.word(TAIL).load(Relaxed);
        if !ring.readable(tail, true) {
            return if ring.closed() {
                Err(Ring::closed_error())
            } else {
                Ok(false)
            };
        }
        let head = ring.word(HEAD_SEEN).load(Relaxed);
        let mut len = [0u8; 4];
        ring.copy_out(tail, &mut len);
        let len = u32::from_le_bytes(len) as u64;
        if 4 + len > head - tail {
            return Err(Error::new(
                ErrorKind::Serialization,
                "a garbled message in a queue or pipe buffer",
            ));
        }
        out.clear();
        out.resize(len as usize, 0);
        ring.copy_out(tail + 4, out);
        ring.word(TAIL).store(tail + 4 + len, Release);
        let popped = ring.word(POPPED);
        popped.store(popped.load(Relaxed) + 1, Release);
        ring.not_full.notify();
        Ok(true)
    }

    /// Takes one message into `out`, waiting until `deadline` (`Some(now)`: not at all).
    pub(crate) fn pop_into(&self, out: &mut Vec<u8>, deadline: Option<Instant>) -> Result<()> {
        let ring = self.ring;
        loop {
            if self.try_pop_into(out)? {
                return Ok(());
            }
            let tail = ring.word(TAIL).load(Relaxed);
            let ready = || ring.closed() || ring.readable(tail, false);
            if !wait_for(ready, &ring.not_empty, deadline) {
                return Err(Ring::empty_error());
            }
        }
    }
}
