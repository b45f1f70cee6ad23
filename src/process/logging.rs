//! Process-aware logging through the `log` facade.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

use crate::{Error, ErrorKind, Result};

/// Writes `[LEVEL/process name] message` lines to stderr.
struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "[{}/{}] {}\n",
            record.level(),
            crate::current_process().name(),
            record.args()
        );
        // One write per line, so lines of different processes do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Sends the [`log`] crate's records at `level` or above to stderr, each line naming the
/// process that logged it, like Python's `multiprocessing.log_to_stderr(level)`:
/// `[INFO/ワーカー1] プロセス ワーカー1 が開始されました`.
///
/// Call it once, in the parent, before starting processes: forked children inherit it.
/// The `log` macros are re-exported as [`paralelo::log`](crate::log).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let _ = log_to_stderr(paralelo::log::LevelFilter::Info); // Err if a logger is already set
/// let p = Process::named("ワーカー1", || {
///     paralelo::log::info!("プロセス {} が開始されました", current_process().name());
/// });
/// p.start()?;
/// p.join()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidState`] when a logger was already installed in this process.
pub fn log_to_stderr(level: LevelFilter) -> Result<()> {
    log::set_boxed_logger(Box::new(StderrLogger { level })).map_err(|_| {
        Error::new(
            ErrorKind::InvalidState,
            "a logger is already installed in this process",
        )
    })?;
    log::set_max_level(level);
    Ok(())
}
