//! The engine's thread: starts evcxr in the background and runs jobs one at a time.
//!
//! Jobs queue while the engine starts, so the kernel answers `kernel_info` at once and the
//! first cell simply waits for the preload. An interrupt during a cell's compile stops the
//! build (nothing ran, the session is kept); while the cell runs it is `SIGINT` to the
//! evaluation child, and then, if the cell goes on, a kill: evcxr restarts the child (the
//! cell's error says so).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::engine::{Engine, EngineConfig};
use crate::output::{CellError, CellValue, Output, Sink};

/// Reads a line for a running cell: (prompt, password) → line.
pub(crate) type InputFn = Arc<dyn Fn(&str, bool) -> String + Send + Sync>;

/// Work for the engine thread.
pub(crate) enum Job {
    Execute {
        code: String,
        /// The input number in the history, `None` to leave it out (`store_history: false`).
        history_number: Option<u64>,
        sink: Sink,
        input: Option<InputFn>,
        reply: oneshot::Sender<Result<CellValue, CellError>>,
    },
    Complete {
        code: String,
        pos: usize,
        reply: oneshot::Sender<(Vec<String>, usize, usize)>,
    },
    Inspect {
        code: String,
        pos: usize,
        reply: oneshot::Sender<Option<(String, String)>>,
    },
    /// A `history_request`'s content → the `history_reply` content.
    History {
        request: serde_json::Value,
        reply: oneshot::Sender<serde_json::Value>,
    },
}

struct State {
    child: Mutex<Option<Arc<Mutex<std::process::Child>>>>,
    /// The engine's running shell command (its process group), if any.
    foreground: Mutex<Option<Arc<Mutex<crate::engine::Foreground>>>>,
    executing: AtomicBool,
    interrupted: AtomicBool,
    /// The running cell's build was stopped by an interrupt.
    build_stopped: AtomicBool,
    /// Counts executed cells, so a late watchdog never kills a later cell.
    cells: AtomicU64,
}

/// How long a cell may take to stop after `SIGINT` before its runtime is restarted.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// A handle on the engine thread.
pub(crate) struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    state: Arc<State>,
    ready: tokio::sync::watch::Receiver<bool>,
}

impl Worker {
    /// Starts the engine thread; the engine itself starts on that thread.
    pub(crate) fn spawn(config: EngineConfig) -> Worker {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let state = Arc::new(State {
            child: Mutex::new(None),
            foreground: Mutex::new(None),
            executing: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            build_stopped: AtomicBool::new(false),
            cells: AtomicU64::new(0),
        });
        let (ready_tx, ready) = tokio::sync::watch::channel(false);
        let shared = state.clone();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || engine_thread(config, rx, shared, ready_tx))
            .expect("spawning the engine thread");
        Worker { jobs, state, ready }
    }

    /// Waits until the engine has started (or failed to), at most `limit`.
    pub(crate) async fn wait_ready(&self, limit: Duration) {
        let mut ready = self.ready.clone();
        let _ = tokio::time::timeout(limit, ready.wait_for(|r| *r)).await;
    }

    /// Queues a job.
    pub(crate) fn submit(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            eprintln!("paralelo-kernel: the engine thread is gone");
        }
    }

    /// Stops the running cell (no effect when idle).
    ///
    /// A cell still compiling has its build killed (see [`crate::compile_processes`]): it
    /// ends as `KeyboardInterrupt` and the runtime keeps the session. A running cell, first
    /// cooperatively: `SIGINT` to the evaluation child, where `paralelo` turns it into
    /// an interrupt that stops `par_map`/`Pool` work between tasks and the session's
    /// variables survive. If the cell is still running after [`INTERRUPT_GRACE`], the child
    /// is killed and evcxr restarts it (variables are lost; the cell's error says so).
    pub(crate) fn interrupt(&self) {
        if !self.state.executing.load(Ordering::SeqCst) {
            return;
        }
        let cell = self.state.cells.load(Ordering::SeqCst);
        let shell = self
            .state
            .foreground
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|f| {
                let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                f.interrupted |= f.group.is_some();
                f.group
            });
        if let Some(group) = shell {
            // SAFETY: kill(2) on a process group we started; no memory is involved.
            unsafe { libc::kill(-group, libc::SIGINT) };
            return;
        }
        let child = self
            .state
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let runtime = child
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).id());
        if stop_build(&self.state, cell, runtime) {
            return;
        }
        if let Some(pid) = runtime.and_then(|pid| libc::pid_t::try_from(pid).ok()) {
            // SAFETY: kill(2) with a valid signal number has no memory-safety
            // preconditions; the pid is our own child, which we have not reaped.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let state = self.state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(INTERRUPT_GRACE);
            let same_cell = state.cells.load(Ordering::SeqCst) == cell;
            if same_cell && state.executing.load(Ordering::SeqCst) {
                // The cell was still being analysed at the interrupt and compiles now.
                if stop_build(&state, cell, runtime) {
                    return;
                }
                state.interrupted.store(true, Ordering::SeqCst);
                if let Some(child) = child {
                    let _ = child.lock().unwrap_or_else(|e| e.into_inner()).kill();
                }
            }
        });
    }

    /// Whether the running cell was interrupted.
    pub(crate) fn interrupted(&self) -> bool {
        self.state.interrupted.load(Ordering::SeqCst)
    }

    /// Kills the evaluation child process, if there is one.
    pub(crate) fn kill_child(&self) {
        let child = self
            .state
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(child) = child {
            let mut child = child.lock().unwrap_or_else(|e| e.into_inner());
            let _ = child.kill();
        }
    }
}

