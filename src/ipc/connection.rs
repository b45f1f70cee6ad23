//! `Connection<T>`: one end of a [`Pipe`](super::Pipe).
//!
//! Messages go through a ring buffer in shared memory, one per direction: no system call
//! per message when the reader keeps up. A message too big for the ring (over
//! [`INLINE_MAX`]) goes through the pipe's socket instead, announced by a marker in the
//! ring so that the order is kept. The socket also tells when the peer is gone: its other
//! end is closed in every process once the peer has died or dropped it.

use std::marker::PhantomData;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec;
use super::end_holders::EndHolders;
use super::frame_socket::{FrameSocket, disconnected};
use super::ring::Ring;
use crate::sys::{CHECK_EVERY, PerProcess};
use crate::{Error, ErrorKind, Result};

/// The largest message a connection carries (Python's limit is 2 GiB - 1 too).
pub(crate) const MAX_MESSAGE: usize = i32::MAX as usize;

/// Bytes of each direction's ring.
pub(crate) const RING_BYTES: usize = 1 << 20;

/// Messages up to this size go through the ring; bigger ones through the socket.
const INLINE_MAX: usize = 64 * 1024;

/// Ring message tags: the message itself follows, or it comes on the socket.
const INLINE: u8 = 0;
const ON_SOCKET: u8 = 1;

/// One end of a [`Pipe`](super::Pipe): sends and receives values of type `T`, encoded
/// with serde, to and from the other end — in another thread or another process.
///
/// Like Python's `multiprocessing.connection.Connection`: `send`, `recv`, `poll`. Unlike
/// Python, a `recv` whose peer has died (or dropped its end) returns an
/// [`ErrorKind::Disconnected`] error at once instead of waiting for ever, and every wait
/// can have a timeout.
///
/// Each end is meant to be used by one thread at a time (a second one waits its turn).
/// A child forked while another thread of its parent was inside a method of this end gets
/// an end of its own state (nothing of the parent's half-done call, no lock held for
/// ever).
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
    socket: FrameSocket,
    /// Which processes hold each end: the peer is gone when none of its holders lives.
    holders: EndHolders,
    /// Set by [`close`](Self::close).
    closed: AtomicBool,
    /// The ring this end reads (None: write-only end).
    inbox: Option<Ring>,
    /// The ring this end writes (None: read-only end).
    outbox: Option<Ring>,
    /// Held while receiving (one per process: see [`PerProcess`]).
    receiving: PerProcess<Mutex<Receiving>>,
    /// Held while sending (keeps ring and socket in the same order).
    sending: PerProcess<Mutex<Sending>>,
    _type: PhantomData<fn(T) -> T>,
}

/// The sender's state: the encoding buffer, and when the peer was last seen alive (on
/// the coarse clock).
#[derive(Default)]
struct Sending {
    frame: Vec<u8>,
    checked: Option<Duration>,
    /// When the holder table was last read (less often: it costs a scan).
    holders_checked: Option<Duration>,
}

/// The receiver's state.
#[derive(Default)]
struct Receiving {
    /// True when a marker said the next message is on the socket but it has not been
    /// read yet (a timeout came first).
    on_socket: bool,
    /// The last message taken from the ring (reused: no allocation per message).
    buf: Vec<u8>,
}

/// The coarse monotonic clock (updated every tick, a few nanoseconds to read): enough to
/// space out checks that need not be exact. `None` if it cannot be read.
fn coarse_now() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
        .ok()
        .map(Duration::from)
}

/// A sender checks that its peer lives at most this often while the ring has room (a
/// `poll` per message would cost more than the message); a blocked sender checks every
/// [`CHECK_EVERY`].
const SENDER_CHECK: Duration = Duration::from_millis(1);

impl<T> Connection<T> {
    pub(crate) fn new(
        socket: UnixStream,
        holders: EndHolders,
        inbox: Option<Ring>,
        outbox: Option<Ring>,
    ) -> Self {
        Connection {
            socket: FrameSocket::new(socket),
            holders,
            closed: AtomicBool::new(false),
            inbox,
            outbox,
            receiving: PerProcess::default(),
            sending: PerProcess::default(),
            _type: PhantomData,
        }
    }

