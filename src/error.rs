//! The crate's one error type: a kind to match on and a message a learner can act on.

use std::any::Any;
use std::fmt;

/// What went wrong, for code that wants to react to it.
///
/// The message of the [`Error`] says the same thing in words, with the details.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let err = Pool::new(0).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is out of range: zero workers, a chunk size of zero, a core that does not exist.
    InvalidArgument,
    /// The call does not fit the object's state, e.g. `join()` on a pool that was not closed.
    InvalidState,
    /// Work was submitted to a pool after `close()`.
    PoolClosed,
    /// Work was submitted to a pool after `terminate()`.
    PoolTerminated,
    /// A task never ran: its pool was terminated or dropped first.
    Cancelled,
    /// A task panicked; the message carries the panic's message.
    TaskPanicked,
    /// A worker process died (exit code or signal) while it held the task.
    WorkerDied,
    /// A wait ran out of time. Nothing was lost: the operation can be retried.
    Timeout,
    /// A result was asked for before it was ready.
    NotReady,
    /// A result was already taken by an earlier `get`.
    AlreadyTaken,
    /// The other end of a queue, pipe or manager is gone.
    Disconnected,
    /// A value could not be encoded or decoded to cross a process boundary.
    Serialization,
    /// The work was interrupted (for example by the notebook's stop button).
    Interrupted,
    /// The operating system refused (the message names the call and the errno).
    Os,
}

/// The error returned by every fallible call of `paralelo`.
///
/// It has a [`kind`](Error::kind) to match on and a message (its `Display`) that says what
/// happened and, where it helps, what to do.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pool = Pool::new(2)?;
/// let err = pool.apply(|| -> i32 { panic!("división por cero") }).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TaskPanicked);
/// assert!(err.to_string().contains("división por cero"));
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// Shared, so that an error can be cloned (an `AsyncResult`'s `get` may be repeated).
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result<T, paralelo::Error>`.
///
/// # Examples
///
/// ```
/// fn half(x: u32) -> paralelo::Result<u32> {
///     Ok(x / 2)
/// }
/// assert_eq!(half(8).unwrap(), 4);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A copy with the same kind, message and source.
    pub(crate) fn duplicate(&self) -> Error {
        self.clone()
    }

    /// An error of `kind` with a message.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::{Error, ErrorKind};
    ///
    /// let e = Error::new(ErrorKind::Timeout, "nothing arrived in 1 s");
    /// assert_eq!(e.to_string(), "nothing arrived in 1 s");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, keeping `source` as its cause.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// What kind of failure this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::{Error, ErrorKind};
    ///
    /// assert_eq!(Error::new(ErrorKind::Timeout, "late").kind(), ErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message alone (the same text as `Display`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::{Error, ErrorKind};
    ///
    /// assert_eq!(Error::new(ErrorKind::Timeout, "late").message(), "late");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True for a [`ErrorKind::Timeout`]: the wait can be retried, nothing was lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::{Error, ErrorKind};
    ///
    /// assert!(Error::new(ErrorKind::Timeout, "late").is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// Turns a caught panic payload into a [`ErrorKind::TaskPanicked`] error.
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        if payload.is::<crate::interrupt::Interrupted>() {
            return crate::interrupt::error();
        }
        Error::new(
            ErrorKind::TaskPanicked,
            format!("task panicked: {}", panic_message(&*payload)),
        )
    }

    /// An [`ErrorKind::Os`] error for a failed system call.
    #[allow(dead_code)] // used by the process backend
    pub(crate) fn os(call: &str, errno: nix::errno::Errno) -> Self {
        Error::new(ErrorKind::Os, format!("{call} failed: {}", errno.desc())).with_source(errno)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }
}

/// The text of a panic payload: the `&str` or `String` passed to `panic!`, or a note that
/// it was something else.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload (panic_any with a value that is not a &str or String)"
            .to_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `?` in a notebook cell or `main` prints Debug: keep it as readable as Display.
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset => ErrorKind::Disconnected,
            _ => ErrorKind::Os,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(e: nix::errno::Errno) -> Self {
        Error::new(ErrorKind::Os, e.desc()).with_source(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::new(
            ErrorKind::Serialization,
            format!("serialization failed: {e}"),
        )
        .with_source(e)
    }
}
