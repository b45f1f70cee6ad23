//! The children of one `map` call: each takes chunk after chunk until none is left.
//!
//! Where the children come from is a [`Supply`]: [`Forked`] forks them for the call (any
//! closure, any items). The pool's persistent workers (`super::crew`) take `map` chunks
//! through their mailboxes instead, with the same rules (two chunks held at most, a dead
//! worker fails exactly its running chunk).
//!
//! Forking a process per chunk costs a fork and, worse, a fresh copy-on-write heap per
//! chunk: every page a chunk's results touch faults again. Here the chunks are in memory
//! before the fork, so up to `workers` children each get all of them; the parent hands
//! out chunk numbers one at a time over each child's socket, as children finish, and the
//! child answers with that chunk's encoded results. Chunks are balanced as in Python's
//! `Pool` (whoever is free takes the next one), and a child reuses its warm heap.
//!
//! The parent always knows which chunk each child holds, so a child that dies fails
//! exactly that chunk (with the exit code or signal) and a new child takes the rest.
//!
//! Protocol on each child's socket: parent → child one message per chunk (the supply's:
//! an 8-byte chunk number for forked children), or a shutdown of the parent's write side
//! for "no more"; child → parent one frame per chunk (`super::frame`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, send};

use super::children::{Children, cancelled, reap_after_eof, worker_died};
use super::frame::{self, FrameReader};
use crate::pool::chunking::top_up;
use crate::sys::{self, CHECK_EVERY, ChildWatch, ExitStatus};
use crate::{Result, interrupt};

/// What a child runs for chunk `i`: appends the chunk's encoded results to the buffer,
/// or returns the message of an encoding error.
pub(crate) type ChunkFn<'a> =
    dyn FnMut(usize, &mut Vec<u8>) -> std::result::Result<(), String> + 'a;

/// Where the children of a call come from, and what a chunk's message to them is.
pub(crate) trait Supply {
    /// A child ready to take chunks.
    fn member(&mut self) -> Result<Member>;
    /// Appends the message that gives chunk `i` to a child.
    fn message(&mut self, i: usize, out: &mut Vec<u8>);
    /// The call is over for `m`, which answered every chunk it was given.
    fn release(&mut self, m: Member);
}

/// A child at work for a call.
pub(crate) struct Member {
    pub(super) child: ChildWatch,
    pub(super) socket: UnixStream,
    /// The frames it sends, as they arrive.
    reader: FrameReader,
    /// The chunks it was given and has not answered yet, in the order it runs them: the
    /// first is running, a second (if any) waits in its socket so that it never idles.
    holding: VecDeque<usize>,
    /// Messages not yet taken by the socket (it is non-blocking: a blocked send could
    /// wait on a child that is itself blocked sending to us).
    outbox: Vec<u8>,
}

impl Member {
    pub(super) fn new(child: ChildWatch, socket: UnixStream) -> Self {
        Member {
            child,
            socket,
            reader: FrameReader::default(),
            holding: VecDeque::new(),
            outbox: Vec::new(),
        }
    }

    /// Reads what is available without blocking.
    fn drain(&mut self) {
        self.reader.drain(&self.socket);
    }

    /// The tag of the held chunk's frame, if all of it has arrived (its payload is the
    /// reader's until the next frame starts).
    fn take_frame(&mut self) -> Option<u8> {
        self.reader.take()
    }

    /// The outcome of the frame just taken (with tag `tag`): its payload, read in place.
    fn outcome(&self, tag: u8) -> Result<&[u8]> {
        frame::outcome(tag, self.reader.payload())
    }

    /// Gives the child chunk `i` (its message is `message`).
    fn give(&mut self, i: usize, message: &[u8]) {
        self.holding.push_back(i);
        self.outbox.extend_from_slice(message);
        self.flush();
    }

