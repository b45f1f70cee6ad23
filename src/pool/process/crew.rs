//! The pool's persistent workers: one crew for `apply` / `apply_async` of a stateless
//! closure and for `map` of a stateless function over plain items.
//!
//! A stateless closure (zero-sized, no drop glue: a function item or a closure capturing
//! nothing) is all code. A worker forked after that code was loaded has it at the same
//! address, so the call is sent as that address through the worker's shared-memory
//! [`Mailbox`] instead of forking a process for it: with no items for `apply`, with a
//! chunk's items (their bytes) for `map`. At most `limit` workers (the pool's size) live at
//! once, forked on demand, each held by one caller at a time. Everything else takes a fork
//! path. See `README.md` beside this file.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::children::{Children, cancelled, worker_died};
use super::frame;
use crate::ipc::codec;
use crate::pool::chunking::top_up;
use crate::sys::{
    self, CHECK_EVERY, ChildWatch, Doorbell, ExitStatus, Finish, Mailbox, PlainCall, ZstCall,
    spin_until,
};
use crate::{Error, ErrorKind, Result, interrupt};

/// How long an `apply` caller spins for its worker's answer before it sleeps on the
/// doorbell (a `map` caller sleeps at once).
const CALLER_SPIN: Duration = Duration::from_micros(50);
/// How long a worker with nothing to do spins for its next request before it sleeps:
/// waking a sleeping process sometimes took 1.2–1.6 ms here, in back-to-back calls.
const WORKER_SPIN: Duration = Duration::from_micros(500);

/// Runs the task in the worker and encodes its outcome (as the fork path's children do).
pub(in crate::pool) struct EncodeOutcome;

impl<R: Serialize> Finish<R> for EncodeOutcome {
    fn finish(f: impl FnOnce() -> R, out: &mut Vec<u8>) -> u8 {
        let run = |out: &mut Vec<u8>| codec::encode_into(&f(), out).map_err(|e| e.to_string());
        frame::run_caught(out, 0, run) as u8
    }
}

struct Worker {
    mailbox: Mailbox,
    watch: ChildWatch,
    /// `apply` tasks it has run (for `maxtasksperchild`).
    tasks: usize,
    /// The earlier parts of a big result being received.
    parts: Vec<u8>,
}

impl Worker {
    fn pid(&self) -> i32 {
        self.watch.pid().as_raw()
    }

    /// The exit status if it ended (`Some(None)`: it cannot be waited for, so it counts
    /// as gone); `None` while it runs.
    fn ended(&mut self) -> Option<Option<ExitStatus>> {
        match self.watch.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(Some(status)),
            Err(_) => Some(None),
        }
    }
}

#[derive(Default)]
struct Roster {
    idle: Vec<Worker>,
    /// Workers held by a caller: `terminate` kills them by PID.
    busy: HashSet<i32>,
    /// Idle plus busy.
    count: usize,
    terminated: bool,
    /// Told to stop (their code was too old for a call): reaped when next convenient.
    retired: Vec<Worker>,
}

impl Roster {
    /// Takes no more workers in, and takes out the idle ones (counted out of the crew) and
    /// the retired ones, for `terminate` and `shutdown` to end.
    fn close(&mut self) -> (Vec<Worker>, Vec<Worker>) {
        self.terminated = true;
        let idle = std::mem::take(&mut self.idle);
        self.count -= idle.len();
        (idle, std::mem::take(&mut self.retired))
    }
}

/// The pool's persistent workers: at most `limit`, forked on demand.
pub(in crate::pool) struct Crew {
    owner: u32,
    limit: usize,
    /// A worker retires after this many `apply` tasks (`maxtasksperchild`).
    max_tasks: Option<usize>,
    roster: Mutex<Roster>,
    children: Arc<Children>,
    /// Rung by every worker with news: a caller waits on it for all of its workers.
    doorbell: Doorbell,
    fast_runs: AtomicU64,
}

/// A worker at work for one `map` call, and the chunks it holds (the first running, a
/// second, if any, queued so that it never waits for the caller).
struct Member {
    worker: Worker,
    holding: VecDeque<usize>,
}