/// Stops cell `cell`'s build if one is running, and says whether it did. Every build the
/// same cell starts afterwards is stopped too (evcxr retries a failed compile in some cases:
/// a killed type probe falls back to rust-analyzer and compiles again), until the cell ends,
/// which it does with an error.
fn stop_build(state: &Arc<State>, cell: u64, runtime: Option<u32>) -> bool {
    let Some(runtime) = runtime else {
        return false;
    };
    if !crate::compile_processes::stop_build(runtime) {
        return false;
    }
    state.build_stopped.store(true, Ordering::SeqCst);
    let state = state.clone();
    std::thread::spawn(move || {
        while state.cells.load(Ordering::SeqCst) == cell && state.executing.load(Ordering::SeqCst) {
            crate::compile_processes::stop_build(runtime);
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    true
}

fn engine_thread(
    config: EngineConfig,
    jobs: std::sync::mpsc::Receiver<Job>,
    state: Arc<State>,
    ready: tokio::sync::watch::Sender<bool>,
) {
    let mut engine = match Engine::start(&config) {
        Ok(engine) => {
            eprintln!(
                "paralelo-kernel: engine ready in {:.2} s",
                engine.startup.as_secs_f64()
            );
            Ok(engine)
        }
        Err(e) => {
            eprintln!("paralelo-kernel: {e:#}");
            Err(format!("{e:#}"))
        }
    };
    if let Ok(engine) = &engine {
        *state.foreground.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(engine.foreground.clone());
    }
    let _ = ready.send(true);
    let mut preload_warning = engine.as_ref().ok().and_then(|e| e.preload_error.clone());
    while let Ok(job) = jobs.recv() {
        let engine = match &mut engine {
            Ok(engine) => engine,
            Err(message) => {
                fail(job, message);
                continue;
            }
        };
        *state.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(engine.process_handle());
        match job {
            Job::Execute {
                code,
                history_number,
                sink,
                input,
                reply,
            } => {
                engine.next_input = history_number;
                if let Some(warning) = preload_warning.take() {
                    sink(Output::Stderr(format!("warning: {warning}\n")));
                }
                state.interrupted.store(false, Ordering::SeqCst);
                state.build_stopped.store(false, Ordering::SeqCst);
                state.cells.fetch_add(1, Ordering::SeqCst);
                state.executing.store(true, Ordering::SeqCst);
                let no_input = |_: &str, _: bool| String::new();
                let result = match &input {
                    Some(read) => {
                        let read = read.clone();
                        crate::magics::run_cell(engine, &code, sink, &move |p, pw| read(p, pw))
                    }
                    None => crate::magics::run_cell(engine, &code, sink, &no_input),
                };
                state.executing.store(false, Ordering::SeqCst);
                let build_stopped = state.build_stopped.swap(false, Ordering::SeqCst);
                let result = match result {
                    Err(_) if build_stopped => Err(CellError::new(
                        "KeyboardInterrupt",
                        "the cell was interrupted while it compiled: none of it ran, and the \
                         session's variables are kept",
                    )),
                    Err(e) if state.interrupted.swap(false, Ordering::SeqCst) => {
                        Err(CellError::new(
                            "Interrupted",
                            format!(
                                "the cell was interrupted: the Rust runtime was restarted, so \
                                 variables were lost; paralelo and `use` items are still loaded \
                                 ({})",
                                e.evalue.lines().last().unwrap_or("")
                            ),
                        ))
                    }
                    other => other,
                };
                *state.child.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(engine.process_handle());
                let _ = reply.send(result);
            }
            Job::Complete { code, pos, reply } => {
                let _ = reply.send(engine.complete(&code, pos));
            }
            Job::Inspect { code, pos, reply } => {
                let _ = reply.send(engine.inspect(&code, pos));
            }
            Job::History { request, reply } => {
                let _ = reply.send(engine.history.reply(&request));
            }
        }
    }
}

fn fail(job: Job, message: &str) {
    match job {
        Job::Execute { reply, .. } => {
            let _ = reply.send(Err(CellError::new("KernelError", message)));
        }
        Job::Complete { code, pos, reply } => {
            let _ = (code, reply.send((Vec::new(), pos, pos)));
        }
        Job::Inspect { reply, .. } => {
            let _ = reply.send(None);
        }
        Job::History { reply, .. } => {
            let _ = reply.send(serde_json::json!({ "status": "ok", "history": [] }));
        }
    }
}
