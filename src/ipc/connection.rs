//! `Connection<T>`: one end of a [`Pipe`](super::Pipe).

use std::io::Read;
use std::marker::PhantomData;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv, send};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec;
use crate::{Error, ErrorKind, Result};

/// The largest message a connection carries (Python's limit is 2 GiB - 1 too).
pub(crate) const MAX_MESSAGE: usize = i32::MAX as usize;

/// What has been read from the socket and not yet handed out: `bytes[start..end]`.
struct ReadBuf {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

/// Non-blocking reads tried before a blocking one (see `read_without_sleeping`).
const SPIN_READS: usize = 50;

/// How much the reader asks the socket for at once.
const READ_AHEAD: usize = 64 * 1024;

/// One end of a [`Pipe`](super::Pipe): sends and receives values of type `T`, encoded
/// with serde, to and from the other end — in another thread or another process.
///
/// Like Python's `multiprocessing.connection.Connection`: `send`, `recv`, `poll`. Unlike
/// Python, a `recv` whose peer has died (or dropped its end) returns an
/// [`ErrorKind::Disconnected`] error at once instead of waiting for ever, and every wait
/// can have a timeout.
///
/// Each end is meant to be used by one thread at a time (a second one waits its turn).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let (parent_conn, child_conn) = Pipe::<String>::new()?;
/// let p = Process::new(move || {
///     child_conn.send("Mensaje desde el proceso hijo".to_string()).unwrap();
/// });
/// p.start()?;
/// assert_eq!(parent_conn.recv()?, "Mensaje desde el proceso hijo");
/// p.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Connection<T> {
    socket: UnixStream,
    readable: bool,
    writable: bool,
    read: Mutex<ReadBuf>,
    write: Mutex<Vec<u8>>,
    _type: PhantomData<fn(T) -> T>,
}

fn disconnected() -> Error {
    Error::new(
        ErrorKind::Disconnected,
        "end of file: the other end of the pipe is closed (its process ended, or it was dropped)",
    )
}

impl<T> Connection<T> {
    pub(crate) fn from_socket(socket: UnixStream, readable: bool, writable: bool) -> Self {
        Connection {
            socket,
            readable,
            writable,
            read: Mutex::new(ReadBuf {
                bytes: Vec::new(),
                start: 0,
                end: 0,
            }),
            write: Mutex::new(Vec::with_capacity(256)),
            _type: PhantomData,
        }
    }

