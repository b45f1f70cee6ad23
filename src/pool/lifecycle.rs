//! What every pool promises about its life, written once: its phase (running, closed,
//! terminated), the tasks queued and not started (so that `terminate` fails them at
//! once), the work in flight (so that `join` and `Drop` know when everything finished),
//! and the rules of `close`, `terminate`, `join`, `join_timeout` and `Drop` over them.
//!
//! A backend (threads, processes, and MPI in `src/mpi/`) keeps one [`Ledger`] and
//! implements [`Backend`] with what differs: how its queued tasks are kept and failed,
//! what `terminate` stops besides the queue, whether a `join` from here would wait for
//! itself, and what `Drop` stops once the queued work has finished.
//!
//! The MPI pool's queue is the set of tasks sent to the ranks and not finished (a task may
//! already run on its rank: `terminate` fails it with `unfinished`, not [`never_ran`]),
//! and it does not call [`Backend::drop_pool`]: dropping it does not wait.
//! What `src/mpi/` uses is `pub(crate)`; the rest stays `pub(super)`.

#[cfg(feature = "mpi")]
use std::sync::Arc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Error, ErrorKind, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Phase {
    Running,
    Closed,
    Terminated,
    /// Dropped: the backend's own threads leave once the queue is empty.
    Stopping,
}

/// How a backend keeps the tasks queued and not started (MPI: sent and not finished).
pub(crate) trait Queue: Default {
    /// One queued task, as `terminate` gets it to fail it.
    type Task;
    /// Takes every queued task out (for `terminate`).
    fn drain(&mut self) -> Vec<Self::Task>;
}

/// A pool's phase, its queued tasks and its work in flight.
pub(crate) struct Ledger<Q> {
    book: Mutex<Book<Q>>,
    /// Signalled when `in_flight` drops to zero.
    idle: Condvar,
    /// Signalled when a task is queued or the pool stops (for the backend's own threads
    /// that take queued tasks, if it has any).
    work: Condvar,
    /// The process that made the pool: a forked copy must not use it.
    owner_pid: u32,
}

struct Book<Q> {
    phase: Phase,
    /// Queued and running calls (synchronous ones included), for `join`.
    in_flight: usize,
    queued: Q,
}

