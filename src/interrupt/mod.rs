//! Interrupting long parallel work: the notebook's stop button, Ctrl-C.
//!
//! An interrupt is a request, counted in an epoch number. Every `par_map`, `Pool::map`,
//! `imap` and queued pool task notes the epoch when it starts and checks it between items:
//! once the epoch has moved, the items not yet started are skipped and the call returns an
//! [`ErrorKind::Interrupted`](crate::ErrorKind) error. Work started after the interrupt runs
//! normally, so nothing needs to be reset. An item already running finishes first: Rust
//! cannot stop a thread from outside, so a single item that never ends cannot be
//! interrupted this way.
//!
//! The kernel calls [`on_sigint`] in its runtime process and sends it `SIGINT` when the
//! user presses stop; a program can do the same, or call [`interrupt`] from another thread.

use std::panic::resume_unwind;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, ErrorKind, Result};

mod checked;

pub(crate) use checked::Checked;

static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Asks every parallel operation running now to stop between items.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
///
/// static STARTED: AtomicBool = AtomicBool::new(false);
/// let slow = |x: u64| {
///     STARTED.store(true, Ordering::SeqCst);
///     std::thread::sleep(Duration::from_millis(1));
///     x
/// };
/// let stopper = std::thread::spawn(|| {
///     while !STARTED.load(Ordering::SeqCst) {
///         std::thread::yield_now();
///     }
///     paralelo::interrupt::interrupt(); // what the stop button does
/// });
/// let err = par_map(slow, 0..1_000_000u64).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Interrupted);
/// stopper.join().unwrap();
/// // Work started after the interrupt runs normally.
/// assert_eq!(par_map(slow, 0..3u64)?, [0, 1, 2]);
/// # Ok::<(), paralelo::Error>(())
/// ```
pub fn interrupt() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// How many interrupts have been requested so far.
///
/// # Examples
///
/// ```
/// let before = paralelo::interrupt::epoch();
/// paralelo::interrupt::interrupt();
/// assert!(paralelo::interrupt::epoch() > before);
/// ```
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}

/// Makes `SIGINT` (Ctrl-C, the notebook's stop button) an [`interrupt`] instead of the end of
/// the process. Idempotent.
///
/// A watcher thread turns each signal into an interrupt. Forked children inherit the
/// handler but not the thread: in them `SIGINT` does nothing, and their parent is the one
/// that stops them.
///
/// # Examples
///
/// ```
/// paralelo::interrupt::on_sigint()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::Os`] when the handler or its thread could not be installed.
pub fn on_sigint() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
                .map_err(|e| e.to_string())?;
            std::thread::Builder::new()
                .name("paralelo-sigint".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        interrupt();
                    }
                })
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::new(ErrorKind::Os, format!("could not handle SIGINT: {e}")))
}

/// The panic payload that carries an interrupt through rayon to [`crate::par::catch_panic`].
pub(crate) struct Interrupted;

/// Stops the current work when an interrupt came after `started`.
///
/// Unwinds with [`Interrupted`] (no panic message is printed); the payload reaches the
/// caller's `catch_panic`, which turns it into an error.
#[inline]
pub(crate) fn check(started: u64) {
    if happened_since(started) {
        stop();
    }
}

#[cold]
#[inline(never)]
fn stop() -> ! {
    resume_unwind(Box::new(Interrupted))
}

/// True when an interrupt came after `started`.
#[inline]
pub(crate) fn happened_since(started: u64) -> bool {
    EPOCH.load(Ordering::Relaxed) != started
}

/// The error of work stopped by an interrupt.
pub(crate) fn error() -> Error {
    Error::new(
        ErrorKind::Interrupted,
        "interrupted (stop button or Ctrl-C): the items not yet started were skipped",
    )
}