    /// Fails once this end is closed; otherwise lists this process as a holder.
    fn open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "this connection is closed (close() was called on it)",
            ));
        }
        self.holders.enlist();
        Ok(())
    }

    /// True once the other end is closed (or dropped) in every process that held it.
    fn peer_gone(&self) -> bool {
        self.socket.peer_gone() || self.holders.peer_gone()
    }

    /// Closes this end (Python's `close()`): in this process, `send` and `recv` fail from
    /// now on, and once no other process holds it, its peer sees end of file. Dropping the
    /// end does the same. Closing twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (mine, theirs) = Pipe::<u32>::new()?;
    /// let p = Process::new(move || {
    ///     for v in 1..=3 {
    ///         theirs.send(v).unwrap();
    ///     }
    ///     theirs.close(); // the parent's loop ends here, not when this process does
    /// });
    /// p.start()?;
    /// let mut got = Vec::new();
    /// while let Ok(v) = mine.recv() {
    ///     got.push(v);
    /// }
    /// assert_eq!(got, [1, 2, 3]);
    /// p.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.holders.leave(false);
        }
    }

    /// True once [`close`](Self::close) was called on this end (Python's `closed`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (a, _b) = Pipe::<u8>::new()?;
    /// assert!(!a.closed());
    /// a.close();
    /// assert!(a.closed());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn inbox(&self) -> Result<&Ring> {
        self.inbox.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                "this connection is write-only (one end of a one-way Pipe): it cannot receive",
            )
        })
    }

    fn receiving(&self) -> MutexGuard<'_, Receiving> {
        // A flag and a scratch buffer: a panic cannot leave them inconsistent.
        self.receiving
            .get()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The receiver's state, waiting for another thread's `recv` at most until
    /// `deadline`: a `recv_timeout` or `poll` keeps its timeout while a `recv` blocks.
    fn receiving_until(&self, deadline: Option<Instant>) -> Result<MutexGuard<'_, Receiving>> {
        let Some(deadline) = deadline else {
            return Ok(self.receiving());
        };
        let mut nap = Duration::from_micros(20);
        loop {
            match self.receiving.get().try_lock() {
                Ok(state) => return Ok(state),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "nothing arrived before the timeout (another thread was receiving on this \
                     end)",
                ));
            }
            std::thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }

    /// Puts `bytes` in the outbox, waiting for room while the peer lives.
    fn push(&self, ring: &Ring, bytes: &[u8], sending: &mut Sending) -> Result<()> {
        let now = coarse_now();
        let due = |at: Option<Duration>, every: Duration| match (now, at) {
            (Some(now), Some(at)) => now.saturating_sub(at) >= every,
            _ => true,
        };
        if due(sending.checked, SENDER_CHECK) {
            if self.socket.peer_gone() {
                return Err(disconnected());
            }
            sending.checked = now;
        }
        if due(sending.holders_checked, CHECK_EVERY) {
            if self.holders.peer_gone() {
                return Err(disconnected());
            }
            sending.holders_checked = now;
        }
        // The fast path: no clock read, no system call.
        if let Some(writer) = ring.try_lock_writer()? {
            if writer.try_push(&[bytes], true)? {
                return Ok(());
            }
        }
        loop {
            let slice = Instant::now() + CHECK_EVERY;
            let pushed = ring
                .lock_writer(Some(slice))
                .and_then(|writer| writer.push(&[bytes], Some(slice), true));
            match pushed {
                Err(e) if e.is_timeout() && self.peer_gone() => return Err(disconnected()),
                Err(e) if e.is_timeout() => continue,
                other => return other,
            }
        }
    }

    fn send_bytes(&self, sending: &mut Sending) -> Result<()> {
        let frame = std::mem::take(&mut sending.frame);
        let sent = self.send_frame_bytes(&frame, sending);
        sending.frame = frame;
        sent
    }

    fn send_frame_bytes(&self, frame: &[u8], sending: &mut Sending) -> Result<()> {
        let ring = self.outbox.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                "this connection is read-only (one end of a one-way Pipe): it cannot send",
            )
        })?;
        let len = frame.len() - 1;
        if len > MAX_MESSAGE {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!("a message of {len} bytes is too large to send (limit: {MAX_MESSAGE})"),
            ));
        }
        if len <= INLINE_MAX {
            return self.push(ring, frame, sending);
        }
        self.push(ring, &[ON_SOCKET], sending)?;
        self.socket
            .send_frame(&frame[1..], &|| self.holders.peer_gone())
    }

    /// Waits for the next message and hands its bytes to `f`.
    fn recv_with<R>(
        &self,
        deadline: Option<Instant>,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let ring = self.inbox()?;
        self.open()?;
        let gone = || self.holders.peer_gone();
        let mut state = self.receiving_until(deadline)?;
        let state = &mut *state;
        if state.on_socket {
            let body = self.socket.recv_frame(deadline, &gone)?;
            state.on_socket = false;
            return f(&body);
        }
        // The fast path: no clock read, no system call.
        let mut popped = match ring.try_lock_reader()? {
            Some(reader) => reader.try_pop_into(&mut state.buf)?,
            None => false,
        };
        let epoch = crate::interrupt::epoch();
        while !popped {
            if crate::interrupt::happened_since(epoch) {
                return Err(crate::interrupt::error()); // the notebook's stop button
            }
            let slice = match deadline {
                Some(d) => d.min(Instant::now() + CHECK_EVERY),
                None => Instant::now() + CHECK_EVERY,
            };
            let waited = ring
                .lock_reader(Some(slice))
                .and_then(|reader| reader.pop_into(&mut state.buf, Some(slice)));
            match waited {
                Ok(()) => popped = true,
                Err(e) if e.is_timeout() => {
                    if self.peer_gone() {
                        // Whatever the peer sent before it went is still delivered.
                        match ring.try_lock_reader()? {
                            Some(reader) if reader.try_pop_into(&mut state.buf)? => popped = true,
                            Some(_) => return Err(disconnected()),
                            None => {} // another process reads: try again
                        }
                    } else if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            "nothing arrived before the timeout",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        match state.buf.split_first() {
            Some((&INLINE, body)) => f(body),
            Some((&ON_SOCKET, _)) => {
                state.on_socket = true;
                let body = self.socket.recv_frame(deadline, &gone)?;
                state.on_socket = false;
                f(&body)
            }
            _ => Err(Error::new(
                ErrorKind::Serialization,
                "a garbled pipe message",
            )),
        }
    }

    fn poll_ready(&self, timeout: Duration) -> Result<bool> {
        let ring = self.inbox()?;
        self.open()?;
        let deadline = Instant::now() + timeout;
        match self.receiving_until(Some(deadline)) {
            Ok(state) if state.on_socket => return Ok(true),
            Ok(_) => {}
            Err(e) if e.is_timeout() => return Ok(false),
            Err(e) => return Err(e),
        }
        loop {
            let slice = deadline.min(Instant::now() + CHECK_EVERY);
            if ring.wait_nonempty(slice)? || self.peer_gone() {
                return Ok(true); // a message, or the end of file, is ready
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
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
    pub fn send(&self, value: impl super::IntoMessage<T>) -> Result<()> {
        self.open()?;
        let mut sending = self.sending.get().lock().unwrap_or_else(|p| p.into_inner());
        sending.frame.clear();
        sending.frame.push(INLINE);
        value.with_message(|value| codec::encode_into(value, &mut sending.frame))?;
        self.send_bytes(&mut sending)
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
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn recv(&self) -> Result<T> {
        self.recv_with(None, codec::decode)
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
        self.recv_with(Some(Instant::now() + timeout), codec::decode)
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
        self.poll_ready(timeout)
    }
}

impl<T> Drop for Connection<T> {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) {
            // Dropped while a task that moved it is handed to a forked child: it is the
            // child's now (see `end_holders`); otherwise this process lets it go.
            self.holders.leave(true);
        }
    }
}

impl<T> std::fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("readable", &self.inbox.is_some())
            .field("writable", &self.outbox.is_some())
            .field("closed", &self.closed())
            .finish()
    }
}
