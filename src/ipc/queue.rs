//! `Queue<T>`: a FIFO queue shared by processes and threads.

use super::IntoMessage;
use std::cell::Cell;
use std::marker::PhantomData;
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec;
use super::holders::Holders;
use super::parts;
use super::ring::{DEFAULT_BYTES, Ring};
use crate::Result;

thread_local! {
    /// Each thread's buffer for encoding the items it puts.
    static ENCODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// Each thread's buffer for the items it gets, before decoding.
    static DECODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers bigger than this are not kept for the next item.
const KEEP: usize = 64 * 1024;

/// Runs `f` with this thread's buffer in `slot` (taken out while `f` runs, so that a
/// nested call gets a fresh one), and keeps it for the next call unless it grew big.
fn with_buffer<R>(slot: &'static LocalKey<Cell<Vec<u8>>>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = slot.try_with(Cell::take).unwrap_or_default();
    let out = f(&mut buf);
    if buf.capacity() <= KEEP {
        let _ = slot.try_with(|s| s.set(buf));
    }
    out
}

/// A first-in first-out queue that forked processes and threads share, like Python's
/// `multiprocessing.Queue`.
///
/// Items are encoded with serde into a buffer in shared memory (mapped before `fork`, so
/// every child of the process that created the queue sees it). Any number of processes
/// may put and get; each item is received exactly once. Clone it to hand a copy to a
/// thread or to a process's closure: the clones are the same queue.
///
/// Unlike Python's, `put` has copied the item into the queue when it returns (no feeder
/// thread that could lose it when the process exits), and every wait can time out. The
/// price: when the shared buffer (4 MiB unless set with [`with_buffer`](Self::with_buffer))
/// is full, `put` waits for a consumer, as a write to a full pipe does. So, as in Python,
/// take the items out before `join`ing the process that puts them.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let q = Queue::<String>::new()?;
/// let tx = q.clone();
/// let p = Process::new(move || tx.put("Mensaje desde el proceso".to_string()).unwrap());
/// p.start()?;
/// assert_eq!(q.get()?, "Mensaje desde el proceso");
/// p.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Queue<T> {
    pub(crate) ring: Ring,
    holders: Holders,
    _type: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ring: self.ring.clone(),
            holders: self.holders.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue (Python's `Queue()`) with a 4 MiB shared buffer. Items of any size
    /// fit: one larger than half the buffer travels in parts, while the buffer is read.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u32>::new()?;
    /// q.put(7)?;
    /// assert_eq!(q.get()?, 7);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn new() -> Result<Self> {
        Self::with_buffer(0, DEFAULT_BYTES)
    }

    /// A queue holding at most `maxsize` items (Python's `Queue(maxsize)`): `put` waits
    /// while it is full. 0 means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::with_maxsize(1)?;
    /// q.put(1)?;
    /// assert!(q.full()?);
    /// assert!(q.put_timeout(2, std::time::Duration::from_millis(5)).unwrap_err().is_timeout());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_maxsize(maxsize: usize) -> Result<Self> {
        Self::with_buffer(maxsize, DEFAULT_BYTES)
    }

    /// A queue of at most `maxsize` items (0: no limit) whose shared buffer holds `bytes`
    /// bytes of encoded items. A bigger buffer lets big items pass whole instead of in
    /// parts (and producers run further ahead of consumers).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<Vec<u8>>::with_buffer(0, 64 << 20)?; // room for big items
    /// q.put(vec![0; 10 << 20])?;
    /// assert_eq!(q.get()?.len(), 10 << 20);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `bytes` is under 64, or as
    /// [`new`](Self::new).
    pub fn with_buffer(maxsize: usize, bytes: usize) -> Result<Self> {
        Ok(Queue {
            ring: Ring::new(maxsize, bytes)?,
            holders: Holders::new()?,
            _type: PhantomData,
        })
    }

    fn put_until(&self, item: &T, deadline: Option<Instant>) -> Result<()> {
        self.holders.enlist();
        with_buffer(&ENCODE, |frame| {
            frame.clear();
            frame.push(0); // reserved for the part tag
            codec::encode_into(item, frame)?;
            parts::put(&self.ring, frame, deadline)
        })
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T> {
        self.holders.enlist();
        let nobody_else = || self.holders.others_gone();
        with_buffer(&DECODE, |buf| {
            let start = parts::get(&self.ring, deadline, &nobody_else, buf)?;
            codec::decode(&buf[start..])
        })
    }

    /// Puts `item` at the end, waiting while the queue is full (Python's `put`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<(String, u32)>::new()?;
    /// q.put(("tarea".to_string(), 1))?;
    /// assert_eq!(q.qsize()?, 1);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Serialization`](crate::ErrorKind) when the item cannot be encoded
    /// (nothing is put); [`ErrorKind::InvalidArgument`](crate::ErrorKind) when it is larger
    /// than the queue's buffer; [`ErrorKind::Disconnected`](crate::ErrorKind) after
    /// [`close`](Self::close).
    pub fn put(&self, item: impl IntoMessage<T>) -> Result<()> {
        item.with_message(|item| self.put_until(item, None))
    }

    /// Like [`put`](Self::put), waiting at most `timeout` for room.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::with_maxsize(1)?;
    /// q.put_timeout(1, std::time::Duration::from_secs(1))?;
    /// assert!(q.put_timeout(2, std::time::Duration::from_millis(5)).unwrap_err().is_timeout());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`](crate::ErrorKind) when the queue stayed full (Python's
    /// `queue.Full`), or any error of [`put`](Self::put).
    pub fn put_timeout(&self, item: impl IntoMessage<T>, timeout: Duration) -> Result<()> {
        item.with_message(|item| self.put_until(item, Some(Instant::now() + timeout)))
    }

    /// Takes the first item, waiting until there is one (Python's `get`).
    ///
    /// Unlike Python's, it does not wait for ever on a queue that nobody can fill any
    /// more: once the queue was shared with another process, when it is empty, this
    /// process holds no other handle of it (a clone a thread could put with), and every
    /// other process that held it has exited, it returns a `Disconnected` error (end of
    /// file). The processes that hold a queue are the one that made it and every process
    /// paralelo forked while the queue existed there (`Process`, pool tasks and workers).
    /// Checked every 50 ms while waiting; whatever is uncertain (a process forked by
    /// other means, more than 1,000 holders at once) keeps it waiting. A handle shared by
    /// reference (`&Queue`, `Arc<Queue>`) counts once: give each thread that puts a clone.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<i64>::new()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!((q.get()?, q.get()?), (1, 2));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) when the queue is closed and empty, or
    /// empty with every other holder gone;
    /// [`ErrorKind::Serialization`](crate::ErrorKind) when an item does not decode.
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn get(&self) -> Result<T> {
        self.get_until(None)
    }

    /// Like [`get`](Self::get), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let q = Queue::<i64>::new()?;
    /// assert!(q.get_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`](crate::ErrorKind) when nothing arrived in time (Python's
    /// `queue.Empty`), or any error of [`get`](Self::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_until(Some(Instant::now() + timeout))
    }

    /// Takes the first item if there is one, without waiting (Python's `get_nowait`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::new()?;
    /// assert_eq!(q.try_get()?, None);
    /// q.put(3)?;
    /// assert_eq!(q.try_get()?, Some(3));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get) (an empty queue is `Ok(None)`).
    pub fn try_get(&self) -> Result<Option<T>> {
        match self.get_until(Some(Instant::now())) {
            Ok(item) => Ok(Some(item)),
            Err(e) if e.is_timeout() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How many items are in the queue now (Python's `qsize`). Other processes may change
    /// it at any moment. An item travelling in parts counts once per part still queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::new()?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.qsize()?, 2);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) if the shared lock fails.
    pub fn qsize(&self) -> Result<usize> {
        self.ring.len()
    }

    /// True when the queue holds no item now (Python's `empty`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::new()?;
    /// assert!(q.empty()?);
    /// q.put(1)?;
    /// assert!(!q.empty()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`qsize`](Self::qsize).
    pub fn empty(&self) -> Result<bool> {
        Ok(self.qsize()? == 0)
    }

    /// True when the queue holds `maxsize` items now (never for an unbounded queue).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::with_maxsize(1)?;
    /// assert!(!q.full()?);
    /// q.put(1)?;
    /// assert!(q.full()?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`qsize`](Self::qsize).
    pub fn full(&self) -> Result<bool> {
        Ok(self.ring.maxsize() > 0 && self.qsize()? >= self.ring.maxsize())
    }

    /// The most items the queue holds (0: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Queue::<u8>::with_maxsize(3)?.maxsize(), 3);
    /// assert_eq!(Queue::<u8>::new()?.maxsize(), 0);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.ring.maxsize()
    }

    /// Closes the queue for every process: further `put`s fail, and `get` returns an
    /// [`ErrorKind::Disconnected`](crate::ErrorKind) error once the items already in it
    /// are taken, so consumers can stop instead of waiting for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = Queue::<u8>::new()?;
    /// q.put(1)?;
    /// q.close()?;
    /// assert_eq!(q.get()?, 1);
    /// assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Disconnected);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`qsize`](Self::qsize).
    pub fn close(&self) -> Result<()> {
        self.ring.close()
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("maxsize", &self.ring.maxsize())
            .finish()
    }
}
