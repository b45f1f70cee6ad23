//! `Process`: run a closure in a forked child process.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::ExitOutcome;
use crate::sys::{self, ChildWatch, PerProcess};
use crate::{Error, ErrorKind, Result};

type Target = Box<dyn FnOnce() -> i32 + Send + 'static>;

/// Numbers the default names "Process-1", "Process-2", … as Python does.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Children whose `Process` was dropped while they still ran: reaped later so that they
/// do not stay zombies (Python's `multiprocessing` does the same on each `start`).
/// Per process: a child forked while a thread of the parent was dropping a `Process` or
/// starting one would otherwise find this lock held for ever (and the parent's children
/// are not its own to reap).
static ORPHANS: PerProcess<Mutex<Vec<ChildWatch>>> = PerProcess::new();

enum State {
    Ready(Target),
    Started(ChildWatch),
    /// Only while `start` moves the target out.
    Starting,
}

/// A closure running in a child process of its own, like Python's
/// `multiprocessing.Process(target=…)`.
///
/// The child is made with `fork`: it starts as a copy of this process, so the closure and
/// everything it captured are simply there (nothing is pickled, and closures defined in a
/// notebook cell work). The child has its own PID and its own memory: what it changes is
/// invisible to the parent, unless it goes through a [`Queue`](crate::Queue),
/// [`Pipe`](crate::Pipe), [`Value`](crate::Value), … When the closure returns, the child
/// exits with code 0; when it panics, with code 1 (the panic message goes to stderr).
///
/// Children never outlive their parent: each is killed (`SIGKILL`) if the parent dies.
/// Output printed by the child reaches the same place as the parent's, exactly once.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let p = Process::new(|| println!("新しいプロセスが実行されました"));
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), paralelo::Error>(())
/// ```
pub struct Process {
    name: String,
    state: Mutex<State>,
    /// The process that started the child (0 before `start`): only it can wait for it.
    parent: AtomicU32,
    /// The child's PID once started (0 before): read without the state lock.
    pid: AtomicU32,
}

