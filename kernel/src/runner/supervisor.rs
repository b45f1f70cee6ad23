//! The engine on a thread of its own, so that the runner can bound every wait: the engine's
//! start (`--startup-timeout`) and each cell (`--timeout`).
//!
//! At a cell's limit the runner sends `SIGINT` to the evaluation process (the kernel's
//! interrupt: `paralelo` work stops between tasks), waits the grace period, then kills the
//! process (evcxr starts a new one; variables are lost). If even then the engine does not
//! answer (a compile that never ends, a pipe kept open by a forked child), it is given up:
//! the notebook stops, and the process running it exits, taking the engine's thread with it.

use std::process::Child;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineConfig};
use crate::output::{CellError, CellValue, Sink};

/// How long a killed cell's engine may take to restart its runtime and answer.
pub(crate) const RECOVERY: Duration = Duration::from_secs(60);

/// The evaluation process of the running cell, shared with the waiting thread.
type ChildSlot = Arc<Mutex<Option<Arc<Mutex<Child>>>>>;

struct Request {
    code: String,
    sink: Sink,
}

/// A finished cell: its result and the evaluation process's PIDs before and after.
struct Reply {
    result: Result<CellValue, CellError>,
    pids: Vec<u32>,
}

/// How a cell that reached its limit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// It stopped within the grace period after the interrupt (variables kept).
    Interrupted,
    /// It was killed; evcxr restarted the runtime (variables lost).
    Killed,
    /// The engine did not answer even after the kill: given up.
    Lost,
}

/// What running a cell gave.
pub(crate) struct Outcome {
    pub(crate) result: Result<CellValue, CellError>,
    /// Set when the cell reached its limit.
    pub(crate) stopped: Option<Stopped>,
    /// PIDs of the evaluation process during the cell.
    pub(crate) pids: Vec<u32>,
}

/// Why the engine did not start.
pub(crate) enum StartError {
    /// Not within the limit.
    Timeout(Duration),
    /// evcxr could not start.
    Failed(String),
}

/// An engine on its thread.
pub(crate) struct Supervisor {
    requests: mpsc::Sender<Request>,
    replies: mpsc::Receiver<Reply>,
    child: ChildSlot,
    /// Time the engine took to start.
    pub(crate) startup: Duration,
    /// Why paralelo could not be preloaded, if it could not (cells still run).
    pub(crate) preload_error: Option<String>,
    lost: bool,
}

fn pid_of(child: &ChildSlot) -> Option<u32> {
    let handle = child.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    let child = handle.try_lock().ok()?;
    Some(child.id())
}

impl Supervisor {
    /// Starts the engine, waiting at most `limit`.
    ///
    /// # Errors
    ///
    /// [`StartError`]: too slow (the thread is left behind; the caller's process exits
    /// soon after) or evcxr's own error.
    pub(crate) fn start(config: EngineConfig, limit: Duration) -> Result<Supervisor, StartError> {
        let (requests, request_rx) = mpsc::channel::<Request>();
        let (reply_tx, replies) = mpsc::channel::<Reply>();
        let (started_tx, started_rx) = mpsc::channel();
        let child: ChildSlot = Arc::new(Mutex::new(None));
        let shared = child.clone();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                let mut engine = match Engine::start(&config) {
                    Ok(engine) => engine,
                    Err(e) => {
                        let _ = started_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                *shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(engine.process_handle());
                let _ = started_tx.send(Ok((engine.startup, engine.preload_error.clone())));
                while let Ok(request) = request_rx.recv() {
                    let mut pids = Vec::new();
                    let handle = engine.process_handle();
                    pids.extend(handle.lock().ok().map(|c| c.id()));
                    *shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
                    let no_input = |_: &str, _: bool| String::new();
                    let result = crate::magics::run_cell(
                        &mut engine,
                        &request.code,
                        request.sink,
                        &no_input,
                    );
                    // A crash or a kill restarts the runtime: track the new process.
                    let handle = engine.process_handle();
                    pids.extend(handle.lock().ok().map(|c| c.id()));
                    pids.dedup();
                    *shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
                    if reply_tx.send(Reply { result, pids }).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StartError::Failed(format!("cannot start the engine's thread: {e}")))?;
        match started_rx.recv_timeout(limit) {
            Ok(Ok((startup, preload_error))) => Ok(Supervisor {
                requests,
                replies,
                child,
                startup,
                preload_error,
                lost: false,
            }),
            Ok(Err(message)) => Err(StartError::Failed(message)),
            Err(RecvTimeoutError::Timeout) => Err(StartError::Timeout(limit)),
            Err(RecvTimeoutError::Disconnected) => Err(StartError::Failed(
                "the engine's thread ended while starting (a panic: see above)".into(),
            )),
        }
    }

    /// Whether the engine was given up (no further cell can run).
    pub(crate) fn is_lost(&self) -> bool {
        self.lost
    }

    /// The evaluation process's PID now, if known.
    pub(crate) fn pid(&self) -> Option<u32> {
        pid_of(&self.child)
    }

    /// Sends `signal` to the evaluation process if it is alive and not yet reaped (so the
    /// PID cannot belong to another process).
    fn signal(&self, signal: libc::c_int) {
        let Some(handle) = self.child.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        // evcxr holds this lock only while reaping a process that already ended.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(mut child) = handle.try_lock() {
                if let Ok(None) = child.try_wait()
                    && let Ok(pid) = libc::pid_t::try_from(child.id())
                {
                    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our
                    // child, alive and unreaped while we hold its lock.
                    unsafe { libc::kill(pid, signal) };
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs one cell, interrupting it at `limit` and killing it `grace` later.
    pub(crate) fn execute(
        &mut self,
        code: &str,
        sink: Sink,
        limit: Duration,
        grace: Duration,
    ) -> Outcome {
        let lost = |message: &str| Outcome {
            result: Err(CellError::new("EngineLost", message)),
            stopped: Some(Stopped::Lost),
            pids: Vec::new(),
        };
        if self.lost {
            return lost("the engine was given up after an earlier cell");
        }
        let request = Request {
            code: code.to_owned(),
            sink,
        };
        if self.requests.send(request).is_err() {
            self.lost = true;
            return lost("the engine's thread is gone (a panic: see above)");
        }
        let done = |reply: Reply, stopped| Outcome {
            result: reply.result,
            stopped,
            pids: reply.pids,
        };
        let mut stopped = None;
        for (wait, next) in [
            (limit, Some((libc::SIGINT, Stopped::Interrupted))),
            (grace, Some((libc::SIGKILL, Stopped::Killed))),
            (RECOVERY, None),
        ] {
            match self.replies.recv_timeout(wait) {
                Ok(reply) => return done(reply, stopped),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            match next {
                Some((signal, then)) => {
                    self.signal(signal);
                    stopped = Some(then);
                }
                None => break,
            }
        }
        self.lost = true;
        lost(&format!(
            "the engine did not answer {} s after the Rust runtime was killed; it was given \
             up and the rest of the notebook was not run",
            RECOVERY.as_secs()
        ))
    }
}
