//! Persistent workers for `map` over plain items with a stateless function.
//!
//! A process forked for each `map` call pays for the fork and, worse, for copy-on-write:
//! until it exits, every page the parent writes (decoding the results) or the child
//! writes (its own allocations) is copied first. A worker forked once and kept, as
//! Python's `Pool` keeps its workers, pays that once. It can only run what it can find
//! in its own memory: code loaded before it was forked (see [`LoadedCode`]) and what is
//! sent to it. So it serves a call whose function is stateless (zero-sized, no drop
//! glue: a function item or a closure that captures nothing) and whose items are plain
//! numbers, sent as their bytes. The chunk's message is `[u64 address of the chunk call]
//! [u64 length][the items' bytes]`; the answer is a frame, as from a forked child (see
//! `super::chunk_workers`, which runs the call), except that encoded results up to
//! [`SLOT`](super::result_slots::SLOT) bytes are left in one of the worker's [`ResultSlots`] and only their place is
//! sent: the parent decodes them where they are, and neither side copies them through
//! the kernel.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::children::Children;
use super::chunk_workers::{Member, Supply};
use super::frame;
use super::result_slots::ResultSlots;
use crate::Result;
use crate::sys::{self, ChildWatch, LoadedCode};

/// A pool's persistent `map` workers, idle between calls.
#[derive(Debug)]
pub(crate) struct MapCrew {
    owner: u32,
    /// At most this many idle workers are kept (the pool's size).
    limit: usize,
    idle: Mutex<Vec<IdleWorker>>,
    children: Arc<Children>,
}

/// A worker between calls.
#[derive(Debug)]
struct IdleWorker {
    child: ChildWatch,
    socket: UnixStream,
    code: LoadedCode,
    slots: Option<ResultSlots>,
}

impl MapCrew {
    pub(crate) fn new(limit: usize, children: Arc<Children>) -> Self {
        MapCrew {
            owner: std::process::id(),
            limit,
            idle: Mutex::default(),
            children,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<IdleWorker>> {
        // Every update is a push or a removal: never half done.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True in the process that made the crew (a forked copy has no workers of its own).
    pub(crate) fn is_owner(&self) -> bool {
        std::process::id() == self.owner
    }

    /// The PIDs of the idle workers.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .idle()
            .iter()
            .map(|w| w.child.pid().as_raw() as u32)
            .collect();
        pids.sort();
        pids
    }

    /// A supply of workers for one call of the chunk call at `addr` (a
    /// [`PlainCall`](crate::sys::PlainCall)) over `chunks` (each the bytes of its items).
    pub(crate) fn supply<'c>(&'c self, addr: usize, chunks: &'c [Vec<u8>]) -> Persistent<'c> {
        Persistent {
            crew: self,
            addr,
            chunks,
            children: &self.children,
        }
    }

    fn reap(&self, mut worker: IdleWorker, kill_after: Duration) {
        worker.child.reap_or_kill(kill_after);
        self.children.unregister(worker.child.pid());
    }

    /// The pool is going away: idle workers are told to leave (end of file) and reaped,
    /// killed if they do not leave within a second.
    pub(crate) fn shutdown(&self) {
        if !self.is_owner() {
            return;
        }
        let idle = std::mem::take(&mut *self.idle());
        for worker in &idle {
            let _ = worker.socket.shutdown(std::net::Shutdown::Write);
        }
        for worker in idle {
            self.reap(worker, Duration::from_secs(1));
        }
    }

    /// `terminate`: kills the idle workers.
    pub(crate) fn terminate(&self) {
        if !self.is_owner() {
            return;
        }
        for mut worker in std::mem::take(&mut *self.idle()) {
            worker.child.kill_and_reap();
            self.children.unregister(worker.child.pid());
        }
    }
}

impl Drop for MapCrew {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The workers of one call: idle ones that have the call's code, or fresh forks.
pub(crate) struct Persistent<'c> {
    crew: &'c MapCrew,
    addr: usize,
    chunks: &'c [Vec<u8>],
    children: &'c Children,
}

impl Supply for Persistent<'_> {
    fn member(&mut self) -> Result<Member> {
        let mut idle = self.crew.idle();
        // One that died while idle (killed from outside) is replaced, not given a chunk.
        idle.retain_mut(|w| {
            let alive = matches!(w.child.try_wait(), Ok(None));
            if !alive {
                self.children.unregister(w.child.pid());
            }
            alive
        });
        if let Some(i) = idle.iter().position(|w| w.code.contains(self.addr)) {
            let w = idle.swap_remove(i);
            return Ok(Member::new(w.child, w.socket, Some(w.code), w.slots));
        }
        // Those left were forked before this call's code was loaded (a later notebook
        // cell): a new worker, which has all code so far, takes the place of one of them
        // when it is released.
        drop(idle);
        fork_worker(self.children)
    }

    fn message(&mut self, i: usize, out: &mut Vec<u8>) {
        let items = &self.chunks[i];
        out.extend_from_slice(&(self.addr as u64).to_le_bytes());
        out.extend_from_slice(&(items.len() as u64).to_le_bytes());
        out.extend_from_slice(items);
    }

    fn release(&mut self, m: Member) {
        let mut idle = self.crew.idle();
        let Some(code) = m.code.filter(|_| !self.children.is_terminated()) else {
            drop(idle);
            self.retire(m.child, m.socket);
            return;
        };
        // At most `limit` are kept: one whose code is older than this call's leaves first.
        let mut leaving = None;
        if idle.len() >= self.crew.limit {
            let stale = idle.iter().position(|w| !w.code.contains(self.addr));
            leaving = Some(match stale {
                Some(i) => {
                    let w = idle.swap_remove(i);
                    idle.push(IdleWorker {
                        child: m.child,
                        socket: m.socket,
                        code,
                        slots: m.slots,
                    });
                    (w.child, w.socket)
                }
                None => (m.child, m.socket),
            });
        } else {
            idle.push(IdleWorker {
                child: m.child,
                socket: m.socket,
                code,
                slots: m.slots,
            });
        }
        drop(idle);
        if let Some((child, socket)) = leaving {
            self.retire(child, socket);
        }
    }
}

impl Persistent<'_> {
    /// Tells a worker to leave (end of file); it is reaped when next convenient.
    fn retire(&self, child: ChildWatch, socket: UnixStream) {
        let _ = socket.shutdown(std::net::Shutdown::Write);
        self.children.finishing(child);
    }
}

