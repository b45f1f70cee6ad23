//! A persistent `map` worker's result slots: shared memory where it leaves a chunk's
//! encoded results, so that only their place crosses the socket (see `map_crew`).

use std::sync::Arc;

use super::frame::{self, HEADER, Tag};
use crate::sys::SharedRegion;
use crate::{Error, ErrorKind, Result};

/// The size of one result slot.
pub(super) const SLOT: usize = 1 << 20;
/// Slots per worker: a worker holds at most two chunks (one running, one queued), and the
/// parent decodes a frame before it gives the chunk after those two, so the slot of the
/// frame being decoded is never the one being written.
const SLOTS: usize = 3;

/// A persistent worker's result slots: shared memory mapped before its fork.
#[derive(Debug, Clone)]
pub(super) struct ResultSlots(Arc<SharedRegion>);

impl ResultSlots {
    pub(super) fn new() -> Result<Self> {
        Ok(ResultSlots(Arc::new(SharedRegion::new(SLOT * SLOTS)?)))
    }

    /// In the worker: puts the finished frame's payload in slot `n % SLOTS` and turns the
    /// frame into a notice of it, if it holds results that fit.
    pub(super) fn stash(&self, frame: &mut Vec<u8>, n: u64) {
        let len = frame.len() - HEADER;
        if frame::tag_of(frame) != Some(Tag::Value) || len > SLOT {
            return; // sent whole: an error message, or results too big for a slot
        }
        let slot = n % SLOTS as u64;
        self.0.write_bytes(slot as usize * SLOT, &frame[HEADER..]);
        frame.truncate(HEADER);
        frame.extend_from_slice(&slot.to_le_bytes());
        frame.extend_from_slice(&(len as u64).to_le_bytes());
        frame::set_header(frame, Tag::InSlot);
    }

    /// In the parent: the results a notice points to, read in place.
    pub(super) fn payload(&self, notice: &[u8]) -> Result<&[u8]> {
        let word = |i: usize| {
            notice
                .get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        match (word(0), word(1)) {
            (Some(slot), Some(len)) if (slot as usize) < SLOTS && len as usize <= SLOT => {
                Ok(self.0.bytes(slot as usize * SLOT, len as usize))
            }
            _ => Err(Error::new(
                ErrorKind::Serialization,
                "a pool worker sent a malformed notice of its results",
            )),
        }
    }
}
