//! A byte ring buffer in shared memory, guarded by a process-shared mutex: the storage
//! behind [`Queue`](super::Queue) and [`JoinableQueue`](super::JoinableQueue).
//!
//! Messages are `[u32 length][bytes]`, written whole under the mutex. The read and write
//! positions only move after a message has been copied completely, so a process killed in
//! the middle of a copy leaves no half message behind (the robust mutex is then repaired).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::sys::{RawCondvar, RawMutex, SharedRegion};
use crate::{Error, ErrorKind, Result};

const SLOT: usize = 64;
const MUTEX: usize = 0;
const NOT_EMPTY: usize = SLOT;
const NOT_FULL: usize = 2 * SLOT;
const ALL_DONE: usize = 3 * SLOT;
const HEAD: usize = 4 * SLOT; // bytes written, ever
const TAIL: usize = HEAD + 8; // bytes read, ever
const COUNT: usize = HEAD + 16; // messages in the ring
const UNFINISHED: usize = HEAD + 24; // put and not yet task_done
const CLOSED: usize = HEAD + 32;
const DATA: usize = 5 * SLOT;

/// The default ring size: big enough for many small messages, and only the pages in use
/// cost memory.
pub(crate) const DEFAULT_BYTES: usize = 4 << 20;

#[derive(Clone, Debug)]
pub(crate) struct Ring {
    region: Arc<SharedRegion>,
    mutex: RawMutex,
    not_empty: RawCondvar,
    not_full: RawCondvar,
    all_done: RawCondvar,
    capacity: usize,
    maxsize: usize,
}

/// Holds the ring's mutex; unlocks on drop.
struct Held<'a>(&'a Ring);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.mutex.unlock();
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
            mutex: RawMutex::init(region.clone(), MUTEX, false)?,
            not_empty: RawCondvar::init(region.clone(), NOT_EMPTY)?,
            not_full: RawCondvar::init(region.clone(), NOT_FULL)?,
            all_done: RawCondvar::init(region.clone(), ALL_DONE)?,
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

    fn lock(&self) -> Result<Held<'_>> {
        self.mutex.lock(None)?;
        Ok(Held(self))
    }

    fn get(&self, field: usize) -> u64 {
        self.region.u64_at(field).load(Relaxed)
    }

    fn set(&self, field: usize, value: u64) {
        self.region.u64_at(field).store(value, Relaxed);
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

    fn closed_error() -> Error {
        Error::new(
            ErrorKind::Disconnected,
            "the queue was closed: close() was called",
        )
    }

    /// Writes one message, waiting for room until `deadline` (`Some(now)`: not at all).
    pub(crate) fn push(&self, payload: &[u8], deadline: Option<Instant>) -> Result<()> {
        self.push_part(payload, deadline, true)
    }

    /// Writes one message that is a whole item (`item`) or a part of one that does not
    /// count for `task_done` (only an item's last part does).
    pub(crate) fn push_part(
        &self,
        payload: &[u8],
        deadline: Option<Instant>,
        item: bool,
    ) -> Result<()> {
        let need = 4 + payload.len();
        if need > self.capacity {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "an item of {} bytes does not fit this queue's buffer of {} bytes: create \
                     the queue with Queue::with_buffer and a larger size",
                    payload.len(),
                    self.capacity
                ),
            ));
        }
        let held = self.lock()?;
        loop {
            if self.get(CLOSED) != 0 {
                return Err(Self::closed_error());
            }
            let used = (self.get(HEAD) - self.get(TAIL)) as usize;
            let full_count = self.maxsize > 0 && self.get(COUNT) as usize >= self.maxsize;
            if self.capacity - used >= need && !full_count {
                break;
            }
            if self.not_full.wait(&self.mutex, deadline)? {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the queue is full (Python raises queue.Full)",
                ));
            }
        }
        let head = self.get(HEAD);
        self.copy_in(head, &(payload.len() as u32).to_le_bytes());
        self.copy_in(head + 4, payload);
        self.set(HEAD, head + need as u64);
        self.set(COUNT, self.get(COUNT) + 1);
        if item {
            self.set(UNFINISHED, self.get(UNFINISHED) + 1);
        }
        drop(held);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Takes one message, waiting until `deadline`.
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Result<Vec<u8>> {
        let held = self.lock()?;
        while self.get(COUNT) == 0 {
            if self.get(CLOSED) != 0 {
                return Err(Self::closed_error());
            }
            if self.not_empty.wait(&self.mutex, deadline)? {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the queue is empty (Python raises queue.Empty)",
                ));
            }
        }
        let tail = self.get(TAIL);
        let mut len = [0u8; 4];
        self.copy_out(tail, &mut len);
        let mut out = vec![0u8; u32::from_le_bytes(len) as usize];
        self.copy_out(tail + 4, &mut out);
        self.set(TAIL, tail + 4 + out.len() as u64);
        self.set(COUNT, self.get(COUNT) - 1);
        drop(held);
        self.not_full.notify_all();
        Ok(out)
    }

    /// Waits until the ring holds a message (or is closed), until `deadline`. False on
    /// timeout.
    pub(crate) fn wait_nonempty(&self, deadline: Instant) -> Result<bool> {
        let _held = self.lock()?;
        while self.get(COUNT) == 0 && self.get(CLOSED) == 0 {
            if self.not_empty.wait(&self.mutex, Some(deadline))? {
                return Ok(self.get(COUNT) > 0);
            }
        }
        Ok(true)
    }

    pub(crate) fn len(&self) -> Result<usize> {
        let _held = self.lock()?;
        Ok(self.get(COUNT) as usize)
    }

    pub(crate) fn close(&self) -> Result<()> {
        let held = self.lock()?;
        self.set(CLOSED, 1);
        drop(held);
        self.not_empty.notify_all();
        self.not_full.notify_all();
        Ok(())
    }

    pub(crate) fn task_done(&self) -> Result<()> {
        let held = self.lock()?;
        let unfinished = self.get(UNFINISHED);
        if unfinished == 0 {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "task_done() called more times than there were items put (Python raises \
                 ValueError)",
            ));
        }
        self.set(UNFINISHED, unfinished - 1);
        drop(held);
        if unfinished == 1 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// Waits until every item put has been marked done. False on timeout.
    /// The wait is cut in slices so that an interrupt (the notebook's stop button, see
    /// [`crate::interrupt`]) ends it with an `Interrupted` error.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> Result<bool> {
        let epoch = crate::interrupt::epoch();
        let _held = self.lock()?;
        while self.get(UNFINISHED) > 0 {
            let slice = Instant::now() + std::time::Duration::from_millis(50);
            if self
                .all_done
                .wait(&self.mutex, Some(deadline.map_or(slice, |d| d.min(slice))))?
            {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                if crate::interrupt::happened_since(epoch) {
                    return Err(crate::interrupt::error());
                }
            }
        }
        Ok(true)
    }
}
