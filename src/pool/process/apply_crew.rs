//! Persistent workers: the fast path of `apply` / `apply_async` on a process pool.
//!
//! A task that is a stateless closure (zero-sized, no drop glue: a function item or a
//! closure capturing nothing) is all code. A worker forked after that code was loaded has
//! it at the same address, so the task is sent as that address through the worker's
//! shared-memory mailbox ([`TaskSlot`]) instead of forking a process for it. Everything
//! else takes the fork-per-task path. See `README.md` beside this file.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::children::{Children, worker_died};
use super::frame;
use crate::ipc::codec;
use crate::sys::{self, CHECK_EVERY, ChildWatch, Finish, TaskSlot, ZstCall};
use crate::{Error, ErrorKind, Result};

/// How long the caller spins for a result before sleeping on the futex.
const SPIN: Duration = Duration::from_micros(50);

/// Runs the task in the worker and encodes its outcome (as the fork path's children do).
pub(in crate::pool) struct EncodeOutcome;

impl<R: Serialize> Finish<R> for EncodeOutcome {
    fn finish(f: impl FnOnce() -> R, out: &mut Vec<u8>) -> u8 {
        let run = |out: &mut Vec<u8>| codec::encode_into(&f(), out).map_err(|e| e.to_string());
        frame::run_caught(out, 0, run) as u8
    }
}

/// The outcome a result of tag `tag` stands for (the tags are the frames').
fn outcome(tag: u8, bytes: Vec<u8>) -> Result<Vec<u8>> {
    frame::outcome(tag, &bytes)?;
    Ok(bytes)
}

struct Worker {
    slot: Arc<TaskSlot>,
    watch: ChildWatch,
    /// Tasks it has run (for `maxtasksperchild`).
    tasks: usize,
}

impl Worker {
    fn pid(&self) -> i32 {
        self.watch.pid().as_raw()
    }

    /// Kills the worker (if it still runs) and reaps it.
    fn kill(mut self) {
        self.watch.kill_and_reap();
    }
}

#[derive(Default)]
struct Roster {
    idle: Vec<Worker>,
    /// Workers running a task: their callers hold them; `terminate` kills them by PID.
    busy: HashSet<i32>,
    /// Idle plus busy.
    count: usize,
    terminated: bool,
    /// Told to stop (their code was too old for a task): reaped when next convenient.
    retired: Vec<Worker>,
}

/// The pool's persistent workers: at most `limit`, forked on demand.
pub(in crate::pool) struct Crew {
    owner: u32,
    limit: usize,
    /// A worker retires after this many tasks (`maxtasksperchild`).
    max_tasks: Option<usize>,
    roster: Mutex<Roster>,
    children: Arc<Children>,
    fast_runs: AtomicU64,
}

impl Crew {
    /// At most `limit` workers (0: none, every task forks), each retiring after
    /// `max_tasks` tasks if given.
    pub(in crate::pool) fn new(
        limit: usize,
        max_tasks: Option<usize>,
        children: Arc<Children>,
    ) -> Self {
        Crew {
            owner: std::process::id(),
            limit,
            max_tasks,
            roster: Mutex::default(),
            children,
            fast_runs: AtomicU64::new(0),
        }
    }

    fn roster(&self) -> MutexGuard<'_, Roster> {
        // Every update is a push, a removal or a counter step: never half done.
        self.roster.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_owner(&self) -> bool {
        std::process::id() == self.owner
    }

    /// How many tasks ran on persistent workers so far.
    pub(in crate::pool) fn max_tasks(&self) -> Option<usize> {
        self.max_tasks
    }

    pub(in crate::pool) fn fast_runs(&self) -> u64 {
        self.fast_runs.load(Ordering::Relaxed)
    }

    /// The PIDs of the persistent workers alive now.
    pub(in crate::pool) fn pids(&self) -> Vec<u32> {
        let roster = self.roster();
        let mut pids: Vec<u32> = roster.idle.iter().map(|w| w.pid() as u32).collect();
        pids.extend(roster.busy.iter().map(|&p| p as u32));
        pids.sort();
        pids
    }

    /// The call of a stateless `F` as the crew's workers run it; `None` when `F` is not
    /// stateless (zero-sized, no drop glue).
    pub(in crate::pool) fn call_of<F, R>() -> Option<ZstCall<F>>
    where
        F: FnOnce() -> R,
        R: Serialize,
    {
        ZstCall::<F>::of::<R, EncodeOutcome>()
    }

    /// Runs `f` (whose call is `call`) on a persistent worker when one is free for it;
    /// gives `f` back (`Err`) when none is: the task takes the fork path.
    pub(in crate::pool) fn try_apply<F, R>(
        &self,
        call: ZstCall<F>,
        f: F,
    ) -> std::result::Result<Result<R>, F>
    where
        F: FnOnce() -> R,
        R: Serialize + DeserializeOwned,
    {
        if !self.is_owner() || self.limit == 0 {
            return Err(f); // the route never sends it here: a forked copy, or no crew
        }
        let Some(worker) = self.acquire(call.addr()) else {
            return Err(f);
        };
        let epoch = crate::interrupt::epoch();
        if !worker.slot.post(call.hand_over(f)) {
            // Unreachable in practice: the code was unloaded between two checks.
            self.release(worker, true);
            return Ok(Err(Error::new(
                ErrorKind::InvalidState,
                "the task's code was unloaded before it could run",
            )));
        }
        self.fast_runs.fetch_add(1, Ordering::Relaxed);
        let mut worker = worker;
        let (result, healthy) = self.wait(&mut worker, epoch);
        worker.tasks += 1;
        let worn_out = self.max_tasks.is_some_and(|n| worker.tasks >= n);
        if worn_out && healthy {
            worker.slot.stop(); // it leaves at once; `release` reaps it
        }
        self.release(worker, healthy && !worn_out);
        Ok(result.and_then(|bytes| codec::decode(&bytes)))
    }

