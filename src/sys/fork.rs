//! `fork` and signals.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid, getppid};

use crate::{Error, ErrorKind, Result};

/// Forks a child process that runs `task` and leaves with `_exit(code)`, `code` being what
/// `task` returned (1 when it panicked, like an uncaught Python exception).
///
/// Before the fork, stdout and stderr are flushed so that nothing is printed twice. In the
/// child, before `task`: the process is marked as a forked child (a fresh rayon pool for
/// `par_map`), named `name` for `current_process()`, and set to be killed if its parent
/// dies. The child never returns from this function. Returns the child's PID in the parent.
pub(crate) fn fork_run(name: &str, task: impl FnOnce() -> i32) -> Result<Pid> {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let parent = std::process::id();
    // SAFETY: the child only runs code that is sound after a fork from a multi-threaded
    // process: it resets the crate's per-process state, runs the task (user code that was
    // written to run in this child) and leaves with `_exit`, without returning into the
    // caller or running the parent's destructors. glibc's malloc is fork-safe.
    match unsafe { nix::unistd::fork() } {
        Err(errno) => Err(Error::os("fork", errno)),
        Ok(ForkResult::Parent { child }) => Ok(child),
        Ok(ForkResult::Child) => child_main(parent, name, task),
    }
}

fn child_main(parent: u32, name: &str, task: impl FnOnce() -> i32) -> ! {
    crate::runtime::after_fork_in_child();
    crate::process::set_current_name(name);
    // SAFETY: prctl(PR_SET_PDEATHSIG, signal) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    }
    // The parent may have died between fork and prctl: then nobody would ever kill us.
    if getppid().as_raw() as u32 != parent {
        exit_now(1);
    }
    let code = catch_unwind(AssertUnwindSafe(task)).unwrap_or(1);
    exit_now(code)
}

/// Flushes stdout and stderr and ends this process at once with `code`, running no
/// destructors and no `atexit` handlers (they belong to the parent's program).
pub(crate) fn exit_now(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process; it is always safe to call.
    unsafe { libc::_exit(code) }
}

/// Sends `signal` to process `pid`. A process that is already gone is not an error.
pub(crate) fn kill(pid: Pid, signal: i32) -> Result<()> {
    let signal = Signal::try_from(signal)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("no signal {signal}")))?;
    match nix::sys::signal::kill(pid, signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(errno) => Err(Error::os("kill", errno)),
    }
}

/// "SIGKILL" for 9, and so on; "signal N" for numbers without a name.
pub(crate) fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(s) => s.as_str().to_owned(),
        Err(_) => format!("signal {signal}"),
    }
}