/// The workers of one `map` call; any still held when the call ends early (a panic in the
/// caller's sink) are killed and counted out of the crew, never left busy for ever.
struct Members<'c> {
    crew: &'c Crew,
    list: Vec<Member>,
}

impl Drop for Members<'_> {
    fn drop(&mut self) {
        for m in self.list.drain(..) {
            self.crew.release(m.worker, false);
        }
    }
}

impl Crew {
    /// At most `limit` workers (0: none, every call forks), each retiring after
    /// `max_tasks` `apply` tasks if given.
    pub(in crate::pool) fn new(
        limit: usize,
        max_tasks: Option<usize>,
        children: Arc<Children>,
    ) -> Result<Self> {
        Ok(Crew {
            owner: std::process::id(),
            limit,
            max_tasks,
            roster: Mutex::default(),
            children,
            doorbell: Doorbell::new()?,
            fast_runs: AtomicU64::new(0),
        })
    }

    fn roster(&self) -> MutexGuard<'_, Roster> {
        // Every update is a push, a removal or a counter step: never half done.
        self.roster.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True in the process that made the crew (a forked copy has no workers of its own).
    pub(in crate::pool) fn is_owner(&self) -> bool {
        std::process::id() == self.owner
    }

    pub(in crate::pool) fn max_tasks(&self) -> Option<usize> {
        self.max_tasks
    }

    /// How many `apply` tasks ran on persistent workers so far.
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

