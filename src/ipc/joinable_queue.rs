//! `JoinableQueue<T>`: a [`Queue`] that counts unfinished items.

use super::IntoMessage;
use std::ops::Deref;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Queue;
use crate::Result;

/// A [`Queue`] whose consumers mark each item done, so a producer can wait until every
/// item has been processed, like Python's `multiprocessing.JoinableQueue`.
///
/// Every [`put`](Queue::put) adds one unfinished item; [`task_done`](Self::task_done)
/// removes one; [`join`](Self::join) waits until none is left. All `Queue` methods are
/// available through `Deref`.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let q = JoinableQueue::<String>::new()?;
/// let worker = q.clone();
/// let consumer = Process::new(move || {
///     while let Ok(tarea) = worker.get() {
///         println!("Procesando {tarea}");
///         worker.task_done().unwrap();
///     }
/// });
/// consumer.start()?;
/// for t in ["tarea1", "tarea2", "tarea3"] {
///     q.put(t.to_string())?;
/// }
/// q.join()?; // every item was processed
/// q.close()?; // the consumer's get() now fails: it stops
/// consumer.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded joinable queue (Python's `JoinableQueue()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = JoinableQueue::<String>::new()?;
    /// q.put("tarea1".to_string())?;
    /// assert_eq!(q.get()?, "tarea1");
    /// q.task_done()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) when shared memory could not be mapped.
    pub fn new() -> Result<Self> {
        Ok(JoinableQueue {
            queue: Queue::new()?,
        })
    }

    /// A joinable queue of at most `maxsize` items (0: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = JoinableQueue::<u8>::with_maxsize(2)?;
    /// assert_eq!(q.maxsize(), 2);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_maxsize(maxsize: usize) -> Result<Self> {
        Ok(JoinableQueue {
            queue: Queue::with_maxsize(maxsize)?,
        })
    }

    /// Puts an item, counting it as unfinished until a `task_done` (same as
    /// [`Queue::put`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = JoinableQueue::<u8>::new()?;
    /// q.put(7)?;
    /// assert!(!q.join_timeout(std::time::Duration::ZERO)?); // one item not done yet
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Queue::put`].
    pub fn put(&self, item: impl IntoMessage<T>) -> Result<()> {
        self.queue.put(item)
    }

    /// Marks one item taken with `get` as processed (Python's `task_done`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = JoinableQueue::<u8>::new()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join()?;
    /// assert_eq!(q.task_done().unwrap_err().kind(), ErrorKind::InvalidState);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`](crate::ErrorKind) when called more times than items were
    /// put (Python raises `ValueError`).
    pub fn task_done(&self) -> Result<()> {
        self.queue.ring.task_done()
    }

    /// Waits until every item put has been marked done (Python's `join`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let q = JoinableQueue::<u8>::new()?;
    /// let worker = q.clone();
    /// let consumer = Process::new(move || {
    ///     while let Ok(_item) = worker.get() {
    ///         worker.task_done().unwrap();
    ///     }
    /// });
    /// consumer.start()?;
    /// for i in 0..3 {
    ///     q.put(i)?;
    /// }
    /// q.join()?;
    /// q.close()?;
    /// consumer.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Os`](crate::ErrorKind) if the shared lock fails.
    ///
    /// [`ErrorKind::Interrupted`](crate::ErrorKind) when interrupted (the notebook's stop
    /// button, see [`crate::interrupt`]).
    pub fn join(&self) -> Result<()> {
        self.queue.ring.join(None).map(drop)
    }

    /// Like [`join`](Self::join), waiting at most `timeout`. True when every item was done.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let q = JoinableQueue::<u8>::new()?;
    /// q.put(1)?;
    /// assert!(!q.join_timeout(Duration::from_millis(5))?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.queue.ring.join(Some(Instant::now() + timeout))
    }
}

impl<T> std::fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("maxsize", &self.queue.ring.maxsize())
            .finish()
    }
}
