//! Workers forked for one `map` call: each takes chunk after chunk until none is left.
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
//! Protocol on each child's socket: parent → child an 8-byte chunk number, or a shutdown
//! of the parent's write side for "no more"; child → parent one frame per chunk, as in
//! [`super::children`] (`[u64 length][u8 tag][payload]`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{MsgFlags, send};

use super::children::{
    Children, HEADER, cancelled, reap_after_eof, tagged_outcome, wait_readable, worker_died,
};
use crate::sys::{self, ChildWatch, ExitStatus};
use crate::{Result, interrupt};

/// What a child runs for chunk `i`: appends the chunk's encoded results to the buffer,
/// or returns the message of an encoding error.
pub(crate) type ChunkFn<'a> =
    dyn FnMut(usize, &mut Vec<u8>) -> std::result::Result<(), String> + 'a;

/// A child at work for this call.
struct Member {
    child: ChildWatch,
    socket: UnixStream,
    /// The header of the frame being received, and how much of it arrived.
    header: [u8; HEADER],
    header_len: usize,
    /// The payload received so far (its capacity reserved from the header's length). The
    /// same buffer serves every frame: a fresh one per frame would fault its pages in
    /// again each time (copy-on-write pages after the fork, or pages the allocator gave
    /// back to the system in between).
    payload: Vec<u8>,
    /// The chunks it was given and has not answered yet, in the order it runs them: the
    /// first is running, a second (if any) waits in its socket so that it never idles.
    holding: VecDeque<usize>,
    eof: bool,
}

impl Member {
    fn payload_len(&self) -> Option<usize> {
        if self.header_len < HEADER {
            return None;
        }
        let len = u64::from_le_bytes(self.header[..8].try_into().ok()?);
        usize::try_from(len).ok()
    }

    /// Reads what is available without blocking, straight into the payload's buffer.
    fn drain(&mut self) {
        loop {
            let Some(len) = self.payload_len() else {
                match (&self.socket).read(&mut self.header[self.header_len..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => {
                        self.header_len += n;
                        if let Some(len) = self.payload_len() {
                            // Room for all of it at once, unless the length is absurd.
                            self.payload.clear();
                            self.payload.reserve(len.min(1 << 30));
                        }
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => {} // WouldBlock, or a reset: the next check decides
                }
                return;
            };
            let missing = len - self.payload.len();
            if missing == 0 {
                return;
            }
            match (&self.socket)
                .take(missing as u64)
                .read_to_end(&mut self.payload)
            {
                // Short of the limit without an error: end of file.
                Ok(_) if self.payload.len() < len => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {} // WouldBlock (what came is kept), or a reset
            }
            return;
        }
    }

    /// The tag of the held chunk's frame, if all of it has arrived (its payload is in
    /// `payload` until the next frame starts).
    fn take_frame(&mut self) -> Option<u8> {
        if self.payload_len()? != self.payload.len() {
            return None;
        }
        self.header_len = 0;
        Some(self.header[8])
    }

    /// Gives the child chunk `i`. If the child cannot take it (it died), it is killed for
    /// sure, so that the next check reports its death as this chunk's outcome: a chunk
    /// is never left waiting for a child that will not answer.
    fn give(&mut self, i: usize) {
        self.holding.push_back(i);
        let bytes = (i as u64).to_le_bytes();
        // MSG_NOSIGNAL: a dead child's socket must give an error, not SIGPIPE.
        let sent = send(
            std::os::fd::AsRawFd::as_raw_fd(&self.socket),
            &bytes,
            MsgFlags::MSG_NOSIGNAL,
        );
        if sent != Ok(bytes.len()) {
            let _ = sys::kill(self.child.pid(), libc::SIGKILL);
        }
    }
}

/// The children of one call; any still running when it ends early are stopped.
struct Crew<'c> {
    members: Vec<Member>,
    children: &'c Children,
}

impl Drop for Crew<'_> {
    fn drop(&mut self) {
        for mut m in self.members.drain(..) {
            let _ = sys::kill(m.child.pid(), libc::SIGKILL);
            let _ = m.child.wait_timeout(Duration::from_secs(5));
            self.children.unregister(m.child.pid());
        }
    }
}

