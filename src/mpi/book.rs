//! A pool's own ledger on top of the cluster's links: its phase (running, closed,
//! terminated), the tasks it sent that have not finished (so that `terminate` can fail
//! them at once), and its work in flight (for `join`).

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::{Error, ErrorKind, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Phase {
    Running,
    Closed,
    Terminated,
}

pub(super) struct State {
    pub(super) phase: Phase,
    /// Ids of the tasks sent and not finished.
    pub(super) tasks: HashSet<u64>,
    /// Calls in progress (synchronous ones and `*_async` jobs).
    pub(super) busy: usize,
}

pub(super) struct Book {
    state: Mutex<State>,
    idle: Condvar,
}

impl Book {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Book {
            state: Mutex::new(State {
                phase: Phase::Running,
                tasks: HashSet::new(),
                busy: 0,
            }),
            idle: Condvar::new(),
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Every update is one assignment or set operation: never half done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a call as in flight until the guard drops; refused after close/terminate.
    pub(super) fn busy(self: &Arc<Self>) -> Result<Busy> {
        let mut state = self.state();
        check_phase(state.phase)?;
        state.busy += 1;
        Ok(Busy(self.clone()))
    }

    pub(super) fn task_started(&self, id: u64) {
        self.state().tasks.insert(id);
    }

    pub(super) fn task_done(&self, id: u64) {
        self.state().tasks.remove(&id);
    }

    /// Waits until nothing is in flight, or until `deadline`. True when idle.
    pub(super) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state();
        while state.busy > 0 {
            state = match deadline {
                None => self.idle.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.idle
                        .wait_timeout(state, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }
}

/// A call in flight; dropping it may wake `join`.
pub(super) struct Busy(Arc<Book>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.busy -= 1;
        if state.busy == 0 {
            self.0.idle.notify_all();
        }
    }
}

pub(super) fn check_phase(phase: Phase) -> Result<()> {
    match phase {
        Phase::Running => Ok(()),
        Phase::Closed => Err(Error::new(
            ErrorKind::PoolClosed,
            "the pool is closed: close() was called, so it takes no new work",
        )),
        Phase::Terminated => Err(Error::new(
            ErrorKind::PoolTerminated,
            "the pool was terminated: terminate() was called, so it takes no new work",
        )),
    }
}

pub(super) fn cancelled() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the task did not finish: its pool was terminated first (Python would wait \
         forever here)",
    )
}