    /// The PIDs of the idle persistent workers.
    pub(in crate::pool) fn idle_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.roster().idle.iter().map(|w| w.pid() as u32).collect();
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
        if !self.is_owner() {
            return Err(f); // the route never sends it here: a forked copy
        }
        let Some(mut worker) = self.acquire(call.addr()) else {
            return Err(f);
        };
        let epoch = interrupt::epoch();
        if !worker.mailbox.post(call.hand_over(f), &[]) {
            // Unreachable in practice: the code was unloaded between two checks.
            self.release(worker, true);
            return Ok(Err(Error::new(
                ErrorKind::InvalidState,
                "the task's code was unloaded before it could run",
            )));
        }
        self.fast_runs.fetch_add(1, Ordering::Relaxed);
        let (result, healthy) = self.wait_one(&mut worker, epoch);
        worker.tasks += 1;
        let worn_out = self.max_tasks.is_some_and(|n| worker.tasks >= n);
        if worn_out && healthy {
            worker.mailbox.stop(); // it leaves at once; `release` reaps it
        }
        self.release(worker, healthy && !worn_out);
        Ok(result)
    }

    /// Waits for the worker's one result, checking at least every [`CHECK_EVERY`] that it
    /// is alive and that no interrupt came. The outcome, decoded in place, and whether the
    /// worker can be reused.
    fn wait_one<R: DeserializeOwned>(&self, worker: &mut Worker, epoch: u64) -> (Result<R>, bool) {
        let mut nap = Duration::from_millis(1);
        let mut spin = true;
        loop {
            let mailbox = &worker.mailbox;
            if let Some(taken) = mailbox.take_result(&mut worker.parts) {
                let bytes = mailbox.bytes(taken, &mut worker.parts);
                let outcome = frame::outcome(taken.tag, bytes).and_then(codec::decode);
                worker.parts = Vec::new();
                return (outcome, true);
            }
            let ready = || mailbox.has_news();
            if !(spin && spin_until(ready, CALLER_SPIN)) {
                self.doorbell.wait(ready, Instant::now() + nap);
                nap = (nap * 2).min(CHECK_EVERY);
            }
            spin = false;
            if mailbox.has_news() {
                continue;
            }
            if let Some(status) = worker.ended() {
                // It may have delivered its whole result just before dying.
                if let Some(taken) = worker.mailbox.take_result(&mut worker.parts) {
                    let bytes = worker.mailbox.bytes(taken, &mut worker.parts);
                    return (
                        frame::outcome(taken.tag, bytes).and_then(codec::decode),
                        false,
                    );
                }
                return (Err(self.died(status)), false);
            }
            if interrupt::happened_since(epoch) {
                worker.watch.kill_and_reap();
                return (Err(interrupt::error()), false);
            }
        }
    }

    /// The error of a call whose worker ended with `status` before answering.
    fn died(&self, status: Option<ExitStatus>) -> Error {
        if self.roster().terminated {
            cancelled_while_running()
        } else {
            worker_died(status)
        }
    }

    /// Runs chunk calls `call` over every chunk `i` in `0..chunks` (its items' bytes are
    /// `items(i)`) on up to `workers` of the crew's workers, and hands each outcome to
    /// `on_outcome` with its chunk number as soon as it is known (in any order, each
    /// number once). A worker that dies fails exactly the chunk it was running; the one it
    /// had queued goes to another. Returns the chunks it did not run because no worker was
    /// free for them (other calls hold the crew): the caller forks children for those.
    pub(in crate::pool) fn map<'i>(
        &self,
        call: PlainCall,
        chunks: usize,
        items: &'i dyn Fn(usize) -> &'i [u8],
        workers: usize,
        on_outcome: &mut dyn FnMut(usize, Result<&[u8]>),
    ) -> Vec<usize> {
        let mut pending: VecDeque<usize> = (0..chunks).collect();
        let mut guard = Members {
            crew: self,
            list: Vec::new(),
        };
        let members = &mut guard.list;
        let epoch = interrupt::epoch();
        // The number of workers this call runs at once (for the queueing rule of `top_up`).
        let at_once = workers.max(1).min(chunks);
        let give = |m: &mut Member, i: usize| {
            m.holding.push_back(i);
            if !m.worker.mailbox.post(call.posted(), items(i)) {
                // Unreachable in practice (the code was unloaded between two checks): the
                // worker is killed, so that the next check fails the chunk, never loses it.
                let _ = sys::kill(m.worker.watch.pid(), libc::SIGKILL);
            }
        };
        loop {
            if interrupt::happened_since(epoch) {
                for mut m in members.drain(..) {
                    pending.extend(m.holding.drain(..));
                    self.release(m.worker, false);
                }
                for i in pending.drain(..) {
                    on_outcome(i, Err(interrupt::error()));
                }
                return Vec::new();
            }
            if self.children.is_terminated() {
                for i in pending.drain(..) {
                    on_outcome(i, Err(cancelled()));
                }
            }
            while members.len() < at_once && !pending.is_empty() {
                let Some(worker) = self.acquire(call.addr()) else {
                    break;
                };
                let mut m = Member {
                    worker,
                    holding: VecDeque::new(),
                };
                top_up(&mut m, holding, &mut pending, at_once, &give);
                members.push(m);
            }
            if members.is_empty() {
                return Vec::from(pending);
            }
            // No spin here: the workers have a chunk queued while there are more, and a
            // spinning caller would take a CPU from them (measured: see the README).
            let ready = || members.iter().any(|m| m.worker.mailbox.has_news());
            self.doorbell.wait(ready, Instant::now() + CHECK_EVERY);
            let mut k = 0;
            while k < members.len() {
                let m = &mut members[k];
                if let Some(taken) = m.worker.mailbox.take_result(&mut m.worker.parts) {
                    let answered = m.holding.pop_front();
                    // Its next chunk first, then the decoding of this one.
                    if !self.children.is_terminated() {
                        top_up(m, holding, &mut pending, at_once, &give);
                    }
                    if let Some(i) = answered {
                        let bytes = m.worker.mailbox.bytes(taken, &mut m.worker.parts);
                        on_outcome(i, frame::outcome(taken.tag, bytes));
                    }
                    m.worker.parts.clear();
                    if m.holding.is_empty() {
                        // Nothing left for it in this call.
                        let m = members.swap_remove(k);
                        self.release(m.worker, true);
                    }
                    continue; // it may have more news
                }
                let Some(status) = m.worker.ended() else {
                    k += 1;
                    continue;
                };
                let mut m = members.swap_remove(k);
                // It may have delivered results just before dying.
                while let Some(taken) = m.worker.mailbox.take_result(&mut m.worker.parts) {
                    let bytes = m.worker.mailbox.bytes(taken, &mut m.worker.parts);
                    if let Some(i) = m.holding.pop_front() {
                        on_outcome(i, frame::outcome(taken.tag, bytes));
                    }
                    m.worker.parts.clear();
                }
                if let Some(i) = m.holding.pop_front() {
                    let error = if self.children.is_terminated() {
                        cancelled()
                    } else {
                        self.died(status)
                    };
                    on_outcome(i, Err(error));
                }
                // Chunks it had not started go to the next worker.
                for i in m.holding.drain(..).rev() {
                    pending.push_front(i);
                }
                self.release(m.worker, false);
            }
        }
    }

    /// A free worker that has the code at `addr`, forking one if the crew is not full
    /// (or replacing an idle one whose code is too old). `None`: none is free for it.
    fn acquire(&self, addr: usize) -> Option<Worker> {
        if self.limit == 0 {
            return None;
        }
        let mut roster = self.roster();
        if roster.terminated {
            return None;
        }
        roster.retired.retain_mut(|w| w.ended().is_none());
        // A worker that died while idle (an OOM killer, a stray `kill -9`) never got a
        // call: reap it and count it out here, so that no call is charged for it.
        let before = roster.idle.len();
        roster.idle.retain_mut(|w| w.ended().is_none());
        roster.count -= before - roster.idle.len();
        if let Some(i) = roster.idle.iter().position(|w| w.mailbox.can_run(addr)) {
            let worker = roster.idle.swap_remove(i);
            roster.busy.insert(worker.pid());
            return Some(worker);
        }
        if roster.count >= self.limit {
            // Every idle worker was forked before this call's code was loaded (a later
            // notebook cell): replace one, its successor has all the code loaded so far.
            let stale = roster.idle.pop()?;
            stale.mailbox.stop();
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
                if let Ok(mut worker) = other {
                    worker.watch.kill_and_reap();
                }
                None
            }
        }
    }

    fn fork_worker(&self) -> Result<Worker> {
        let mailbox = Mailbox::new(&self.doorbell)?;
        let n = self.children.next_number();
        let parent = std::process::id();
        // The child's copy of the mailbox is the same shared memory (mapped before the
        // fork); it is moved into the closure, which only the child runs.
        let served = mailbox.clone();
        // From a long-lived thread (the main one or the forker): the worker outlives the
        // caller's thread, and PR_SET_PDEATHSIG fires when the forking thread ends.
        let pid = sys::fork_run_detached(
            &format!("ForkPoolWorker-{n}"),
            Box::new(move || {
                // Copies of the parent's sockets here would delay their end of file (a
                // dead Pipe writer) for as long as the worker lives.
                sys::close_inherited_fds();
                served.serve(parent, WORKER_SPIN)
            }),
        )?;
        Ok(Worker {
            mailbox,
            watch: ChildWatch::new(pid),
            tasks: 0,
            parts: Vec::new(),
        })
    }

    fn release(&self, mut worker: Worker, healthy: bool) {
        let mut roster = self.roster();
        roster.busy.remove(&worker.pid());
        if healthy && !roster.terminated {
            roster.idle.push(worker);
            return;
        }
        roster.count -= 1;
        drop(roster);
        worker.watch.kill_and_reap();
    }

    /// `terminate`: kills every worker (the running calls fail as cancelled) and takes
    /// no more calls.
    pub(in crate::pool) fn terminate(&self) {
        if !self.is_owner() {
            return;
        }
        let mut roster = self.roster();
        for &pid in &roster.busy {
            let _ = sys::kill(nix::unistd::Pid::from_raw(pid), libc::SIGKILL);
        }
        let (idle, retired) = roster.close();
        drop(roster);
        for mut worker in idle.into_iter().chain(retired) {
            worker.watch.kill_and_reap();
        }
    }

    /// The pool is going away and nothing is in flight: idle workers are told to leave
    /// and reaped (killed if they do not leave within a second).
    pub(in crate::pool) fn shutdown(&self) {
        if !self.is_owner() {
            return;
        }
        let (idle, retired) = self.roster().close();
        for worker in &idle {
            worker.mailbox.stop();
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

/// The chunks `m` holds, for [`top_up`].
fn holding(m: &Member) -> usize {
    m.holding.len()
}
