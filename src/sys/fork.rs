//! `fork` and signals.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, mpsc};

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
    // Held across the fork, so that no other thread of this process is inside a `print!`
    // at that instant: the child would inherit the lock held by a thread it does not
    // have, and its first `print!` (or any of its threads') would wait for ever.
    // Flushed first: otherwise text buffered here is printed twice, once by each process.
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let _ = out.flush();
    let _ = err.flush();
    fork_locked(name, task, out, err)
}

fn fork_locked(
    name: &str,
    task: impl FnOnce() -> i32,
    out: std::io::StdoutLock<'_>,
    err: std::io::StderrLock<'_>,
) -> Result<Pid> {
    let parent = std::process::id();
    // Queues count the child as a holder (see `ipc::holders`); this also keeps their
    // registry's lock in this thread across the fork.
    let holders = crate::ipc::holders::prepare_fork();
    // SAFETY: the child only runs code that is sound after a fork from a multi-threaded
    // process: it resets the crate's per-process state, runs the task (user code that was
    // written to run in this child) and leaves with `_exit`, without returning into the
    // caller or running the parent's destructors. glibc's malloc is fork-safe.
    match unsafe { nix::unistd::fork() } {
        Err(errno) => {
            holders.parent().finish();
            drop((out, err));
            Err(Error::os("fork", errno))
        }
        Ok(ForkResult::Parent { child }) => {
            let done = holders.parent();
            drop((out, err));
            // The parent's copy of the task: what it moved in is the child's now (a
            // `Pipe` end or a `Queue` handle dropped here passes to the child).
            crate::ipc::end_holders::handing_over_to(child.as_raw() as u32, || drop(task));
            done.finish();
            Ok(child)
        }
        Ok(ForkResult::Child) => {
            super::forget_pid();
            holders.child();
            // This thread is the copy of the one that held them: it may release them.
            drop((out, err));
            child_main(parent, name, task)
        }
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

/// A fork request for the forker thread.
struct Request {
    name: String,
    task: Box<dyn FnOnce() -> i32 + Send>,
    reply: mpsc::SyncSender<Result<Pid>>,
}

/// The forker thread of one process (a forked child needs its own).
struct Forker {
    pid: u32,
    requests: Mutex<mpsc::Sender<Request>>,
}

/// This process's forker thread, created on first use, never freed.
static FORKER: AtomicPtr<Forker> = AtomicPtr::new(std::ptr::null_mut());

/// Like [`fork_run`], but the child outlives the calling thread.
///
/// `PR_SET_PDEATHSIG` kills a child when the *thread* that forked it ends, not the process.
/// From the main thread (which lives as long as the process) this forks directly; from any
/// other thread it asks a long-lived forker thread to fork, so that a `Process` started
/// from a short-lived thread is not killed when that thread returns.
pub(crate) fn fork_run_detached(
    name: &str,
    task: Box<dyn FnOnce() -> i32 + Send + 'static>,
) -> Result<Pid> {
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    if tid as u32 == std::process::id() {
        return fork_run(name, task);
    }
    let (reply, answer) = mpsc::sync_channel(1);
    let request = Request {
        name: name.to_owned(),
        task,
        reply,
    };
    forker()?
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(request)
        .map_err(|_| Error::new(ErrorKind::Os, "the forker thread is gone"))?;
    answer
        .recv()
        .map_err(|_| Error::new(ErrorKind::Os, "the forker thread is gone"))?
}

fn forker() -> Result<&'static Forker> {
    let me = std::process::id();
    let current = FORKER.load(Ordering::Acquire);
    // SAFETY: non-null values stored in FORKER come from Box::leak and are never freed.
    if let Some(f) = unsafe { current.as_ref() } {
        if f.pid == me {
            return Ok(f);
        }
    }
    let (tx, rx) = mpsc::channel::<Request>();
    std::thread::Builder::new()
        .name("paralelo-forker".into())
        .spawn(move || {
            for request in rx {
                let _ = request.reply.send(fork_run(&request.name, request.task));
            }
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Os,
                format!("could not start the forker thread: {e}"),
            )
        })?;
    let fresh: *mut Forker = Box::leak(Box::new(Forker {
        pid: me,
        requests: Mutex::new(tx),
    }));
    match FORKER.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` was just leaked and is never freed.
        Ok(_) => Ok(unsafe { &*fresh }),
        // Another thread installed one first: use it (ours stays leaked, its thread idle).
        // SAFETY: as above, stored values are leaked and never freed.
        Err(winner) => Ok(unsafe { &*winner }),
    }
}

/// Gives the allocator's free memory back to the system (glibc's `malloc_trim`). Call it
/// before forking children that run while this process allocates: a free page still
/// mapped here is shared copy-on-write with them, and the first write to it on either
/// side copies it, where a page given back costs only a zero-filled page on next use.
/// With a 2-worker map of 1,000 big factorials, this cut the owner's CPU time by ~18%.
pub(crate) fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes the allocator's own locks and only gives free pages back;
    // no allocation is moved or freed.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Flushes stdout and stderr and ends this process at once with `code`, running no
/// destructors and no `atexit` handlers (they belong to the parent's program).
pub(crate) fn exit_now(code: i32) -> ! {
    flush_output();
    // SAFETY: `_exit` ends the process; it is always safe to call.
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor above stderr that this process inherited. For a long-lived
/// forked worker: a copy of a socket's end kept open here would delay the end of file its
/// peer waits for (a `Pipe`'s dead writer) for as long as the worker lives.
pub(crate) fn close_inherited_fds() {
    // SAFETY: close_range only closes descriptors; it is called in a freshly forked
    // single-threaded child that holds no `OwnedFd` it will use or drop afterwards.
    let done = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0;
    if done {
        return;
    }
    // Kernels before 5.9: close what /proc lists.
    for fd in open_fds() {
        // SAFETY: as above; the directory's own descriptor is already closed, and closing
        // a number that is not open only fails with EBADF.
        unsafe {
            libc::close(fd);
        }
    }
}

/// The descriptors above stderr that /proc lists as open (for kernels before 5.9).
fn open_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd > 2)
                .collect()
        })
        .unwrap_or_default()
}

/// Flushes stdout and stderr, ignoring errors (a closed terminal is not the task's fault).
pub(crate) fn flush_output() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
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
