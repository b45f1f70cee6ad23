//! Running closures in forked children and collecting what they send back: the engine of
//! the process-backed [`Pool`](crate::Pool).
//!
//! Each task runs in a fresh child forked from the calling thread, so it sees everything
//! the caller could see (the function, the items, what they borrow) without encoding
//! anything; only its result crosses back, serde-encoded, on a socket of its own. A child
//! that dies before sending its whole result fails exactly its own task with an error that
//! names the exit code or signal; at most `workers` children run at once, and a dead one is
//! replaced by the next task's child. Death is noticed at once through end of file, and at
//! the latest within [`CHECK_EVERY`] by `waitpid`, even if a grandchild kept the socket open.

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Pid;

use super::frame::{self, FrameReader};
use crate::sys::{self, CHECK_EVERY, ChildWatch, ExitStatus};
use crate::{Error, ErrorKind, Result};

/// What a child computes: appends the encoded value to the buffer, or returns the message
/// of an encoding error.
pub(crate) type ChildTask<'a> =
    Box<dyn FnOnce(&mut Vec<u8>) -> std::result::Result<(), String> + 'a>;

/// What the pool's workers share: their children (for `terminate`) and whether the pool
/// was terminated.
#[derive(Debug)]
pub(crate) struct Children {
    /// The process these children belong to: a forked copy of this struct must never
    /// signal or wait for them.
    owner: u32,
    pids: Mutex<HashSet<i32>>,
    terminated: AtomicBool,
    started: AtomicUsize,
    /// Children that delivered their result and are exiting: reaped when next convenient.
    exiting: Mutex<Vec<ChildWatch>>,
    /// Cores the children are pinned to, in turn (the N-th child to `cores[N % len]`).
    cores: std::sync::OnceLock<Vec<usize>>,
}

impl Default for Children {
    fn default() -> Self {
        Children {
            owner: std::process::id(),
            pids: Mutex::default(),
            terminated: AtomicBool::default(),
            started: AtomicUsize::default(),
            exiting: Mutex::default(),
            cores: std::sync::OnceLock::new(),
        }
    }
}

impl Children {
    fn is_owner(&self) -> bool {
        std::process::id() == self.owner
    }

    /// Pins every child started from now on to one of `cores`, in turn. False when cores
    /// were already set.
    pub(crate) fn pin_to(&self, cores: Vec<usize>) -> bool {
        self.cores.set(cores).is_ok()
    }

    /// True once [`pin_to`](Self::pin_to) was called.
    pub(crate) fn is_pinned(&self) -> bool {
        self.cores.get().is_some()
    }

    /// The number of the next process started for the pool (`ForkPoolWorker-N`).
    pub(crate) fn next_number(&self) -> usize {
        self.started.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keeps `child` (whose result has arrived) to be reaped later, and reaps those of
    /// the earlier ones that are done.
    pub(super) fn finishing(&self, child: ChildWatch) {
        let mut exiting = self.exiting.lock().unwrap_or_else(|p| p.into_inner());
        exiting.push(child);
        exiting.retain_mut(|c| {
            let done = !matches!(c.try_wait(), Ok(None));
            if done {
                self.unregister(c.pid());
            }
            !done
        });
    }

    /// Stops every running child (`SIGTERM`) and refuses to start new ones.
    pub(crate) fn terminate(&self) {
        if !self.is_owner() {
            return; // a forked copy: these are not our children
        }
        self.terminated.store(true, Ordering::SeqCst);
        let pids: Vec<i32> = self
            .pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        for pid in pids {
            let _ = sys::kill(Pid::from_raw(pid), libc::SIGTERM);
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }

    pub(super) fn register(&self, pid: Pid) {
        self.pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid.as_raw());
        if self.is_terminated() {
            let _ = sys::kill(pid, libc::SIGTERM);
        }
    }

    pub(super) fn unregister(&self, pid: Pid) {
        self.pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pid.as_raw());
    }
}

impl Drop for Children {
    /// The pool is gone: its last children have sent their results and are exiting.
    fn drop(&mut self) {
        if !self.is_owner() {
            return; // a forked copy: these are not our children
        }
        let exiting = std::mem::take(&mut *self.exiting.lock().unwrap_or_else(|p| p.into_inner()));
        for mut child in exiting {
            child.reap_or_kill(Duration::from_secs(1));
        }
    }
}

/// A child at work.
struct Running {
    index: usize,
    child: ChildWatch,
    socket: UnixStream,
    reader: FrameReader,
}

impl Running {
    /// Reads what is available without blocking.
    fn drain(&mut self) {
        self.reader.drain(&self.socket);
    }

    /// The task's outcome, once the child has ended (or sent everything).
    fn outcome(&mut self, status: Option<ExitStatus>, terminated: bool) -> Result<Vec<u8>> {
        match self.reader.take() {
            Some(tag) => frame::outcome(tag, self.reader.payload()).map(<[u8]>::to_vec),
            None if terminated => Err(Error::new(
                ErrorKind::Cancelled,
                "the task was stopped: its pool was terminated while it ran",
            )),
            None => Err(worker_died(status)),
        }
    }
}

