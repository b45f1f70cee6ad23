//! The task channel between rank 0 and a worker rank: messages over one TCP stream, in
//! parts, with heartbeats between them.
//!
//! MPI starts the ranks, tells them apart, checks their executables and ends the job; the
//! tasks travel on a plain TCP stream per worker (set up through MPI, see `boot.rs`)
//! because Debian's Open MPI 4.1 has no fault tolerance: a dead peer makes its TCP
//! transport abort the survivors or block them for ever. A stream gives an end-of-file
//! the moment a process dies, and a silence we can time when a host is lost.
//!
//! A frame is `[u32 length][u8 flags][bytes]`. A message is one or more frames, every one
//! but the last flagged `MORE`, so a large value goes in parts of at most [`PART`] bytes
//! and a heartbeat (a frame flagged `HEARTBEAT`, outside any message) can pass between
//! two parts: the peer sees bytes at least every [`HEARTBEAT_EVERY`] while a value of
//! any size crosses.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The largest part of a message in one frame.
pub(super) const PART: usize = 1 << 20;

/// How often each side sends a heartbeat.
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_millis(300);

/// A peer silent for this long is lost (its process is gone or its host unreachable).
pub(super) const SILENT_LIMIT: Duration = Duration::from_secs(3);

const MORE: u8 = 1;
const HEARTBEAT: u8 = 2;

/// Message kinds (the first byte of a message).
pub(super) const TASK: u8 = 1;
pub(super) const STOP: u8 = 2;
pub(super) const RESULT: u8 = 3;

/// The sending half of a stream, shared by the threads that write to one peer.
pub(super) struct Sender {
    /// Held for a whole message, so that two messages never interleave their parts.
    message: Mutex<()>,
    /// Held for one frame: a heartbeat may pass between two parts of a message.
    stream: Mutex<TcpStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A frame is written whole or the stream is dead: a poisoned lock holds no half state
    // that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sender {
    pub(super) fn new(stream: TcpStream) -> Self {
        Sender {
            message: Mutex::new(()),
            stream: Mutex::new(stream),
        }
    }

    /// Sends one message: `head` then `body`, in parts.
    pub(super) fn send(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        let _message = lock(&self.message);
        let total = head.len() + body.len();
        let mut sent = 0;
        let mut frame = Vec::with_capacity(5 + total.min(PART));
        loop {
            let len = (total - sent).min(PART);
            frame.clear();
            frame.extend_from_slice(&(len as u32).to_le_bytes());
            frame.push(if sent + len < total { MORE } else { 0 });
            let (from, to) = (sent, sent + len);
            if from < head.len() {
                frame.extend_from_slice(&head[from..to.min(head.len())]);
            }
            if to > head.len() {
                frame.extend_from_slice(&body[from.max(head.len()) - head.len()..to - head.len()]);
            }
            lock(&self.stream).write_all(&frame)?;
            sent = to;
            if sent >= total {
                return Ok(());
            }
        }
    }

    /// Sends a heartbeat frame (between messages or between two parts of one).
    pub(super) fn heartbeat(&self) -> io::Result<()> {
        lock(&self.stream).write_all(&[0, 0, 0, 0, HEARTBEAT])
    }

    /// Closes both directions: the peer's reads and ours end at once.
    pub(super) fn shut_down(&self) {
        let _ = lock(&self.stream).shutdown(std::net::Shutdown::Both);
    }
}

/// Why a peer's messages stopped.
#[derive(Debug)]
pub(super) enum Silence {
    /// The stream ended or failed: the peer's process is gone (or closed it).
    Closed(io::Error),
    /// Nothing, not even a heartbeat, arrived for [`SILENT_LIMIT`].
    Silent(Duration),
}

/// The receiving half: reads whole messages, skipping heartbeats, and notices silence.
pub(super) struct Receiver {
    stream: TcpStream,
    last_heard: Instant,
}

impl Receiver {
    pub(super) fn new(stream: TcpStream) -> io::Result<Self> {
        // Short reads, so that silence is noticed within a fraction of the limit.
        stream.set_read_timeout(Some(HEARTBEAT_EVERY))?;
        Ok(Receiver {
            stream,
            last_heard: Instant::now(),
        })
    }

    /// Fills `buf` completely, waiting through read timeouts while the peer is not silent.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Silence> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(Silence::Closed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection was closed",
                    )));
                }
                Ok(n) => {
                    filled += n;
                    self.last_heard = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    let quiet = self.last_heard.elapsed();
                    if quiet >= SILENT_LIMIT {
                        return Err(Silence::Silent(quiet));
                    }
                }
                Err(e) => return Err(Silence::Closed(e)),
            }
        }
        Ok(())
    }

    /// The next message, its parts joined.
    pub(super) fn next_message(&mut self) -> Result<Vec<u8>, Silence> {
        let mut message = Vec::new();
        loop {
            let mut header = [0u8; 5];
            self.fill(&mut header)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let flags = header[4];
            if flags & HEARTBEAT != 0 {
                continue;
            }
            let start = message.len();
            message.resize(start + len, 0);
            self.fill(&mut message[start..])?;
            if flags & MORE == 0 {
                return Ok(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    #[test]
    fn a_large_message_crosses_in_parts_with_heartbeats_between() {
        let (a, b) = pair();
        let sender = std::sync::Arc::new(Sender::new(a));
        let body: Vec<u8> = (0..3 * PART + 17).map(|i| (i % 251) as u8).collect();
        let beats = {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    sender.heartbeat().unwrap();
                }
            })
        };
        let writer = {
            let (sender, body) = (sender.clone(), body.clone());
            std::thread::spawn(move || sender.send(&[RESULT, 9], &body).unwrap())
        };
        let mut receiver = Receiver::new(b).unwrap();
        let message = receiver.next_message().unwrap();
        writer.join().unwrap();
        beats.join().unwrap();
        assert_eq!(&message[..2], &[RESULT, 9]);
        assert_eq!(&message[2..], &body[..]);
    }

    #[test]
    fn a_closed_peer_is_reported_at_once() {
        let (a, b) = pair();
        drop(a);
        let mut receiver = Receiver::new(b).unwrap();
        assert!(matches!(receiver.next_message(), Err(Silence::Closed(_))));
    }
}
