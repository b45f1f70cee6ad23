//! Which processes hold a queue: how `Queue::get` tells "nothing yet" from "nothing ever".
//!
//! A queue lives in anonymous shared memory, so only processes forked from the one that
//! made it can hold it. Each queue keeps a table of holder PIDs in its own shared page:
//! its creator, and every child that paralelo forks while the queue exists in the forking
//! process (`sys::fork_run` calls [`prepare_fork`]; the parent writes the child's PID).
//! While a fork is under way, a counter says so. `get` without a timeout on an empty queue
//! then ends with `Disconnected` when no other holder is alive, no fork is under way and
//! the waiting process has no other handle of the queue (another thread could put).
//!
//! Every rule errs on the side of waiting: a full table, a PID reused by an unrelated
//! process, or a process forked by other means than paralelo only make `get` wait, as it
//! did before.

use std::sync::atomic::{AtomicIsize, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::Result;
use crate::sys::{PerProcess, SharedRegion, alive};

const PENDING: usize = 0;
const OVERFLOW: usize = 8;
/// Set once a second process holds the queue: a queue only threads ever used never ends
/// this way (its handles may be shared by reference, which no count sees).
const SHARED: usize = 16;
const PIDS: usize = 64;
const SIZE: usize = 4096;
const SLOTS: usize = (SIZE - PIDS) / 4;

/// The holder tables of this process's live queues. Held across every fork by the
/// forking thread, so no other thread holds it at the fork; the child unlocks its copy.
static LIVE: Mutex<Vec<Weak<SharedRegion>>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<Weak<SharedRegion>>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn slot(region: &SharedRegion, i: usize) -> &AtomicU32 {
    region.u32_at(PIDS + 4 * i)
}

fn pending(region: &SharedRegion) -> &AtomicU64 {
    region.u64_at(PENDING)
}

/// Writes `pid` in a free slot (or notes that the table overflowed).
fn register(region: &SharedRegion, pid: u32) {
    for i in 0..SLOTS {
        if slot(region, i)
            .compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
    region.u64_at(OVERFLOW).store(1, Ordering::SeqCst);
}

/// One queue's holder table, and this process's count of its handles.
#[derive(Debug)]
pub(crate) struct Holders {
    region: Arc<SharedRegion>,
    /// Handles made in each process (per process: a child's copy of its parent's count
    /// would count handles the child cannot reach). The creator counts all of its own.
    handles: Arc<PerProcess<AtomicIsize>>,
    /// The process that made the queue.
    creator: u32,
    /// The process this handle last made sure is listed (saves a scan per message).
    listed_as: AtomicU32,
}

impl Clone for Holders {
    fn clone(&self) -> Self {
        self.handles.get().fetch_add(1, Ordering::SeqCst);
        Holders {
            region: self.region.clone(),
            handles: self.handles.clone(),
            creator: self.creator,
            listed_as: AtomicU32::new(self.listed_as.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        // A handle dropped while a forked task's closure is handed to the child: the
        // child holds the queue now (see `ipc::end_holders::handing_over_to`).
        let to = super::end_holders::handing_to();
        if to != 0 {
            list(&self.region, to);
        }
        let left = self.handles.get().fetch_sub(1, Ordering::SeqCst) - 1;
        let me = crate::sys::current_pid();
        if left <= 0 && me == self.creator {
            // The creator's last handle: it holds the queue no more (a consumer child
            // may see the end once the other holders are gone).
            for i in 0..SLOTS {
                let _ = slot(&self.region, i).compare_exchange(
                    me,
                    0,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
        }
    }
}

/// Lists `pid` as a holder (once) and marks the queue as shared between processes.
fn list(region: &SharedRegion, pid: u32) {
    if !(0..SLOTS).any(|i| slot(region, i).load(Ordering::SeqCst) == pid) {
        register(region, pid);
    }
    region.u64_at(SHARED).store(1, Ordering::SeqCst);
}

impl Holders {
    /// A table holding this process.
    pub(crate) fn new() -> Result<Self> {
        let region = Arc::new(SharedRegion::new(SIZE)?);
        register(&region, std::process::id());
        let mut live = live();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&region));
        let handles = Arc::new(PerProcess::<AtomicIsize>::new());
        handles.get().store(1, Ordering::SeqCst);
        Ok(Holders {
            region,
            handles,
            creator: crate::sys::current_pid(),
            listed_as: AtomicU32::new(crate::sys::current_pid()),
        })
    }

    /// Makes sure this process is listed: it is about to use the queue (it may have
    /// reached it through an `Arc` or a static, which no hand-over sees).
    pub(crate) fn enlist(&self) {
        let me = crate::sys::current_pid();
        if self.listed_as.load(Ordering::Relaxed) != me {
            list(&self.region, me);
            self.listed_as.store(me, Ordering::Relaxed);
        }
    }

    /// Other handles of the queue in this process, besides the caller's: all but one in
    /// its creator; in a forked child, those it made (clones given to its threads), the
    /// handle it was given being the caller's.
    fn others_here(&self) -> isize {
        let made_here = self.handles.get().load(Ordering::SeqCst);
        if crate::sys::current_pid() == self.creator {
            made_here - 1
        } else {
            made_here
        }
    }

    /// True when nothing more can ever be put by anyone but this caller: the queue was
    /// shared with another process, no other handle in this process, no fork under way,
    /// every other holder process gone.
    pub(crate) fn others_gone(&self) -> bool {
        if self.region.u64_at(SHARED).load(Ordering::SeqCst) == 0
            || self.others_here() > 0
            || pending(&self.region).load(Ordering::SeqCst) > 0
            || self.region.u64_at(OVERFLOW).load(Ordering::SeqCst) != 0
        {
            return false;
        }
        let me = std::process::id();
        let mut gone = true;
        for i in 0..SLOTS {
            let pid = slot(&self.region, i).load(Ordering::SeqCst);
            if pid == 0 || pid == me {
                continue;
            }
            if alive(pid) {
                gone = false;
            } else {
                // Free the slot for later children (a dead PID stays dead for us).
                let _ = slot(&self.region, i).compare_exchange(
                    pid,
                    0,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
        }
        gone
    }
}

/// A fork under way: every live queue counts it as pending until the child's PID is
/// written (or the fork failed).
pub(crate) struct ForkInProgress {
    live: MutexGuard<'static, Vec<Weak<SharedRegion>>>,
    regions: Vec<Arc<SharedRegion>>,
}

/// Called by the forking thread right before `fork`.
pub(crate) fn prepare_fork() -> ForkInProgress {
    let live = live();
    let regions: Vec<Arc<SharedRegion>> = live.iter().filter_map(Weak::upgrade).collect();
    for r in &regions {
        pending(r).fetch_add(1, Ordering::SeqCst);
    }
    ForkInProgress { live, regions }
}

/// In the parent after `fork`: every live queue still counts the fork as pending (so no
/// `get` ends for lack of holders) until [`ForkDone::finish`], after the task's closure was
/// handed to the child.
pub(crate) struct ForkDone {
    regions: Vec<Arc<SharedRegion>>,
}

impl ForkDone {
    /// The child now holds the queues its task was given (a handle dropped during the
    /// hand-over, or one it uses): the fork is no longer pending.
    pub(crate) fn finish(self) {
        for r in &self.regions {
            pending(r).fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl ForkInProgress {
    /// In the parent: releases the registry's lock. A child is not listed as a holder of
    /// every live queue (a bystander child would keep a consumer waiting for ever); it is
    /// listed for the queues handed to it or that it uses.
    pub(crate) fn parent(self) -> ForkDone {
        drop(self.live);
        ForkDone {
            regions: self.regions,
        }
    }

    /// In the child: releases the child's copy of the registry lock. The parent does the
    /// counting; the child's copies of the region handles are never dropped (it leaves
    /// with `_exit`), so forgetting them changes nothing.
    pub(crate) fn child(self) {
        std::mem::forget(self.regions);
        drop(self.live);
    }
}