pub(crate) fn worker_died(status: Option<ExitStatus>) -> Error {
    let how = match status {
        Some(status) => status.to_string(),
        None => "an unknown cause".to_owned(),
    };
    Error::new(
        ErrorKind::WorkerDied,
        format!(
            "the worker process running this task died ({how}) before sending its result; \
             the other tasks were not affected"
        ),
    )
}

/// Runs each task in a child of its own, at most `workers` at once, and returns the
/// outcomes in task order.
pub(crate) fn run_tasks<'a>(
    tasks: impl IntoIterator<Item = ChildTask<'a>, IntoIter: 'a>,
    workers: usize,
    children: &Arc<Children>,
    name_prefix: &str,
) -> Vec<Result<Vec<u8>>> {
    let mut outcomes: Vec<Option<Result<Vec<u8>>>> = Vec::new();
    run_tasks_with(tasks, workers, children, name_prefix, |index, outcome| {
        if outcomes.len() <= index {
            outcomes.resize_with(index + 1, || None);
        }
        outcomes[index] = Some(outcome);
    });
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(cancelled())))
        .collect()
}

pub(crate) fn cancelled() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the task never ran: its pool was terminated first",
    )
}

/// Runs each task in a child of its own, at most `workers` at once, and hands each
/// outcome to `on_outcome` with the task's index as soon as it is known (in any order,
/// each index once). After the pool is terminated, the first task not yet started is
/// reported [`ErrorKind::Cancelled`] and the rest of the input is dropped (it may be
/// endless), so the indices reported are always `0..n` for some `n`.
///
/// Tasks are taken from `tasks` only when a child is free to run them, so a long input
/// is never held whole in memory (nor copied into every child by `fork`).
pub(crate) fn run_tasks_with<'a>(
    tasks: impl IntoIterator<Item = ChildTask<'a>, IntoIter: 'a>,
    workers: usize,
    children: &Arc<Children>,
    name_prefix: &str,
    mut on_outcome: impl FnMut(usize, Result<Vec<u8>>),
) {
    let mut runner = Runner::new(
        Box::new(tasks.into_iter()),
        workers,
        children.clone(),
        name_prefix,
    );
    while let Some((index, outcome)) = runner.next_outcome() {
        on_outcome(index, outcome);
    }
}

/// Runs tasks in children one outcome at a time: the engine behind both the blocking
/// calls and the lazy `imap` iterators.
pub(crate) struct Runner<'a> {
    pending: std::iter::Enumerate<Box<dyn Iterator<Item = ChildTask<'a>> + 'a>>,
    running: Vec<Running>,
    /// Outcomes known but not yet handed out.
    ready: std::collections::VecDeque<(usize, Result<Vec<u8>>)>,
    workers: usize,
    name_prefix: String,
    children: Arc<Children>,
    /// Tasks taken from `pending` so far.
    started: usize,
    /// The interrupt epoch when the run began (see [`crate::interrupt`]).
    epoch: u64,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(
        tasks: Box<dyn Iterator<Item = ChildTask<'a>> + 'a>,
        workers: usize,
        children: Arc<Children>,
        name_prefix: &str,
    ) -> Self {
        Runner {
            children,
            pending: tasks.enumerate(),
            running: Vec::new(),
            ready: std::collections::VecDeque::new(),
            workers: workers.max(1),
            name_prefix: name_prefix.to_owned(),
            started: 0,
            epoch: crate::interrupt::epoch(),
        }
    }

    /// The notebook's stop button (or Ctrl-C) was pressed: forked children ignore SIGINT
    /// (they inherit the handler, not its thread), so the parent stops them. Running
    /// tasks and the next one fail as interrupted; the rest of the input is dropped.
    fn stop_for_interrupt(&mut self) {
        for mut r in self.running.drain(..) {
            r.child.kill_and_reap();
            self.children.unregister(r.child.pid());
            self.ready
                .push_back((r.index, Err(crate::interrupt::error())));
        }
        if let Some((index, _)) = self.pending.next() {
            self.ready
                .push_back((index, Err(crate::interrupt::error())));
        }
        self.pending = (Box::new(std::iter::empty())
            as Box<dyn Iterator<Item = ChildTask<'a>> + 'a>)
            .enumerate();
    }

    /// The next task outcome to be known, with its task's index; `None` once every task
    /// has one. Starts children as slots free up and waits for one to finish.
    pub(crate) fn next_outcome(&mut self) -> Option<Outcome> {
        self.next_outcome_until(usize::MAX, None)
            .unwrap_or_else(|PastDeadline| unreachable!("no deadline, no timeout"))
    }

    /// Like [`next_outcome`](Self::next_outcome), starting only tasks whose index is below
    /// `limit` while others run (so that an ordered consumer waiting for a slow task does
    /// not pile up results of ever later ones), and giving up at `deadline`: then
    /// `Err(PastDeadline)`, with every task still running or pending (a later call goes on).
    pub(crate) fn next_outcome_until(
        &mut self,
        limit: usize,
        deadline: Option<Instant>,
    ) -> std::result::Result<Option<Outcome>, PastDeadline> {
        let children = self.children.clone();
        let children = &*children;
        loop {
            if let Some(outcome) = self.ready.pop_front() {
                return Ok(Some(outcome));
            }
            if crate::interrupt::happened_since(self.epoch) {
                self.stop_for_interrupt();
                return Ok(self.ready.pop_front());
            }
            while self.running.len() < self.workers
                && (self.started < limit || self.running.is_empty())
            {
                let Some((index, task)) = self.pending.next() else {
                    break;
                };
                self.started += 1;
                if children.is_terminated() {
                    // This task and the rest of the input are given up: one Cancelled
                    // outcome ends the run (the input may be endless).
                    self.ready.push_back((index, Err(cancelled())));
                    self.pending = (Box::new(std::iter::empty())
                        as Box<dyn Iterator<Item = ChildTask<'a>> + 'a>)
                        .enumerate();
                    break;
                }
                match spawn(index, task, children, &self.name_prefix) {
                    Ok(r) => self.running.push(r),
                    Err(e) => self.ready.push_back((index, Err(e))),
                }
            }
            if !self.ready.is_empty() {
                continue;
            }
            if self.running.is_empty() {
                return Ok(None);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(PastDeadline);
            }
            wait_readable(self.running.iter().map(|r| &r.socket), left);
            self.collect(children);
        }
    }

    /// Moves the outcome of every child that is done into `ready`.
    fn collect(&mut self, children: &Children) {
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            r.drain();
            let status = match r.child.try_wait() {
                Ok(status) => status,
                Err(_) => Some(ExitStatus(-libc::SIGKILL)), // cannot wait: treat as gone
            };
            if status.is_none() && r.reader.complete() {
                // The whole result is here: the task is done even though the child has
                // not finished exiting. It is reaped later, off the caller's path.
                let outcome = r.outcome(None, false);
                let r = self.running.swap_remove(i);
                children.finishing(r.child);
                self.ready.push_back((r.index, outcome));
                continue;
            }
            if status.is_none() && !r.reader.eof() {
                i += 1;
                continue;
            }
            let status = status.or_else(|| reap_after_eof(&mut r.child));
            r.drain();
            let outcome = r.outcome(status, children.is_terminated());
            let r = self.running.swap_remove(i);
            children.unregister(r.child.pid());
            self.ready.push_back((r.index, outcome));
        }
    }
}