impl<Q: Queue> Ledger<Q> {
    pub(crate) fn new() -> Self {
        Ledger {
            book: Mutex::new(Book {
                phase: Phase::Running,
                in_flight: 0,
                queued: Q::default(),
            }),
            idle: Condvar::new(),
            work: Condvar::new(),
            owner_pid: std::process::id(),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book<Q>> {
        // Every update is a single assignment or queue operation: never half done.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn is_owner(&self) -> bool {
        std::process::id() == self.owner_pid
    }

    /// Refuses use from a forked copy of the pool: its workers are the parent's.
    pub(super) fn check_owner(&self) -> Result<()> {
        if self.is_owner() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "this Pool was created by process {}: a forked child cannot use it (its \
                 workers are the parent's); create a new Pool inside the child",
                self.owner_pid
            ),
        ))
    }

    pub(super) fn phase(&self) -> Phase {
        self.book().phase
    }

    pub(super) fn in_flight(&self) -> usize {
        self.book().in_flight
    }

    /// Refuses work when the pool is not running or belongs to another process.
    pub(super) fn check(&self) -> Result<()> {
        self.check_owner()?;
        check_phase(self.book().phase)
    }

    /// Counts a synchronous call as in flight while the guard lives.
    pub(crate) fn busy(&self) -> Result<Busy<'_, Q>> {
        self.admit(|_| ())?;
        Ok(Busy(self))
    }

    /// [`busy`](Self::busy) for work that outlives the call that took it in (an
    /// `*_async` job, a lazy iterator): the guard holds the ledger.
    #[cfg(feature = "mpi")]
    pub(crate) fn busy_owned(self: &Arc<Self>) -> Result<OwnedBusy<Q>> {
        self.admit(|_| ())?;
        Ok(OwnedBusy(self.clone()))
    }

    /// Takes a task in: refused unless the pool runs (in its own process); counted in
    /// flight until [`done`](Self::done), and `queue` records it under the ledger's lock.
    pub(super) fn admit<T>(&self, queue: impl FnOnce(&mut Q) -> T) -> Result<T> {
        self.check_owner()?;
        let mut book = self.book();
        check_phase(book.phase)?;
        book.in_flight += 1;
        Ok(queue(&mut book.queued))
    }

    /// Wakes one of the threads waiting in [`next_task`](Self::next_task).
    pub(super) fn task_queued(&self) {
        self.work.notify_one();
    }

    /// `f` on the queued tasks, under the ledger's lock.
    pub(crate) fn with_queue<T>(&self, f: impl FnOnce(&mut Q) -> T) -> T {
        f(&mut self.book().queued)
    }

    /// `f` on the queued tasks under the ledger's lock unless the pool was terminated, so
    /// that a task a call queues after `terminate` drained the queue is never queued;
    /// false when it was terminated. (A call admitted before `close` still queues its
    /// tasks: Python's `close` lets submitted work finish.)
    #[cfg(feature = "mpi")]
    pub(crate) fn queue_unless_terminated(&self, f: impl FnOnce(&mut Q)) -> bool {
        let mut book = self.book();
        if book.phase == Phase::Terminated {
            return false;
        }
        f(&mut book.queued);
        true
    }

    #[cfg(feature = "mpi")]
    pub(crate) fn is_terminated(&self) -> bool {
        self.book().phase == Phase::Terminated
    }

    /// The next queued task `take` gives, waiting for one; `None` once the pool is
    /// stopping and nothing is left.
    pub(super) fn next_task<T>(&self, mut take: impl FnMut(&mut Q) -> Option<T>) -> Option<T> {
        let mut book = self.book();
        loop {
            if let Some(task) = take(&mut book.queued) {
                return Some(task);
            }
            if book.phase == Phase::Stopping {
                return None;
            }
            book = self.work.wait(book).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// One task or call admitted earlier is over.
    pub(super) fn done(&self) {
        let mut book = self.book();
        book.in_flight -= 1;
        if book.in_flight == 0 {
            self.idle.notify_all();
        }
    }

    /// Waits until no work is in flight, or until `deadline`. True when idle.
    fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        let mut book = self.book();
        while book.in_flight > 0 {
            book = match deadline {
                None => self.idle.wait(book).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    self.idle
                        .wait_timeout(book, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }

    fn close(&self) {
        let mut book = self.book();
        if book.phase == Phase::Running {
            book.phase = Phase::Closed;
        }
    }
}

/// Counts a synchronous call (`map`, `apply`, a lazy `imap`) as work in flight while it
/// runs.
pub(crate) struct Busy<'a, Q: Queue>(&'a Ledger<Q>);

impl<Q: Queue> Drop for Busy<'_, Q> {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// A [`Busy`] that holds its ledger, from [`Ledger::busy_owned`].
#[cfg(feature = "mpi")]
pub(crate) struct OwnedBusy<Q: Queue>(Arc<Ledger<Q>>);

#[cfg(feature = "mpi")]
impl<Q: Queue> Drop for OwnedBusy<Q> {
    fn drop(&mut self) {
        self.0.done();
    }
}

fn check_phase(phase: Phase) -> Result<()> {
    match phase {
        Phase::Running => Ok(()),
        Phase::Closed => Err(Error::new(
            ErrorKind::PoolClosed,
            "the pool is closed: close() was called, so it takes no new work \
             (create a new Pool for more)",
        )),
        Phase::Terminated | Phase::Stopping => Err(Error::new(
            ErrorKind::PoolTerminated,
            "the pool was terminated: terminate() was called, so it takes no new work \
             (create a new Pool for more)",
        )),
    }
}

/// The error of a queued task that `terminate` failed before it started.
pub(crate) fn never_ran() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the task never ran: its pool was terminated first (Python would wait forever here)",
    )
}

