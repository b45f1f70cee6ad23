//! `Pipe`: two connected [`Connection`]s.

use std::marker::PhantomData;
use std::os::unix::net::UnixStream;

use super::Connection;
use super::connection::RING_BYTES;
use super::end_holders::EndHolders;
use super::ring::Ring;
use crate::Result;

/// Makes a pair of connected [`Connection`]s, like Python's `multiprocessing.Pipe()`.
///
/// Typed: both ends carry values of type `T`, encoded with serde. Create the pipe before
/// starting the process, move one end into the process's closure and keep the other: the
/// parent's copy of the moved end is closed at `start`, so when the child ends, the parent's
/// `recv` returns an end-of-file error instead of waiting for ever. End of file comes when
/// every process that holds the other end has dropped it, closed it
/// ([`Connection::close`]) or ended. A process holds an end that it created, that was
/// moved into its closure, or that it has used; the copies every forked child inherits of
/// the ends it was not given do not count (an echo child sees end of file when its
/// parent drops its end, a reader started before its sibling writer when the writer
/// ends). An end shared with a child through an `Arc` counts as the child's once the child
/// has used it: keep yours until then.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let (parent_conn, child_conn) = Pipe::<String>::new()?;
/// let p = Process::new(move || {
///     let question = child_conn.recv().unwrap();
///     child_conn.send(format!("respuesta a «{question}»")).unwrap();
/// });
/// p.start()?;
/// parent_conn.send("hola".to_string())?;
/// assert_eq!(parent_conn.recv()?, "respuesta a «hola»");
/// p.join()?;
/// // The child is gone: end of file, not a hang.
/// assert_eq!(parent_conn.recv().unwrap_err().kind(), ErrorKind::Disconnected);
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipe<T>(PhantomData<fn(T) -> T>);

impl<T> Pipe<T> {
    /// Two ends that can each send and receive (Python's `Pipe()`, `duplex=True`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (a, b) = Pipe::<u32>::new()?;
    /// a.send(1)?;
    /// b.send(2)?;
    /// assert_eq!((b.recv()?, a.recv()?), (1, 2));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when the system has no descriptors left.
    #[allow(clippy::new_ret_no_self)] // Python's `Pipe()` returns the two ends
    pub fn new() -> Result<(Connection<T>, Connection<T>)> {
        let (a, b) = UnixStream::pair()?;
        let a_to_b = Ring::new(0, RING_BYTES)?;
        let b_to_a = Ring::new(0, RING_BYTES)?;
        let (holds_a, holds_b) = EndHolders::pair()?;
        Ok((
            Connection::new(a, holds_a, Some(b_to_a.clone()), Some(a_to_b.clone())),
            Connection::new(b, holds_b, Some(a_to_b), Some(b_to_a)),
        ))
    }

    /// A one-way pipe: `(receiver, sender)`, like Python's `Pipe(duplex=False)`: the first
    /// end can only receive, the second only send.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let (reader, writer) = Pipe::<String>::one_way()?;
    /// writer.send("solo ida".to_string())?;
    /// assert_eq!(reader.recv()?, "solo ida");
    /// assert_eq!(reader.send("vuelta".to_string()).unwrap_err().kind(), ErrorKind::InvalidState);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn one_way() -> Result<(Connection<T>, Connection<T>)> {
        let (r, w) = UnixStream::pair()?;
        let ring = Ring::new(0, RING_BYTES)?;
        let (holds_r, holds_w) = EndHolders::pair()?;
        Ok((
            Connection::new(r, holds_r, Some(ring.clone()), None),
            Connection::new(w, holds_w, None, Some(ring)),
        ))
    }
}
