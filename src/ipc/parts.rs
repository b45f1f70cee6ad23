//! Items of any size through a [`Ring`]: an item bigger than half the ring travels in
//! parts, while the writer holds the queue's writer lock and the reader its reader lock.
//!
//! Each ring message starts with a tag. A writer that dies between parts leaves its writer
//! lock to be repaired: a reader waiting for the next part notices (it can take the lock,
//! with `EOWNERDEAD`) and drops the partial item; the next writer also sends an `ABORT`
//! first. A reader that dies while assembling leaves the rest of its item in the ring: the
//! next reader takes the reader lock with `EOWNERDEAD` and skips parts up to the next item.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::Ring;
use crate::sys::{RawMutex, Relock, SharedRegion};
use crate::{Error, ErrorKind, Result};

const WHOLE: u8 = 0;
const FIRST: u8 = 1;
const MIDDLE: u8 = 2;
const LAST: u8 = 3;
const ABORT: u8 = 4;

/// How often a reader waiting for the next part checks that its writer lives.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The queue's writer and reader locks (robust, process-shared).
#[derive(Clone, Debug)]
pub(crate) struct PartLocks {
    writer: RawMutex,
    reader: RawMutex,
}

/// Holds a [`RawMutex`]; unlocks on drop.
struct Held<'a>(&'a RawMutex);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl PartLocks {
    pub(crate) fn new() -> Result<Self> {
        let region = Arc::new(SharedRegion::new(128)?);
        Ok(PartLocks {
            writer: RawMutex::init(region.clone(), 0, false)?,
            reader: RawMutex::init(region, 64, false)?,
        })
    }
}

/// Puts one encoded item; `frame[0]` is reserved for the tag.
pub(crate) fn put(
    ring: &Ring,
    locks: &PartLocks,
    frame: &mut [u8],
    deadline: Option<Instant>,
) -> Result<()> {
    let relock = locks.writer.lock(deadline)?;
    let _held = Held(&locks.writer);
    if relock == Relock::OwnerDied {
        // The previous writer died between two parts: tell the reader to drop them.
        ring.push_part(&[ABORT], deadline, false)?;
    }
    let part = ring.capacity() / 2 - 8;
    let body_len = frame.len() - 1;
    if body_len <= part {
        frame[0] = WHOLE;
        return ring.push_part(frame, deadline, true);
    }
    let mut sent = 0;
    let mut buf = Vec::with_capacity(part + 1);
    while sent < body_len {
        let end = (sent + part).min(body_len);
        let tag = match (sent, end) {
            (0, _) => FIRST,
            (_, e) if e == body_len => LAST,
            _ => MIDDLE,
        };
        buf.clear();
        buf.push(tag);
        buf.extend_from_slice(&frame[1 + sent..1 + end]);
        if let Err(e) = ring.push_part(&buf, deadline, tag == LAST) {
            if sent > 0 {
                // Best effort: the reader drops what it has (it also notices on its own).
                let _ = ring.push_part(&[ABORT], Some(Instant::now()), false);
            }
            return Err(e);
        }
        sent = end;
    }
    Ok(())
}

/// Takes one item, waiting for its first part until `deadline`; once an item has begun,
/// its remaining parts are waited for as long as its writer lives. Without a deadline,
/// the wait for a first part ends with `Disconnected` once `nobody_else()` says no one
/// else can put any more.
pub(crate) fn get(
    ring: &Ring,
    locks: &PartLocks,
    deadline: Option<Instant>,
    nobody_else: &dyn Fn() -> bool,
) -> Result<Vec<u8>> {
    let relock = locks.reader.lock(deadline)?;
    let _held = Held(&locks.reader);
    // A reader died assembling an item: skip the rest of that item.
    let mut skipping = relock == Relock::OwnerDied;
    let mut item: Option<Vec<u8>> = None;
    loop {
        let message = match &item {
            None => pop_interruptibly(ring, deadline, nobody_else)?,
            Some(_) => match ring.pop(Some(Instant::now() + CHECK_EVERY)) {
                Err(e) if e.is_timeout() => {
                    if writer_died(ring, locks) {
                        item = None; // the rest will never come
                    }
                    continue;
                }
                other => other?,
            },
        };
        let Some((&tag, body)) = message.split_first() else {
            continue;
        };
        match tag {
            WHOLE if item.is_none() => return Ok(message[1..].to_vec()),
            FIRST => {
                skipping = false;
                item = Some(body.to_vec());
            }
            MIDDLE | LAST if skipping || item.is_none() => {}
            MIDDLE => item.get_or_insert_with(Vec::new).extend_from_slice(body),
            LAST => {
                let mut whole = item.take().unwrap_or_default();
                whole.extend_from_slice(body);
                return Ok(whole);
            }
            // ABORT, or a WHOLE item where a part was expected: drop the partial item.
            WHOLE => return Ok(message[1..].to_vec()),
            _ => item = None,
        }
    }
}

/// [`Ring::pop`], in slices, so that a wait without deadline still ends on an interrupt
/// (the notebook's stop button, see [`crate::interrupt`]) or when `nobody_else()` says
/// that no other holder of the queue is left.
fn pop_interruptibly(
    ring: &Ring,
    deadline: Option<Instant>,
    nobody_else: &dyn Fn() -> bool,
) -> Result<Vec<u8>> {
    let epoch = crate::interrupt::epoch();
    loop {
        let slice = Instant::now() + CHECK_EVERY;
        match ring.pop(Some(deadline.map_or(slice, |d| d.min(slice)))) {
            Err(e) if e.is_timeout() => {
                if crate::interrupt::happened_since(epoch) {
                    return Err(crate::interrupt::error());
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(e);
                }
                if deadline.is_none() && nobody_else() && ring.len().is_ok_and(|n| n == 0) {
                    return Err(Error::new(
                        ErrorKind::Disconnected,
                        "the queue is empty and every other process that held it has \
                         exited: nothing more can arrive (Python would wait for ever here)",
                    ));
                }
            }
            other => return other,
        }
    }
}

/// True when the item being assembled lost its writer: the writer lock is free (its
/// holder died, or gave up after an error) and no part waits in the ring. A writer
/// releases the lock only after its last part, so a free lock with an empty ring means the
/// rest will never come. (Taking the lock repairs it; it is released at once.)
fn writer_died(ring: &Ring, locks: &PartLocks) -> bool {
    match locks.writer.try_lock() {
        Ok(Some(_)) => {
            let nothing_left = ring.len().map(|n| n == 0).unwrap_or(true);
            locks.writer.unlock();
            nothing_left
        }
        _ => false,
    }
}