/// A runner dropped before the end (an `imap` iterator abandoned): its children are
/// stopped and reaped, not left running.
impl Drop for Runner<'_> {
    fn drop(&mut self) {
        for mut r in self.running.drain(..) {
            r.child.kill_and_reap();
            self.children.unregister(r.child.pid());
        }
    }
}

/// The child closed its socket: it is exiting. Waits a moment for it, then kills it.
pub(super) fn reap_after_eof(child: &mut ChildWatch) -> Option<ExitStatus> {
    child.reap_or_kill(Duration::from_secs(1))
}

/// A task's index and its outcome (its result's bytes, or why it failed).
pub(crate) type Outcome = (usize, Result<Vec<u8>>);

/// A wait gave up at its deadline; nothing was lost.
#[derive(Debug)]
pub(crate) struct PastDeadline;

/// Waits until one of `sockets` is readable, [`CHECK_EVERY`] at most (less if `at_most` is
/// shorter), so that the caller checks for interrupts and dead children in between.
pub(super) fn wait_readable<'s>(
    sockets: impl Iterator<Item = &'s UnixStream>,
    at_most: Option<Duration>,
) {
    let mut fds: Vec<PollFd<'_>> = sockets
        .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
        .collect();
    let wait = at_most.map_or(CHECK_EVERY, |d| d.min(CHECK_EVERY));
    // Rounded up: a deadline 0.4 ms away must not spin with zero-millisecond polls.
    let ms = wait.as_micros().div_ceil(1000) as i32;
    let _ = poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    );
}

fn spawn(
    index: usize,
    task: ChildTask<'_>,
    children: &Children,
    name_prefix: &str,
) -> Result<Running> {
    let (parent_end, child_end) = UnixStream::pair()?;
    let n = children.next_number();
    // `child_end` moves into the closure: the parent drops its copy when `fork_run`
    // returns, so that end of file comes as soon as the child is gone.
    let core = children
        .cores
        .get()
        .filter(|c| !c.is_empty())
        .map(|c| c[(n - 1) % c.len()]);
    let pid = sys::fork_run(&format!("{name_prefix}-{n}"), move || {
        let pinned = match core {
            Some(core) => sys::set_affinity(&[core]).map_err(|e| e.to_string()),
            None => Ok(()),
        };
        // The task encodes straight into the frame: one write, nothing copied.
        let mut out = Vec::new();
        frame::fill(&mut out, move |out| pinned.and_then(|()| task(out)));
        match (&child_end).write_all(&out) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    })?;
    parent_end.set_nonblocking(true)?;
    children.register(pid);
    Ok(Running {
        index,
        child: ChildWatch::new(pid),
        socket: parent_end,
        reader: FrameReader::default(),
    })
}