/// Runs `run(i, ..)` for every chunk `i` in `0..chunks` in at most `workers` children
/// forked for this call, and hands each outcome to `on_outcome` with its chunk number as
/// soon as it is known (in any order, each number once). After the pool is terminated,
/// or on an interrupt, the chunks not yet done fail as cancelled or interrupted.
pub(crate) fn run_chunks(
    chunks: usize,
    run: &mut ChunkFn<'_>,
    workers: usize,
    children: &Arc<Children>,
    name_prefix: &str,
    mut on_outcome: impl FnMut(usize, Result<&[u8]>),
) {
    // Free heap pages would be shared copy-on-write with the children: every first write
    // to one after the fork, on either side (the owner decoding results, a child
    // allocating), would copy it and flush the other threads' TLBs.
    sys::trim_heap();
    let mut pending: VecDeque<usize> = (0..chunks).collect();
    let mut crew = Crew {
        members: Vec::new(),
        children,
    };
    let epoch = interrupt::epoch();
    let workers = workers.max(1);
    // The number of children this call runs at once (for the queueing rule of `top_up`).
    let at_once = workers.min(chunks);
    loop {
        if interrupt::happened_since(epoch) {
            for m in crew.members.drain(..) {
                let mut m = m;
                let _ = sys::kill(m.child.pid(), libc::SIGKILL);
                let _ = m.child.wait_timeout(Duration::from_secs(5));
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
            match spawn(run, children, name_prefix) {
                Ok(mut m) => {
                    m.give(i);
                    top_up(&mut m, &mut pending, at_once);
                    crew.members.push(m);
                }
                Err(e) => on_outcome(i, Err(e)),
            }
        }
        if crew.members.is_empty() {
            return;
        }
        wait_readable(crew.members.iter().map(|m| &m.socket));
        let mut k = 0;
        while k < crew.members.len() {
            let m = &mut crew.members[k];
            m.drain();
            if let Some(tag) = m.take_frame() {
                let answered = m.holding.pop_front();
                // Its next chunk first, then the decoding of this one.
                if !children.is_terminated() {
                    top_up(m, &mut pending, at_once);
                }
                if let Some(i) = answered {
                    on_outcome(i, tagged_outcome(tag, &m.payload));
                }
                if m.holding.is_empty() {
                    // Nothing left for it: it leaves at end of file, reaped later.
                    let _ = m.socket.shutdown(std::net::Shutdown::Write);
                    let m = crew.members.swap_remove(k);
                    children.finishing(m.child);
                    continue;
                }
            }
            let m = &mut crew.members[k];
            let status = match m.child.try_wait() {
                Ok(status) => status,
                Err(_) => Some(ExitStatus(-libc::SIGKILL)), // cannot wait: treat as gone
            };
            if status.is_none() && !m.eof {
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
                    Some(tag) => tagged_outcome(tag, &m.payload),
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

/// Gives `m` a second chunk to queue while there are more chunks left than children to
/// take them (near the end, a queued chunk could wait while another child idles).
fn top_up(m: &mut Member, pending: &mut VecDeque<usize>, at_once: usize) {
    while m.holding.len() < 2 && pending.len() > at_once {
        let Some(i) = pending.pop_front() else { break };
        m.give(i);
    }
    if m.holding.is_empty() {
        if let Some(i) = pending.pop_front() {
            m.give(i);
        }
    }
}

/// Forks a child that answers chunk numbers until the parent says there are no more.
fn spawn(run: &mut ChunkFn<'_>, children: &Children, name_prefix: &str) -> Result<Member> {
    let (parent_end, child_end) = UnixStream::pair()?;
    let n = children.next_number();
    let pid = sys::fork_run(&format!("{name_prefix}-{n}"), move || {
        // One buffer for every frame: the child's heap stays warm from chunk to chunk.
        let mut frame = Vec::new();
        let mut number = [0u8; 8];
        loop {
            if (&child_end).read_exact(&mut number).is_err() {
                return 0; // end of file: no more chunks
            }
            let i = u64::from_le_bytes(number) as usize;
            frame.clear();
            frame.resize(HEADER, 0);
            let tag = match catch_unwind(AssertUnwindSafe(|| run(i, &mut frame))) {
                Ok(Ok(())) => 0u8,
                Ok(Err(message)) => {
                    frame.truncate(HEADER);
                    frame.extend_from_slice(message.as_bytes());
                    2
                }
                Err(payload) => {
                    let message = crate::error::panic_message(&*payload);
                    frame.truncate(HEADER);
                    frame.extend_from_slice(format!("task panicked: {message}").as_bytes());
                    1
                }
            };
            let len = (frame.len() - HEADER) as u64;
            frame[..8].copy_from_slice(&len.to_le_bytes());
            frame[8] = tag;
            if (&child_end).write_all(&frame).is_err() {
                return 1;
            }
        }
    })?;
    parent_end.set_nonblocking(true)?;
    children.register(pid);
    Ok(Member {
        child: ChildWatch::new(pid),
        socket: parent_end,
        header: [0; HEADER],
        header_len: 0,
        payload: Vec::new(),
        holding: VecDeque::new(),
        eof: false,
    })
}