/// Forks a worker that runs chunk calls until its socket ends.
fn fork_worker(children: &Children) -> Result<Member> {
    let (parent_end, child_end) = UnixStream::pair()?;
    let n = children.next_number();
    let slots = ResultSlots::new()?;
    let worker_slots = slots.clone();
    let code = LoadedCode::now();
    // From a long-lived thread (see `fork_run_detached`): the worker outlives this call.
    let pid = sys::fork_run_detached(
        &format!("ForkPoolWorker-{n}"),
        Box::new(move || {
            // Copies of the parent's other descriptors (a Pipe's ends, other workers'
            // sockets) would delay their end of file for as long as this worker lives.
            serve(&sys::keep_only_fd(child_end), &worker_slots)
        }),
    )?;
    parent_end.set_nonblocking(true)?;
    children.register(pid);
    Ok(Member::new(
        ChildWatch::new(pid),
        parent_end,
        Some(code),
        Some(slots),
    ))
}

/// How long a worker with nothing to do polls for its next chunk before it sleeps.
const SPIN: Duration = Duration::from_micros(500);

/// Polls `socket` for up to [`SPIN`], yielding the CPU between polls, so that a map that
/// follows another at once finds its workers awake: waking a sleeping process took up to
/// 1.5 ms here (rayon's threads and the `apply` workers also poll a while before they
/// sleep).
fn wait_briefly(socket: &UnixStream) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let start = std::time::Instant::now();
    loop {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO) != Ok(0) || start.elapsed() >= SPIN {
            return;
        }
        std::thread::yield_now();
    }
}

/// The worker's loop: one chunk call per message, until end of file.
fn serve(socket: &UnixStream, slots: &ResultSlots) -> i32 {
    let mut head = [0u8; 16];
    let mut items = Vec::new();
    let mut frame = Vec::new();
    for n in 0u64.. {
        wait_briefly(socket);
        if (&*socket).read_exact(&mut head).is_err() {
            return 0; // end of file: the pool is done with this worker
        }
        let addr = u64::from_le_bytes(head[..8].try_into().unwrap_or_default()) as usize;
        let len = u64::from_le_bytes(head[8..].try_into().unwrap_or_default()) as usize;
        items.clear();
        items.resize(len, 0);
        if (&*socket).read_exact(&mut items).is_err() {
            return 1;
        }
        // The pool gives a chunk to a worker only if its code snapshot has `addr`.
        frame::fill(&mut frame, |out| sys::run_posted_chunk(addr, &items, out));
        slots.stash(&mut frame, n);
        if (&*socket).write_all(&frame).is_err() {
            return 1;
        }
    }
    0
}