    /// Sends what the socket takes now. If the child cannot take it (it died), it is
    /// killed for sure, so that the next check reports its death as its chunk's outcome:
    /// a chunk is never left waiting for a child that will not answer.
    fn flush(&mut self) {
        while !self.outbox.is_empty() {
            // MSG_NOSIGNAL: a dead child's socket must give an error, not SIGPIPE.
            match send(
                std::os::fd::AsRawFd::as_raw_fd(&self.socket),
                &self.outbox,
                MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return, // the rest once the socket is writable
                Err(_) => {
                    self.outbox.clear();
                    let _ = sys::kill(self.child.pid(), libc::SIGKILL);
                }
            }
        }
    }
}

/// Waits until a member's socket is readable (or writable, for one with messages left
/// to send), or [`CHECK_EVERY`] passed.
fn wait_ready(members: &[Member]) {
    let mut fds: Vec<PollFd<'_>> = members
        .iter()
        .map(|m| {
            let mut events = PollFlags::POLLIN;
            if !m.outbox.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            PollFd::new(std::os::fd::AsFd::as_fd(&m.socket), events)
        })
        .collect();
    let ms = CHECK_EVERY.as_millis() as i32;
    let _ = poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    );
}

/// The children of one call; any still running when it ends early are stopped.
struct Crew<'c> {
    members: Vec<Member>,
    children: &'c Children,
}

impl Drop for Crew<'_> {
    fn drop(&mut self) {
        for mut m in self.members.drain(..) {
            m.child.kill_and_reap();
            self.children.unregister(m.child.pid());
        }
    }
}

/// Runs every chunk `i` in `0..chunks` in at most `workers` children from `supply`, and
/// hands each outcome to `on_outcome` with its chunk number as soon as it is known (in
/// any order, each number once). After the pool is terminated, or on an interrupt, the
/// chunks not yet done fail as cancelled or interrupted.
pub(crate) fn run_chunks(
    chunks: usize,
    supply: &mut dyn Supply,
    workers: usize,
    children: &Children,
    mut on_outcome: impl FnMut(usize, Result<&[u8]>),
) {
    let mut pending: VecDeque<usize> = (0..chunks).collect();
    let mut crew = Crew {
        members: Vec::new(),
        children,
    };
    let epoch = interrupt::epoch();
    let workers = workers.max(1);
    // The number of children this call runs at once (for the queueing rule of `top_up`).
    let at_once = workers.min(chunks);
    let mut message = Vec::new();
    let mut give = |m: &mut Member, i: usize, supply: &mut dyn Supply| {
        message.clear();
        supply.message(i, &mut message);
        m.give(i, &message);
    };
    loop {
        if interrupt::happened_since(epoch) {
            for mut m in crew.members.drain(..) {
                m.child.kill_and_reap();
                children.unregister(m.child.pid());
                for i in m.holding {
                    on_outcome(i, Err(interrupt::error()));
                }
            }
            for i in pending.drain(..) {
                on_outcome(i, Err(interrupt::error()));
            }
            return;
        }
        if children.is_terminated() {
            for i in pending.drain(..) {
                on_outcome(i, Err(cancelled()));
            }
        }
        while crew.members.len() < workers {
            let Some(i) = pending.pop_front() else { break };
            match supply.member() {
                Ok(mut m) => {
                    give(&mut m, i, supply);
                    top_up(&mut m, holding, &mut pending, at_once, |m, i| {
                        give(m, i, supply)
                    });
                    crew.members.push(m);
                }
                Err(e) => on_outcome(i, Err(e)),
            }
        }
        if crew.members.is_empty() {
            return;
        }
        wait_ready(&crew.members);
        let mut k = 0;
        while k < crew.members.len() {
            let m = &mut crew.members[k];
            m.flush();
            m.drain();
            if let Some(tag) = m.take_frame() {
                let answered = m.holding.pop_front();
                // Its next chunk first, then the decoding of this one.
                if !children.is_terminated() {
                    top_up(m, holding, &mut pending, at_once, |m, i| give(m, i, supply));
                }
                if let Some(i) = answered {
                    on_outcome(i, m.outcome(tag));
                }
                if m.holding.is_empty() {
                    // Nothing left for it in this call.
                    let m = crew.members.swap_remove(k);
                    supply.release(m);
                    continue;
                }
            }
            let m = &mut crew.members[k];
            let status = match m.child.try_wait() {
                Ok(status) => status,
                Err(_) => Some(ExitStatus(-libc::SIGKILL)), // cannot wait: treat as gone
            };
            if status.is_none() && !m.reader.eof() {
                k += 1;
                continue;
            }
            let status = status.or_else(|| reap_after_eof(&mut m.child));
            m.drain();
            let frame = m.take_frame();
            let mut m = crew.members.swap_remove(k);
            children.unregister(m.child.pid());
            if let Some(i) = m.holding.pop_front() {
                let outcome = match frame {
                    Some(tag) => m.outcome(tag),
                    None if children.is_terminated() => Err(cancelled()),
                    None => Err(worker_died(status)),
                };
                on_outcome(i, outcome);
            }
            // Chunks it had not started go to the next child.
            for i in m.holding.into_iter().rev() {
                pending.push_front(i);
            }
        }
    }
}

