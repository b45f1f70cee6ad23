//! `current_process()`: the name and PID of the process running the code.

use crate::sys::Leaked;

/// The name every program starts with, as in Python.
pub(crate) const MAIN_PROCESS_NAME: &str = "MainProcess";

/// The current process's name; empty means "MainProcess". A forked child sets its own right
/// after `fork` (see `set_current_name`), before it runs any user code. An atomic pointer,
/// not a mutex: a mutex copied by `fork` while another thread held it would stay locked
/// forever in the child.
static CURRENT_NAME: Leaked<String> = Leaked::new();

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
    let name = current_name().unwrap_or(MAIN_PROCESS_NAME).to_owned();
    ProcessInfo {
        name,
        pid: std::process::id(),
    }
}

/// Names the current process. Called in a forked child before user code runs.
pub(crate) fn set_current_name(name: &str) {
    // The previous name (one per fork, a few bytes) is leaked: a reader on another thread
    // may still hold it, and names are never freed.
    CURRENT_NAME.set(name.to_owned());
}

fn current_name() -> Option<&'static str> {
    CURRENT_NAME.get().map(String::as_str)
}