    /// Waits for the worker's result, checking at least every [`CHECK_EVERY`] that it is
    /// alive and that no interrupt came. The outcome, and whether the worker can be reused.
    fn wait(&self, worker: &mut Worker, epoch: u64) -> (Result<Vec<u8>>, bool) {
        let mut out = Vec::new();
        let mut spin = SPIN;
        let mut nap = Duration::from_millis(1);
        loop {
            if let Some(tag) = worker
                .slot
                .wait_result(&mut out, spin, Instant::now() + nap)
            {
                return (outcome(tag, out), true);
            }
            spin = Duration::ZERO;
            nap = (nap * 2).min(CHECK_EVERY);
            let status = match worker.watch.try_wait() {
                Ok(None) => None,
                Ok(Some(status)) => Some(Some(status)),
                Err(_) => Some(None), // cannot wait for it: treat it as gone
            };
            if let Some(status) = status {
                // It may have delivered its whole result just before dying.
                if let Some(tag) = worker
                    .slot
                    .wait_result(&mut out, Duration::ZERO, Instant::now())
                {
                    return (outcome(tag, out), false);
                }
                let error = if self.roster().terminated {
                    cancelled_while_running()
                } else {
                    worker_died(status)
                };
                return (Err(error), false);
            }
            if crate::interrupt::happened_since(epoch) {
                worker.watch.kill_and_reap();
                return (Err(crate::interrupt::error()), false);
            }
        }
    }

    /// A free worker that has the code at `addr`, forking one if the crew is not full
    /// (or replacing an idle one whose code is too old). `None`: take the fork path.
    fn acquire(&self, addr: usize) -> Option<Worker> {
        let mut roster = self.roster();
        if roster.terminated {
            return None;
        }
        roster
            .retired
            .retain_mut(|w| matches!(w.watch.try_wait(), Ok(None)));
        // A worker that died while idle (an OOM killer, a stray `kill -9`) never got a
        // task: reap it and count it out here, so that no task is charged for it.
        let before = roster.idle.len();
        roster
            .idle
            .retain_mut(|w| matches!(w.watch.try_wait(), Ok(None)));
        roster.count -= before - roster.idle.len();
        if let Some(i) = roster.idle.iter().position(|w| w.slot.can_run(addr)) {
            let worker = roster.idle.swap_remove(i);
            roster.busy.insert(worker.pid());
            return Some(worker);
        }
        if roster.count >= self.limit {
            // Every idle worker was forked before this task's code was loaded (a later
            // notebook cell): replace one, its successor has all the code loaded so far.
            let stale = roster.idle.pop()?;
            stale.slot.stop();
            roster.retired.push(stale);
            roster.count -= 1;
        }
        roster.count += 1;
        drop(roster);
        let forked = self.fork_worker();
        let mut roster = self.roster();
        match forked {
            Ok(worker) if !roster.terminated => {
                roster.busy.insert(worker.pid());
                Some(worker)
            }
            other => {
                roster.count -= 1;
                drop(roster);
                if let Ok(worker) = other {
                    worker.kill();
                }
                None
            }
        }
    }

    fn fork_worker(&self) -> Result<Worker> {
        let slot = Arc::new(TaskSlot::new()?);
        let n = self.children.next_number();
        let parent = std::process::id();
        let served = slot.clone();
        // From a long-lived thread (the main one or the forker): the worker outlives the
        // caller's thread, and PR_SET_PDEATHSIG fires when the forking thread ends.
        let pid = sys::fork_run_detached(
            &format!("ForkPoolWorker-{n}"),
            Box::new(move || {
                // Copies of the parent's sockets here would delay their end of file (a
                // dead Pipe writer) for as long as the worker lives.
                sys::close_inherited_fds();
                served.serve(parent)
            }),
        )?;
        Ok(Worker {
            slot,
            watch: ChildWatch::new(pid),
            tasks: 0,
        })
    }

    fn release(&self, worker: Worker, healthy: bool) {
        let mut roster = self.roster();
        roster.busy.remove(&worker.pid());
        if healthy && !roster.terminated {
            roster.idle.push(worker);
            return;
        }
        roster.count -= 1;
        drop(roster);
        worker.kill();
    }

    /// `terminate`: kills every worker (the running tasks fail as cancelled) and takes
    /// no more tasks.
    pub(in crate::pool) fn terminate(&self) {
        if !self.is_owner() {
            return;
        }
        let mut roster = self.roster();
        roster.terminated = true;
        for &pid in &roster.busy {
            let _ = sys::kill(nix::unistd::Pid::from_raw(pid), libc::SIGKILL);
        }
        let idle = std::mem::take(&mut roster.idle);
        let retired = std::mem::take(&mut roster.retired);
        roster.count -= idle.len();
        drop(roster);
        for worker in idle.into_iter().chain(retired) {
            worker.kill();
        }
    }

    /// The pool is going away and nothing is in flight: idle workers are told to leave
    /// and reaped (killed if they do not leave within a second).
    pub(in crate::pool) fn shutdown(&self) {
        if !self.is_owner() {
            return;
        }
        let mut roster = self.roster();
        roster.terminated = true;
        let idle = std::mem::take(&mut roster.idle);
        let retired = std::mem::take(&mut roster.retired);
        roster.count -= idle.len();
        drop(roster);
        for worker in &idle {
            worker.slot.stop();
        }
        for mut worker in idle.into_iter().chain(retired) {
            worker.watch.reap_or_kill(Duration::from_secs(1));
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn cancelled_while_running() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the task was stopped: its pool was terminated while it ran",
    )
}