/// Children forked for one call: each has every chunk in memory, and its message for
/// chunk `i` is the number `i`.
pub(crate) struct Forked<'r, 'a> {
    run: &'r mut ChunkFn<'a>,
    children: &'r Children,
    name_prefix: &'r str,
    trimmed: bool,
}

impl<'r, 'a> Forked<'r, 'a> {
    pub(crate) fn new(
        run: &'r mut ChunkFn<'a>,
        children: &'r Children,
        name_prefix: &'r str,
    ) -> Self {
        Forked {
            run,
            children,
            name_prefix,
            trimmed: false,
        }
    }
}

impl Supply for Forked<'_, '_> {
    fn member(&mut self) -> Result<Member> {
        if !self.trimmed {
            // Free heap pages would be shared copy-on-write with the children: every
            // first write to one after the fork, on either side (the owner decoding
            // results, a child allocating), would copy it and flush the other threads'
            // TLBs.
            sys::trim_heap();
            self.trimmed = true;
        }
        let (parent_end, child_end) = UnixStream::pair()?;
        let n = self.children.next_number();
        let run = &mut *self.run;
        let pid = sys::fork_run(&format!("{}-{n}", self.name_prefix), move || {
            // One buffer for every frame: the child's heap stays warm from chunk to chunk.
            let mut frame = Vec::new();
            let mut number = [0u8; 8];
            loop {
                if (&child_end).read_exact(&mut number).is_err() {
                    return 0; // end of file: no more chunks
                }
                let i = u64::from_le_bytes(number) as usize;
                if !answer(&child_end, &mut frame, |out| run(i, out)) {
                    return 1;
                }
            }
        })?;
        parent_end.set_nonblocking(true)?;
        self.children.register(pid);
        Ok(Member::new(ChildWatch::new(pid), parent_end))
    }

    fn message(&mut self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&(i as u64).to_le_bytes());
    }

    fn release(&mut self, m: Member) {
        // It leaves at end of file, and is reaped later.
        let _ = m.socket.shutdown(std::net::Shutdown::Write);
        self.children.finishing(m.child);
    }
}

/// In a child: runs one chunk (`run` appends its encoded results) and sends its frame
/// (the results, a panic's message or an encoding error's). False if the parent is gone.
fn answer(
    socket: &UnixStream,
    frame: &mut Vec<u8>,
    run: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), String>,
) -> bool {
    frame::fill(frame, run);
    let mut socket = socket;
    socket.write_all(frame).is_ok()
}

/// The chunks `m` holds, for [`top_up`].
fn holding(m: &Member) -> usize {
    m.holding.len()
}
