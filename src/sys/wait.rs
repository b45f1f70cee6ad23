//! Waiting for a child: `waitpid`, and a pidfd to wait with a timeout.

use std::fmt;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::fork::{kill, signal_name};
use crate::{Error, Result};

/// How often a wait checks that what it waits on can still come: a child or a persistent
/// worker still alive, a queue's or a pipe's other holders still there. Every liveness
/// check of the crate uses this one interval.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// How long [`ChildWatch::kill_and_reap`] waits for a killed child to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// How a child ended: an exit code, or a signal (stored negative, like Python's `exitcode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExitStatus(pub(crate) i32);

impl ExitStatus {
    /// The signal that killed the process, if one did.
    pub(crate) fn signal(self) -> Option<i32> {
        (self.0 < 0).then_some(-self.0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.signal() {
            Some(sig) => write!(f, "killed by signal {sig} ({})", signal_name(sig)),
            None => write!(f, "exit code {}", self.0),
        }
    }
}

/// A child process to wait for. Reaps it exactly once and remembers how it ended.
#[derive(Debug)]
pub(crate) struct ChildWatch {
    pid: Pid,
    /// Readable when the child has ended: lets a wait have a timeout without polling.
    /// Shared so that a thread can wait on it without holding whatever guards the watch
    /// (another thread may reap the child and drop its own reference meanwhile).
    pidfd: Option<Arc<OwnedFd>>,
    status: Option<ExitStatus>,
}

impl ChildWatch {
    pub(crate) fn new(pid: Pid) -> Self {
        ChildWatch {
            pid,
            pidfd: pidfd_open(pid).map(Arc::new),
            status: None,
        }
    }

    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    /// How the child ended, if it has been reaped.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Reaps the child if it has ended, without blocking.
    pub(crate) fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.reap(Some(WaitPidFlag::WNOHANG))
    }

    /// Waits at most `timeout` for the child to end.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(50);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let left = deadline - now;
            match &self.pidfd {
                Some(fd) => wait_exit_event(fd, left)?,
                None => {
                    std::thread::sleep(nap.min(left));
                    nap = (nap * 2).min(Duration::from_millis(5));
                }
            }
        }
    }

    /// Kills the child (`SIGKILL`, unless it was reaped already: its PID may be another
    /// process's by now) and reaps it, waiting a few seconds at most.
    pub(crate) fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.status {
            return Some(status);
        }
        let _ = kill(self.pid, libc::SIGKILL);
        self.wait_timeout(REAP_WAIT).ok().flatten()
    }

    /// Gives the child `grace` to end on its own, then [`kill_and_reap`](Self::kill_and_reap)s it.
    pub(crate) fn reap_or_kill(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.wait_timeout(grace) {
            return Some(status);
        }
        self.kill_and_reap()
    }

    /// A handle to wait on without holding this watch ([`wait_exit_event`]): `None` once
    /// the child is reaped, or when the system has no pidfds (then nap and `try_wait`).
    pub(crate) fn exit_event(&self) -> Option<Arc<OwnedFd>> {
        self.pidfd.clone()
    }

    fn reap(&mut self, flags: Option<WaitPidFlag>) -> Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = match waitpid(self.pid, flags) {
            Ok(WaitStatus::Exited(_, code)) => ExitStatus(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => ExitStatus(-(signal as i32)),
            Ok(_) | Err(Errno::EINTR) => return Ok(None),
            Err(Errno::ECHILD) => {
                return Err(Error::new(
                    crate::ErrorKind::Os,
                    format!(
                        "waitpid({}) failed: the child was already reaped by someone else, so \
                         its exit code is lost (is SIGCHLD set to be ignored in this process?)",
                        self.pid
                    ),
                ));
            }
            Err(errno) => return Err(Error::os("waitpid", errno)),
        };
        self.status = Some(status);
        self.pidfd = None;
        Ok(Some(status))
    }
}

/// Waits at most `timeout` for the child behind `pidfd` to end (it may still need reaping).
pub(crate) fn wait_exit_event(pidfd: &OwnedFd, timeout: Duration) -> Result<()> {
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(errno) => Err(Error::os("poll(pidfd)", errno)),
    }
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a descriptor just returned to us and owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// True while `pid` runs (a zombie has ended: it only waits to be reaped), from
/// `/proc/PID/stat`: works for any process, not only our children.
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next(),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}
