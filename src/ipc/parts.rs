//! Items of any size through a [`Ring`]: an item bigger than half the ring travels in
//! parts, while the writer holds the ring's writer lock and the reader its reader lock.
//!
//! Each ring message starts with a tag. A writer that dies between parts leaves its writer
//! lock to be repaired: a reader waiting for the next part notices (it can take the lock,
//! with `EOWNERDEAD`) and drops the partial item; the next writer also sends an `ABORT`
//! first. A reader that dies while assembling leaves the rest of its item in the ring: the
//! next reader takes the reader lock with `EOWNERDEAD` and skips parts up to the next item.

use std::time::Instant;

use super::ring::{Reader, Ring};
use crate::sys::CHECK_EVERY;
use crate::{Error, ErrorKind, Result};

const WHOLE: u8 = 0;
const FIRST: u8 = 1;
const MIDDLE: u8 = 2;
const LAST: u8 = 3;
const ABORT: u8 = 4;

/// Puts one encoded item; `frame[0]` is reserved for the tag.
pub(crate) fn put(ring: &Ring, frame: &mut [u8], deadline: Option<Instant>) -> Result<()> {
    let writer = ring.lock_writer(deadline)?;
    if writer.owner_died() {
        // The previous writer died between two parts: tell the reader to drop them.
        writer.push(&[&[ABORT]], deadline, false)?;
    }
    let part = ring.capacity() / 2 - 8;
    let body_len = frame.len() - 1;
    if body_len <= part {
        frame[0] = WHOLE;
        return writer.push(&[frame], deadline, true);
    }
    let mut sent = 0;
    while sent < body_len {
        let end = (sent + part).min(body_len);
        let tag = match (sent, end) {
            (0, _) => FIRST,
            (_, e) if e == body_len => LAST,
            _ => MIDDLE,
        };
        let pieces: [&[u8]; 2] = [&[tag], &frame[1 + sent..1 + end]];
        if let Err(e) = writer.push(&pieces, deadline, tag == LAST) {
            if sent > 0 {
                // Best effort: the reader drops what it has (it also notices on its own).
                let _ = writer.push(&[&[ABORT]], Some(Instant::now()), false);
            }
            return Err(e);
        }
        sent = end;
    }
    Ok(())
}

/// Takes one item into `buf`, waiting for its first part until `deadline`; once an item
/// has begun, its remaining parts are waited for as long as its writer lives. Without a
/// deadline, the wait for a first part ends with `Disconnected` once `nobody_else()` says
/// no one else can put any more. Returns where the item's bytes start in `buf`.
pub(crate) fn get(
    ring: &Ring,
    deadline: Option<Instant>,
    nobody_else: &dyn Fn() -> bool,
    buf: &mut Vec<u8>,
) -> Result<usize> {
    let reader = ring.lock_reader(deadline)?;
    // A reader died assembling an item: skip the rest of that item.
    let mut skipping = reader.owner_died();
    let mut item: Option<Vec<u8>> = None;
    loop {
        match &item {
            None => pop_interruptibly(&reader, deadline, nobody_else, buf)?,
            Some(_) => match reader.pop_into(buf, Some(Instant::now() + CHECK_EVERY)) {
                Err(e) if e.is_timeout() => {
                    if writer_died(ring) {
                        item = None; // the rest will never come
                    }
                    continue;
                }
                other => other?,
            },
        }
        let Some((&tag, body)) = buf.split_first() else {
            continue;
        };
        match tag {
            WHOLE if item.is_none() => return Ok(1),
            FIRST => {
                skipping = false;
                item = Some(body.to_vec());
            }
            MIDDLE | LAST if skipping || item.is_none() => {}
            MIDDLE => item.get_or_insert_with(Vec::new).extend_from_slice(body),
            LAST => {
                let mut whole = item.take().unwrap_or_default();
                whole.extend_from_slice(body);
                *buf = whole;
                return Ok(0);
            }
            // ABORT, or a WHOLE item where a part was expected: drop the partial item.
            WHOLE => return Ok(1),
            _ => item = None,
        }
    }
}

/// [`Reader::pop_into`], in slices, so that a wait without deadline still ends on an
/// interrupt (the notebook's stop button, see [`crate::interrupt`]) or when
/// `nobody_else()` says that no other holder of the queue is left.
fn pop_interruptibly(
    reader: &Reader<'_>,
    deadline: Option<Instant>,
    nobody_else: &dyn Fn() -> bool,
    buf: &mut Vec<u8>,
) -> Result<()> {
    if reader.try_pop_into(buf)? {
        return Ok(()); // no clock read when an item waits
    }
    let epoch = crate::interrupt::epoch();
    loop {
        let slice = Instant::now() + CHECK_EVERY;
        match reader.pop_into(buf, Some(deadline.map_or(slice, |d| d.min(slice)))) {
            Err(e) if e.is_timeout() => {
                if crate::interrupt::happened_since(epoch) {
                    return Err(crate::interrupt::error());
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(e);
                }
                if deadline.is_none() && nobody_else() && reader.is_empty() {
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
fn writer_died(ring: &Ring) -> bool {
    match ring.try_lock_writer() {
        Ok(Some(writer)) => {
            let nothing_left = ring.len().map(|n| n == 0).unwrap_or(true);
            drop(writer);
            nothing_left
        }
        _ => false,
    }
}