impl Process {
    /// A process that will run `target`, named `"Process-N"` (N counts the processes
    /// created by this program, from 1).
    ///
    /// Nothing runs until [`start`](Self::start). The closure returns nothing, or a
    /// `Result<(), E>` with `E: Display` so that it can use `?`: an `Err` is exit code 1
    /// with the error on stderr, as an uncaught exception in Python ([`ExitOutcome`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let worker = |n: i32| println!("Worker {n} が実行されました");
    /// let p = Process::new(move || worker(5));
    /// assert!(p.name().starts_with("Process-"));
    /// p.start()?;
    /// p.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn new<R: ExitOutcome>(target: impl FnOnce() -> R + Send + 'static) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
        Process::named(format!("Process-{n}"), target)
    }

    /// A process with a name of your choice (Python's `Process(name=…)`), which
    /// [`current_process`](crate::current_process) returns inside the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::named("ワーカー1", || {
    ///     assert_eq!(current_process().name(), "ワーカー1");
    /// });
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0)); // the assertion held in the child
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn named<R: ExitOutcome>(
        name: impl Into<String>,
        target: impl FnOnce() -> R + Send + 'static,
    ) -> Self {
        let name = name.into();
        let shown = name.clone();
        Process {
            name,
            state: Mutex::new(State::Ready(Box::new(move || target().exit_code(&shown)))),
            parent: AtomicU32::new(0),
            pid: AtomicU32::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every state change is a single assignment: a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the child process (Python's `start()`).
    ///
    /// The closure runs in the child only. In the parent it is dropped right after the
    /// fork, together with what it captured: a [`Connection`](crate::Connection) moved into
    /// it is closed here, so that the parent sees end-of-file when the child ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| {});
    /// p.start()?;
    /// assert!(p.pid().is_some());
    /// p.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the process was already started (Python:
    /// `AssertionError: cannot start a process twice`); [`ErrorKind::Os`] when `fork` failed.
    pub fn start(&self) -> Result<()> {
        reap_orphans();
        let mut state = self.state();
        let target = match std::mem::replace(&mut *state, State::Starting) {
            State::Ready(target) => target,
            other => {
                *state = other;
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    format!(
                        "cannot start a process twice: {} was already started",
                        self.name
                    ),
                ));
            }
        };
        match sys::fork_run_detached(&self.name, target) {
            Ok(pid) => {
                *state = State::Started(ChildWatch::new(pid));
                self.pid.store(pid.as_raw() as u32, Ordering::Release);
                self.parent.store(sys::current_pid(), Ordering::Release);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// True in a process other than the one that started the child (a forked child that
    /// inherited this `Process`): it cannot wait for it, and a thread of the parent may
    /// have held the state lock at the fork.
    fn elsewhere(&self) -> bool {
        let parent = self.parent.load(Ordering::Acquire);
        parent != 0 && parent != sys::current_pid()
    }

    fn not_my_child(&self) -> Error {
        Error::new(
            ErrorKind::InvalidState,
            format!(
                "{} was started by process {}: only that process can wait for it, signal it \
                 or read its exit code (this is a forked copy of its Process)",
                self.name,
                self.parent.load(Ordering::Acquire)
            ),
        )
    }

    fn started(&self) -> Result<MutexGuard<'_, State>> {
        if self.elsewhere() {
            return Err(self.not_my_child());
        }
        let state = self.state();
        match &*state {
            State::Started(_) => Ok(state),
            _ => Err(Error::new(
                ErrorKind::InvalidState,
                format!("{} was never started: call start() first", self.name),
            )),
        }
    }

    fn with_child<R>(&self, f: impl FnOnce(&mut ChildWatch) -> Result<R>) -> Result<R> {
        let mut state = self.started()?;
        match &mut *state {
            State::Started(child) => f(child),
            _ => unreachable!("checked by started()"),
        }
    }

    /// Waits until the child ends (Python's `join()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| std::thread::sleep(std::time::Duration::from_millis(10)));
    /// p.start()?;
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the process was never started (Python:
    /// `AssertionError: can only join a started process`); [`ErrorKind::Interrupted`] when
    /// the wait was interrupted (the notebook's stop button, see [`crate::interrupt`]): the
    /// child is then stopped (`SIGTERM`, `SIGKILL` after 1 s), as Ctrl-C stops Python's.
    pub fn join(&self) -> Result<()> {
        let epoch = crate::interrupt::epoch();
        loop {
            if self.wait_unlocked(Duration::from_millis(50))? {
                return Ok(());
            }
            if crate::interrupt::happened_since(epoch) {
                // The stop button: children ignore SIGINT (they inherit the handler,
                // not its thread), so the parent stops the one it waits for.
                self.signal(libc::SIGTERM)?;
                if !self.wait_unlocked(Duration::from_secs(1))? {
                    self.signal(libc::SIGKILL)?;
                    self.wait_unlocked(Duration::from_secs(5))?;
                }
                return Err(crate::interrupt::error());
            }
        }
    }

    /// Waits at most `timeout` for the child to end. True when it has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let p = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
    /// p.start()?;
    /// assert!(!p.join_timeout(Duration::from_millis(10))?);
    /// p.terminate()?;
    /// assert!(p.join_timeout(Duration::from_secs(10))?);
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_unlocked(timeout)
    }

    /// Waits at most `timeout` for the child to end, holding the state lock only to reap
    /// (`waitpid(WNOHANG)`), never while waiting: another thread may `kill`, `terminate`,
    /// ask `is_alive` or `join` meanwhile (a watchdog). True once the child is reaped.
    fn wait_unlocked(&self, timeout: Duration) -> Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        let mut nap = Duration::from_micros(50);
        loop {
            let event = self.with_child(|child| match child.try_wait()? {
                Some(_) => Ok(None),
                None => Ok(Some(child.exit_event())),
            })?;
            let Some(event) = event else {
                return Ok(true);
            };
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let left = (deadline - now).min(Duration::from_millis(50));
            match event {
                Some(pidfd) => sys::wait_exit_event(&pidfd, left)?,
                None => {
                    std::thread::sleep(nap.min(left));
                    nap = (nap * 2).min(Duration::from_millis(5));
                }
            }
        }
    }

    /// True while the child runs: started and not ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| {});
    /// assert!(!p.is_alive());
    /// p.start()?;
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        if self.elsewhere() {
            return crate::sys::alive(self.pid.load(Ordering::Acquire));
        }
        self.with_child(|child| Ok(child.try_wait()?.is_none()))
            .unwrap_or(false)
    }

    /// Asks the child to stop with `SIGTERM` (Python's `terminate()`); its exit code becomes
    /// `-15`. Call [`join`](Self::join) afterwards to wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| loop { std::thread::sleep(std::time::Duration::from_millis(5)) });
    /// p.start()?;
    /// p.terminate()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the process was never started.
    pub fn terminate(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Kills the child with `SIGKILL`, which it cannot ignore (Python's `kill()`); its exit
    /// code becomes `-9`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| loop { std::thread::sleep(std::time::Duration::from_millis(5)) });
    /// p.start()?;
    /// p.kill()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-9));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidState`] when the process was never started.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    fn signal(&self, signal: i32) -> Result<()> {
        self.with_child(|child| {
            if child.try_wait()?.is_some() {
                return Ok(()); // already ended: nothing to stop (and the PID may be reused)
            }
            sys::kill(child.pid(), signal)
        })
    }

    /// The child's PID, once started (Python's `pid`, `None` before `start`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| {});
    /// assert_eq!(p.pid(), None);
    /// p.start()?;
    /// assert_ne!(p.pid(), Some(std::process::id()));
    /// p.join()?;
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// The process's name: `"Process-N"` or the one given to [`named`](Self::named).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(Process::named("ワーカー1", || {}).name(), "ワーカー1");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the child ended: `None` while it runs (or before `start`), its exit code once
    /// it has ended, or minus the signal number that killed it (`-9` for `SIGKILL`), as in
    /// Python.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let p = Process::new(|| std::process::exit(3));
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(3));
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        self.with_child(|child| Ok(child.try_wait()?.map(|status| status.0)))
            .ok()
            .flatten()
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.elsewhere() {
            return write!(
                f,
                "<Process name='{}' started pid={:?} by another process>",
                self.name,
                self.pid()
            );
        }
        let state = match &*self.state() {
            State::Ready(_) | State::Starting => "initial".to_owned(),
            State::Started(child) => match child.status() {
                None => format!("started pid={}", child.pid()),
                Some(status) => format!("stopped ({status})"),
            },
        };
        write!(f, "<Process name='{}' {state}>", self.name)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.elsewhere() {
            return; // not this process's child: nothing to reap here
        }
        let state = std::mem::replace(&mut *self.state(), State::Starting);
        if let State::Started(mut child) = state {
            if matches!(child.try_wait(), Ok(None)) {
                ORPHANS
                    .get()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(child);
            }
        }
    }
}

/// Reaps the children of dropped `Process`es that have ended since.
fn reap_orphans() {
    let mut orphans = ORPHANS.get().lock().unwrap_or_else(|p| p.into_inner());
    orphans.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
}
