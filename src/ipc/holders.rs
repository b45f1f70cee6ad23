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

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::Result;
use crate::sys::SharedRegion;

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

/// True while `pid` runs (a zombie has ended: it only waits to be reaped).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next(),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

/// One queue's holder table, and this process's count of its handles.
#[derive(Clone, Debug)]
pub(crate) struct Holders {
    region: Arc<SharedRegion>,
    /// One clone per handle of the queue in this process.
    handles: Arc<()>,
}

impl Holders {
    /// A table holding this process.
    pub(crate) fn new() -> Result<Self> {
        let region = Arc::new(SharedRegion::new(SIZE)?);
        register(&region, std::process::id());
        let mut live = live();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&region));
        Ok(Holders {
            region,
            handles: Arc::new(()),
        })
    }

    /// True when nothing more can ever be put by anyone but this caller: the queue was
    /// shared with another process, no other handle in this process, no fork under way,
    /// every other holder process gone.
    pub(crate) fn others_gone(&self) -> bool {
        if self.region.u64_at(SHARED).load(Ordering::SeqCst) == 0
            || Arc::strong_count(&self.handles) > 1
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

impl ForkInProgress {
    /// In the parent: the child `pid` holds every live queue (`None`: the fork failed).
    pub(crate) fn parent(self, pid: Option<u32>) {
        for r in &self.regions {
            if let Some(pid) = pid {
                register(r, pid);
                r.u64_at(SHARED).store(1, Ordering::SeqCst);
            }
            pending(r).fetch_sub(1, Ordering::SeqCst);
        }
        drop(self.live);
    }

    /// In the child: releases the child's copy of the registry lock. The parent does the
    /// counting; the child's copies of the region handles are never dropped (it leaves
    /// with `_exit`), so forgetting them changes nothing.
    pub(crate) fn child(self) {
        std::mem::forget(self.regions);
        drop(self.live);
    }
}