    fn read_buf(&self) -> Result<MutexGuard<'_, ReadBuf>> {
        if !self.readable {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this connection is write-only (one end of a one-way Pipe): it cannot receive",
            ));
        }
        // A panic while holding it leaves the buffer at a message boundary or empty.
        Ok(self.read.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Waits up to `left` (for ever with `None`) for the socket to be readable. False on timeout.
    fn wait_readable(&self, left: Option<Duration>) -> Result<bool> {
        let timeout = match left {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            Err(Errno::EINTR) => Ok(false),
            Err(errno) => Err(Error::os("poll", errno)),
        }
    }

    /// Makes sure `need` bytes are buffered, reading until `deadline`. False on timeout.
    fn fill(&self, buf: &mut ReadBuf, need: usize, deadline: Option<Instant>) -> Result<bool> {
        loop {
            if buf.end - buf.start >= need {
                return Ok(true);
            }
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if !self.wait_readable(Some(left))? {
                    if Instant::now() >= deadline {
                        return Ok(false);
                    }
                    continue;
                }
            }
            // Room for the rest of the message and a good read-ahead, without zeroing or
            // moving bytes on every read.
            if buf.start + need.max(READ_AHEAD) > buf.bytes.len() {
                buf.bytes.copy_within(buf.start..buf.end, 0);
                buf.end -= buf.start;
                buf.start = 0;
                if buf.bytes.len() < need.max(READ_AHEAD) {
                    buf.bytes.resize(need.max(READ_AHEAD), 0);
                }
            }
            let end = buf.end;
            // A sender usually has the next message on its way: look a few times without
            // sleeping before blocking, so that a stream of small messages costs one
            // wake-up per batch instead of one per message.
            if let Some(n) = self.read_without_sleeping(&mut buf.bytes[end..]) {
                buf.end += n;
                continue;
            }
            match (&self.socket).read(&mut buf.bytes[end..]) {
                Ok(0) => return Err(disconnected()),
                Ok(n) => buf.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Tries a few non-blocking reads, spinning briefly between them. `Some(n)` when
    /// `n > 0` bytes were read; `None` when nothing came (or end of file: the blocking read
    /// that follows reports it).
    fn read_without_sleeping(&self, into: &mut [u8]) -> Option<usize> {
        for _ in 0..SPIN_READS {
            match recv(self.socket_fd(), into, MsgFlags::MSG_DONTWAIT) {
                Ok(n) if n > 0 => return Some(n),
                Ok(_) => return None,
                Err(Errno::EAGAIN | Errno::EINTR) => {
                    for _ in 0..64 {
                        std::hint::spin_loop();
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    fn socket_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    fn recv_bytes(&self, deadline: Option<Instant>) -> Result<Vec<u8>> {
        let mut buf = self.read_buf()?;
        if !self.fill(&mut buf, 4, deadline)? {
            return Err(Error::new(
                ErrorKind::Timeout,
                "nothing arrived before the timeout",
            ));
        }
        let start = buf.start;
        let len = u32::from_le_bytes(buf.bytes[start..start + 4].try_into().expect("4 bytes"));
        let len = len as usize;
        if !self.fill(&mut buf, 4 + len, deadline)? {
            // The header stays buffered: a later recv finishes this message.
            return Err(Error::new(
                ErrorKind::Timeout,
                "a message arrived only in part before the timeout",
            ));
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

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Sends `value` to the other end (Python's `send`).
    ///
    /// Returns once the message is in the pipe's buffer; when the buffer is full, it waits
    /// for the other end to read.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (a, b) = Pipe::<Vec<u32>>::new()?;
    /// a.send(vec![1, 2, 3])?;
    /// assert_eq!(b.recv()?, [1, 2, 3]);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Serialization`] when `value` cannot be encoded (nothing is sent then);
    /// [`ErrorKind::Disconnected`] when the other end is closed; [`ErrorKind::InvalidState`]
    /// on the read-only end of a one-way pipe.
    pub fn send(&self, value: impl std::borrow::Borrow<T>) -> Result<()> {
        if !self.writable {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this connection is read-only (one end of a one-way Pipe): it cannot send",
            ));
        }
        let mut frame = self.write.lock().unwrap_or_else(|p| p.into_inner());
        frame.clear();
        frame.extend_from_slice(&[0; 4]);
        codec::encode_into(value.borrow(), &mut frame)?;
        let len = frame.len() - 4;
        if len > MAX_MESSAGE {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!("a message of {len} bytes is too large to send (limit: {MAX_MESSAGE})"),
            ));
        }
        frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
        let mut sent = 0;
        while sent < frame.len() {
            match send(self.socket_fd(), &frame[sent..], MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => sent += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(disconnected()),
                Err(errno) => return Err(Error::os("send", errno)),
            }
        }
        Ok(())
    }

    /// Waits for the next value from the other end (Python's `recv`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (a, b) = Pipe::<i32>::new()?;
    /// b.send(42)?;
    /// assert_eq!(a.recv()?, 42);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`] when the other end is closed and everything it sent has
    /// been received (Python raises `EOFError`); [`ErrorKind::Serialization`] when the bytes
    /// do not decode as a `T`.
    pub fn recv(&self) -> Result<T> {
        codec::decode(&self.recv_bytes(None)?)
    }

    /// Like [`recv`](Self::recv), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let (a, _b) = Pipe::<i32>::new()?;
    /// assert!(a.recv_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when nothing arrived in time, or any error of [`recv`](Self::recv).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T> {
        codec::decode(&self.recv_bytes(Some(Instant::now() + timeout))?)
    }

    /// True when a value (or the end of file) is ready to be received, waiting at most
    /// `timeout` for one (Python's `poll(timeout)`; `Duration::ZERO` does not wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let (a, b) = Pipe::<u8>::new()?;
    /// assert!(!a.poll(Duration::ZERO)?);
    /// b.send(1)?;
    /// assert!(a.poll(Duration::from_secs(1))?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] on the write-only end of a one-way pipe.
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        let buf = self.read_buf()?;
        if buf.end > buf.start {
            return Ok(true);
        }
        drop(buf);
        self.wait_readable(Some(timeout))
    }
}

impl<T> std::fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .finish()
    }
}
