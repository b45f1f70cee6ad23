//! Which processes hold each end of a [`Pipe`](super::Pipe): how a `Connection` tells its
//! peer is gone although `fork` copied the peer's socket into processes that never use it.
//!
//! Every forked child inherits a copy of every open end, so "the socket's other end is
//! closed everywhere" comes late or never (an echo child holding its parent's end; a
//! sibling forked while both ends were open). Instead each end keeps, in a page shared by
//! both ends, the PIDs of the processes that really hold it:
//!
//! - its creator;
//! - a child the end was moved to: `sys::fork_run` drops the task's closure in the parent
//!   under [`handing_over_to`]`(child)`, and a `Connection` dropped there passes its place
//!   to the child instead of leaving;
//! - a process that uses it (send, recv, poll) although it is not listed: it was shared
//!   with it through an `Arc` or a static, which no drop can see.
//!
//! A process leaves the table when it drops or `close`s its end, or when it dies. The peer
//! is gone once no listed process is alive. A full table errs on the side of waiting.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Result;
use crate::sys::alive;
use crate::sys::{SharedRegion, current_pid};

const SIZE: usize = 4096;
const HEADER: usize = 64;
const SLOTS: usize = (SIZE - HEADER) / 8;
/// Marks a slot as "this PID has already let go": a child may drop or close its end before
/// the parent, back from `fork`, hands it over; the hand-over must not list it then.
/// (PIDs are below 2^22.)
const LEFT: u32 = 1 << 31;

thread_local! {
    /// The child that this thread is handing a forked task's closure to (0: none).
    static HANDING_TO: Cell<u32> = const { Cell::new(0) };
}

/// The child a forked task's closure is being handed to on this thread (0: none).
pub(crate) fn handing_to() -> u32 {
    HANDING_TO.with(Cell::get)
}

/// Runs `drop_task` (the parent's copy of a task just forked into `child`) so that every
/// `Connection` it drops is handed to `child` rather than closed.
pub(crate) fn handing_over_to<R>(child: u32, drop_task: impl FnOnce() -> R) -> R {
    let before = HANDING_TO.with(|h| h.replace(child));
    let out = drop_task();
    HANDING_TO.with(|h| h.set(before));
    out
}

/// The holder tables of a pipe's two ends (0 and 1), as seen from end `mine`.
#[derive(Debug)]
pub(crate) struct EndHolders {
    region: Arc<SharedRegion>,
    mine: usize,
    /// The process that last made sure it is listed (saves a scan per message).
    listed_as: AtomicU32,
}

impl EndHolders {
    /// The two ends of a new pipe, both held by this process.
    pub(crate) fn pair() -> Result<(EndHolders, EndHolders)> {
        let region = Arc::new(SharedRegion::new(SIZE)?);
        let ends = (
            EndHolders {
                region: region.clone(),
                mine: 0,
                listed_as: AtomicU32::new(0),
            },
            EndHolders {
                region,
                mine: 1,
                listed_as: AtomicU32::new(0),
            },
        );
        ends.0.enlist();
        ends.1.enlist();
        Ok(ends)
    }

    fn slot(&self, end: usize, i: usize) -> &AtomicU32 {
        self.region.u32_at(HEADER + (end * SLOTS + i) * 4)
    }

    fn overflowed(&self, end: usize) -> &AtomicU32 {
        self.region.u32_at(end * 4)
    }

    fn add(&self, end: usize, pid: u32) {
        for i in 0..SLOTS {
            let s = self.slot(end, i);
            let seen = s.load(Ordering::SeqCst);
            if seen == pid {
                return;
            }
            if seen == pid | LEFT {
                // It let go before it was handed the end: it stays out.
                let _ = s.compare_exchange(seen, 0, Ordering::SeqCst, Ordering::SeqCst);
                return;
            }
        }
        self.put(end, pid);
    }

    /// Writes `value` in a free slot (or notes that the table overflowed).
    fn put(&self, end: usize, value: u32) {
        for i in 0..SLOTS {
            let s = self.slot(end, i);
            let seen = s.load(Ordering::SeqCst);
            // A free slot, or one of a process that is gone for good.
            if (seen == 0 || !alive(seen & !LEFT))
                && s.compare_exchange(seen, value, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return;
            }
        }
        self.overflowed(end).store(1, Ordering::SeqCst);
    }

    /// Unlists `pid` and marks it as having let go (so that a hand-over still on its way
    /// from the parent, back from `fork`, does not list it again).
    fn remove(&self, end: usize, pid: u32) {
        let mut marked = false;
        for i in 0..SLOTS {
            let s = self.slot(end, i);
            let _ = s.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
            marked |= s.load(Ordering::SeqCst) == pid | LEFT;
        }
        if !marked {
            self.put(end, pid | LEFT);
        }
    }

    /// Makes sure this process is listed as a holder of this end (it is about to use it).
    pub(crate) fn enlist(&self) {
        let me = current_pid();
        if self.listed_as.load(Ordering::Relaxed) != me {
            self.add(self.mine, me);
            self.listed_as.store(me, Ordering::Relaxed);
        }
    }

    /// This process lets go of its end: dropped (or handed to the child being forked, see
    /// [`handing_over_to`]), or closed (`handing` false).
    pub(crate) fn leave(&self, handing: bool) {
        let me = current_pid();
        let to = if handing {
            HANDING_TO.with(Cell::get)
        } else {
            0
        };
        if to != 0 {
            self.add(self.mine, to);
        }
        self.remove(self.mine, me);
        self.listed_as.store(0, Ordering::Relaxed);
    }

    /// True once no process holds the other end any more.
    pub(crate) fn peer_gone(&self) -> bool {
        let peer = 1 - self.mine;
        if self.overflowed(peer).load(Ordering::SeqCst) != 0 {
            return false;
        }
        let me = current_pid();
        for i in 0..SLOTS {
            let pid = self.slot(peer, i).load(Ordering::SeqCst);
            if pid != 0 && pid & LEFT == 0 && (pid == me || alive(pid)) {
                return false;
            }
        }
        true
    }
}
