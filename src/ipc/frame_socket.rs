//! Length-prefixed frames over a Unix socket: the path of a [`Connection`](super::Connection)
//! for big messages, and how it learns that its peer is gone.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use crate::sys::{CHECK_EVERY, PerProcess};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, send};

use crate::{Error, ErrorKind, Result};

/// How much the reader asks the socket for at once.
const READ_AHEAD: usize = 64 * 1024;

/// What has been read from the socket and not yet handed out: `bytes[start..end]`.
#[derive(Default)]
struct ReadBuf {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

pub(crate) fn disconnected() -> Error {
    Error::new(
        ErrorKind::Disconnected,
        "end of file: the other end of the pipe is closed (its process ended, or it was dropped)",
    )
}

/// One end of a socket pair carrying `[u32 length][bytes]` frames.
pub(crate) struct FrameSocket {
    socket: UnixStream,
    /// One per process: a child forked mid-read must not inherit a locked buffer.
    read: PerProcess<Mutex<ReadBuf>>,
}

impl FrameSocket {
    pub(crate) fn new(socket: UnixStream) -> Self {
        FrameSocket {
            socket,
            read: PerProcess::default(),
        }
    }

    /// True once the other end is closed in every process (its owner died or dropped it).
    pub(crate) fn peer_gone(&self) -> bool {
        crate::sys::peer_closed(self.socket.as_fd())
    }

    /// Sends one frame (the caller serialises senders), waiting while the socket is full
    /// unless `gone` says nobody can read it any more.
    pub(crate) fn send_frame(&self, body: &[u8], gone: &dyn Fn() -> bool) -> Result<()> {
        let header = (body.len() as u32).to_le_bytes();
        for part in [&header[..], body] {
            let mut sent = 0;
            while sent < part.len() {
                match send(
                    self.socket.as_raw_fd(),
                    &part[sent..],
                    MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(n) => sent += n,
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => {
                        if !self.wait_for(PollFlags::POLLOUT, CHECK_EVERY)? && gone() {
                            return Err(disconnected());
                        }
                    }
                    Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(disconnected()),
                    Err(errno) => return Err(Error::os("send", errno)),
                }
            }
        }
        Ok(())
    }

    /// Waits up to `left` for the socket to be ready for `what`. False on timeout.
    fn wait_for(&self, what: PollFlags, left: Duration) -> Result<bool> {
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(self.socket.as_fd(), what)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(n) => Ok(n > 0),
            Err(Errno::EINTR) => Ok(false),
            Err(errno) => Err(Error::os("poll", errno)),
        }
    }

    /// Makes sure `need` bytes are buffered, reading until `deadline`. False on timeout.
    fn fill(
        &self,
        buf: &mut ReadBuf,
        need: usize,
        deadline: Option<Instant>,
        gone: &dyn Fn() -> bool,
    ) -> Result<bool> {
        loop {
            if buf.end - buf.start >= need {
                return Ok(true);
            }
            let left = deadline.map_or(CHECK_EVERY, |d| {
                d.saturating_duration_since(Instant::now()).min(CHECK_EVERY)
            });
            if !self.wait_for(PollFlags::POLLIN, left)? {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                if gone() {
                    return Err(disconnected());
                }
                continue;
            }
            // Room for the rest of the frame and a read-ahead, without zeroing or moving
            // bytes on every read.
            if buf.start + need.max(READ_AHEAD) > buf.bytes.len() {
                buf.bytes.copy_within(buf.start..buf.end, 0);
                buf.end -= buf.start;
                buf.start = 0;
                if buf.bytes.len() < need.max(READ_AHEAD) {
                    buf.bytes.resize(need.max(READ_AHEAD), 0);
                }
            }
            let end = buf.end;
            match (&self.socket).read(&mut buf.bytes[end..]) {
                Ok(0) => return Err(disconnected()),
                Ok(n) => buf.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one frame, waiting until `deadline`. On a timeout, what arrived of the
    /// frame stays buffered for the next call.
    pub(crate) fn recv_frame(
        &self,
        deadline: Option<Instant>,
        gone: &dyn Fn() -> bool,
    ) -> Result<Vec<u8>> {
        // A panic while holding it leaves the buffer at a frame boundary or empty.
        let mut buf = self.read.get().lock().unwrap_or_else(|p| p.into_inner());
        let late = || {
            Error::new(
                ErrorKind::Timeout,
                "a message did not arrive before the timeout",
            )
        };
        if !self.fill(&mut buf, 4, deadline, gone)? {
            return Err(late());
        }
        let start = buf.start;
        let len = u32::from_le_bytes(buf.bytes[start..start + 4].try_into().expect("4 bytes"));
        let len = len as usize;
        if !self.fill(&mut buf, 4 + len, deadline, gone)? {
            return Err(late());
        }
        // `fill` may have moved the buffered bytes to the front: read the start again.
        let start = buf.start;
        let body = buf.bytes[start + 4..start + 4 + len].to_vec();
        buf.start += 4 + len;
        if buf.start == buf.end {
            buf.start = 0;
            buf.end = 0;
        }
        Ok(body)
    }
}