/// The error of a task that `terminate` failed before it finished, where the backend cannot
/// tell whether it started (MPI: a task sent to a rank may run there already).
#[cfg(feature = "mpi")]
pub(crate) fn unfinished() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the task did not finish: its pool was terminated first (Python would wait forever \
         here)",
    )
}

/// What a pool backend adds to the lifecycle; the lifecycle itself is the provided
/// methods, the same for every backend. `Q` is how it keeps its queued tasks: a type
/// parameter, not an associated type, so that each backend's queue stays as private as
/// the backend wants (an associated type would have to be as visible as this trait).
pub(crate) trait Backend<Q: Queue> {
    fn ledger(&self) -> &Ledger<Q>;

    /// `terminate`: fails `task`, queued and never started, with `error`. True when it
    /// was failed here (not already started).
    fn cancel(&self, task: Q::Task, error: Error) -> bool;

    /// `terminate`: the error its queued tasks fail with: [`never_ran`], unless a task
    /// of the queue may have started.
    fn cancel_error(&self) -> Error {
        never_ran()
    }

    /// `terminate`: stops what already runs, where the backend can.
    fn stop_running(&self) {}

    /// True when a `join` from the calling thread would wait for itself.
    fn waits_for_itself(&self) -> bool {
        false
    }

    /// `Drop`, once the queued work has finished: stops the backend's own threads and
    /// workers.
    fn shut_down(&self) {}

    /// Python's `close`: no new work; queued tasks still run.
    fn close(&self) {
        self.ledger().close();
    }

    /// Python's `terminate`: no new work, the queued tasks fail at once, what runs is
    /// stopped where it can be. How many queued tasks were failed. A forked copy of the
    /// pool does nothing (the tasks are not its process's).
    fn terminate(&self) -> usize {
        let ledger = self.ledger();
        if !ledger.is_owner() {
            return 0;
        }
        let queued = {
            let mut book = ledger.book();
            if book.phase != Phase::Stopping {
                book.phase = Phase::Terminated;
            }
            book.queued.drain()
        };
        self.stop_running();
        queued
            .into_iter()
            .map(|task| self.cancel(task, self.cancel_error()))
            .filter(|&cancelled| cancelled)
            .count()
    }

    /// Python's `join`: waits until every queued and running task has finished.
    fn join(&self) -> Result<()> {
        self.check_joinable()?;
        self.ledger().wait_idle(None);
        Ok(())
    }

    /// `join`, giving up after `timeout`. True when every task finished.
    fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.check_joinable()?;
        Ok(self.ledger().wait_idle(Some(Instant::now() + timeout)))
    }

    fn check_joinable(&self) -> Result<()> {
        let ledger = self.ledger();
        ledger.check_owner()?;
        if ledger.phase() == Phase::Running {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "join() needs close() or terminate() first (Python raises `ValueError: Pool \
                 is still running`)",
            ));
        }
        if self.waits_for_itself() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "join() was called from one of the pool's own workers: it would wait for itself",
            ));
        }
        Ok(())
    }

    /// Dropping a pool closes it and waits for the tasks already queued (nothing
    /// submitted is lost), then shuts the backend down. A forked copy does nothing; from
    /// one of the pool's own workers, waiting would wait for itself: the queued work then
    /// finishes on its own.
    fn drop_pool(&self) {
        let ledger = self.ledger();
        if !ledger.is_owner() {
            return;
        }
        ledger.close();
        if self.waits_for_itself() {
            return;
        }
        ledger.wait_idle(None);
        ledger.book().phase = Phase::Stopping;
        ledger.work.notify_all();
        self.shut_down();
    }
}
