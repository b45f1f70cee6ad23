//! `current_process()`: the name and PID of the process running the code.

use std::sync::Mutex;

/// The name every program starts with, as in Python.
pub(crate) const MAIN_PROCESS_NAME: &str = "MainProcess";

/// The current process's name. `None` means "MainProcess"; a forked child sets its own
/// right after `fork` (see `set_current_name`), before it runs any user code.
static CURRENT_NAME: Mutex<Option<String>> = Mutex::new(None);

/// Who is running this code: the process's name and PID.
///
/// Returned by [`current_process`].
///
/// # Examples
///
/// ```
/// let me = paralelo::current_process();
/// println!("{} ({})", me.name(), me.pid());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    name: String,
    pid: u32,
}

impl ProcessInfo {
    /// The process name: `"MainProcess"` in the program itself, the child process's name
    /// (`"Process-1"`, or the one given) inside a forked child.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(paralelo::current_process().name(), "MainProcess");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating system's process ID.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(paralelo::current_process().pid(), std::process::id());
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// The process running this code, like Python's `multiprocessing.current_process()`.
///
/// Threads share their process, so every thread (and every worker of a thread [`Pool`])
/// sees the same name and PID; a forked child sees its own.
///
/// [`Pool`]: crate::Pool
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let me = current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id());
/// ```
pub fn current_process() -> ProcessInfo {
    let name = lock_name()
        .clone()
        .unwrap_or_else(|| MAIN_PROCESS_NAME.to_owned());
    ProcessInfo {
        name,
        pid: std::process::id(),
    }
}

/// Names the current process. Called in a forked child before user code runs.
#[allow(dead_code)] // used by the process backend
pub(crate) fn set_current_name(name: &str) {
    *lock_name() = Some(name.to_owned());
}

fn lock_name() -> std::sync::MutexGuard<'static, Option<String>> {
    // A panic while holding this lock cannot leave the Option half-written.
    CURRENT_NAME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
