//! Each notebook in a process of its own (`paralelo-kernel run-one JOB`), up to `--jobs` at
//! once: its own engine, its own cache slot, and a bound on the whole process, so that not
//! even a wedged engine can hang the run. Outputs are grouped per notebook, in the order
//! given: the first unfinished notebook prints live, the others are held until their turn.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::options::RunOptions;
use super::report::NotebookReport;

/// What a notebook's process is asked to do.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) notebook: PathBuf,
    pub(crate) options: RunOptions,
    /// Where it writes its [`NotebookReport`].
    pub(crate) report: PathBuf,
    /// The `run` process: the job ends if it is gone.
    pub(crate) parent: u32,
}

/// A notebook to run, with the bound on its process.
pub(crate) struct Planned {
    /// Its place among the notebooks given.
    pub(crate) index: usize,
    pub(crate) path: PathBuf,
    pub(crate) bound: Duration,
}

/// Process groups of the running notebooks, killed if `run` is interrupted.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn kill_group(group: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the process
    // group this run created for a notebook (it lives while any member does).
    unsafe { libc::kill(-group, libc::SIGKILL) };
}

/// On `SIGINT`, `SIGTERM` or `SIGHUP`, kills every notebook's process group (their engines
/// and whatever their cells started) before leaving, so nothing keeps running.
fn forward_signals() {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                let code = tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                    _ = hup.recv() => 129,
                };
                for group in GROUPS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    kill_group(*group);
                }
                eprintln!(
                    "paralelo-kernel run: interrupted; the notebooks' processes were stopped"
                );
                std::process::exit(code);
            });
        });
    if let Err(e) = spawned {
        eprintln!("paralelo-kernel run: cannot watch for signals: {e}");
    }
}

/// Which notebook prints now; the others' lines wait in their buffers.
struct Grouped {
    state: Mutex<GroupedState>,
}

struct GroupedState {
    current: usize,
    done: Vec<bool>,
    held: Vec<Vec<(bool, Vec<u8>)>>,
}

fn write(is_err: bool, line: &[u8]) {
    if is_err {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line);
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line);
        let _ = out.flush();
    }
}

impl Grouped {
    fn new(count: usize) -> Grouped {
        Grouped {
            state: Mutex::new(GroupedState {
                current: 0,
                done: vec![false; count],
                held: vec![Vec::new(); count],
            }),
        }
    }

    fn line(&self, job: usize, is_err: bool, line: Vec<u8>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.current == job {
            write(is_err, &line);
        } else {
            state.held[job].push((is_err, line));
        }
    }

    fn finished(&self, job: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.done[job] = true;
        while state.current < state.done.len() {
            let current = state.current;
            for (is_err, line) in std::mem::take(&mut state.held[current]) {
                write(is_err, &line);
            }
            if !state.done[current] {
                break;
            }
            state.current += 1;
        }
    }
}

struct Running {
    order: usize,
    planned: Planned,
    child: Child,
    readers: Vec<JoinHandle<()>>,
    report: PathBuf,
    deadline: Instant,
}

fn reader(
    pipe: impl Read + Send + 'static,
    grouped: Arc<Grouped>,
    order: usize,
    is_err: bool,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut pipe = BufReader::new(pipe);
        loop {
            let mut line = Vec::new();
            match pipe.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => grouped.line(order, is_err, line),
            }
        }
    })
}

fn spawn(
    order: usize,
    planned: Planned,
    options: &RunOptions,
    dir: &Path,
    grouped: &Arc<Grouped>,
) -> Result<Running, (Planned, String)> {
    let report = dir.join(format!("report-{}.json", planned.index));
    let job_file = dir.join(format!("job-{}.json", planned.index));
    let job = Job {
        notebook: planned.path.clone(),
        options: options.clone(),
        report: report.clone(),
        parent: std::process::id(),
    };
    let written = serde_json::to_vec(&job)
        .map_err(|e| e.to_string())
        .and_then(|bytes| std::fs::write(&job_file, bytes).map_err(|e| e.to_string()));
    if let Err(e) = written {
        return Err((planned, format!("cannot write {}: {e}", job_file.display())));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Err((planned, format!("cannot find paralelo-kernel itself: {e}"))),
    };
    let spawned = Command::new(exe)
        .arg("run-one")
        .arg(&job_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return Err((planned, format!("cannot start its process: {e}"))),
    };
    if let Ok(group) = i32::try_from(child.id()) {
        GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(group);
    }
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(reader(out, grouped.clone(), order, false));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(reader(err, grouped.clone(), order, true));
    }
    let deadline = Instant::now() + planned.bound;
    Ok(Running {
        order,
        planned,
        child,
        readers,
        report,
        deadline,
    })
}

/// Ends a notebook's process group and collects its report.
fn finish(mut running: Running, timed_out: bool, grouped: &Grouped) -> NotebookReport {
    let group = i32::try_from(running.child.id()).unwrap_or(0);
    if group > 0 {
        // Whatever its engine or cells left running goes with it; then the pipes close.
        kill_group(group);
    }
    let status = running.child.wait();
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|g| *g != group);
    for reader in running.readers.drain(..) {
        let _ = reader.join();
    }
    let name = running.planned.path.display().to_string();
    let report = std::fs::read(&running.report)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<NotebookReport>(&bytes).ok());
    let report = match report {
        Some(report) if !timed_out => report,
        _ => {
            let why = if timed_out {
                format!(
                    "its process did not finish within {} s (the sum of its cells' limits and \
                     the engine's start) and was killed",
                    running.planned.bound.as_secs()
                )
            } else {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                format!("its process ended ({status}) without a report")
            };
            let message = format!("{name}: {why}");
            grouped.line(
                running.order,
                true,
                format!("FAILED {message}\n").into_bytes(),
            );
            NotebookReport::failed(&name, message)
        }
    };
    grouped.finished(running.order);
    report
}

/// Runs `planned` notebooks, `options.jobs` at a time; returns (index, report) pairs.
pub(crate) fn run_all(planned: Vec<Planned>, options: &RunOptions) -> Vec<(usize, NotebookReport)> {
    let mut results = Vec::new();
    if planned.is_empty() {
        return results;
    }
    forward_signals();
    let dir = std::env::temp_dir().join(format!(
        "paralelo-kernel-run-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        for p in planned {
            let name = p.path.display().to_string();
            results.push((
                p.index,
                NotebookReport::failed(
                    &name,
                    format!("{name}: cannot create {}: {e}", dir.display()),
                ),
            ));
        }
        return results;
    }
    let grouped = Arc::new(Grouped::new(planned.len()));
    let mut waiting = planned.into_iter().enumerate();
    let mut running: Vec<Running> = Vec::new();
    loop {
        while running.len() < usize::from(options.jobs) {
            let Some((order, next)) = waiting.next() else {
                break;
            };
            match spawn(order, next, options, &dir, &grouped) {
                Ok(job) => running.push(job),
                Err((planned, why)) => {
                    let name = planned.path.display().to_string();
                    let message = format!("{name}: {why}");
                    grouped.line(order, true, format!("FAILED {message}\n").into_bytes());
                    grouped.finished(order);
                    results.push((planned.index, NotebookReport::failed(&name, message)));
                }
            }
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut still = Vec::new();
        for mut job in running {
            let exited = !matches!(job.child.try_wait(), Ok(None));
            let late = Instant::now() > job.deadline;
            if exited || late {
                let index = job.planned.index;
                results.push((index, finish(job, late && !exited, &grouped)));
            } else {
                still.push(job);
            }
        }
        running = still;
    }
    let _ = std::fs::remove_dir_all(&dir);
    results
}

/// The per-notebook process: runs the job and writes its report.
///
/// # Errors
///
/// An unreadable job file or an unwritable report.
pub(crate) fn run_job(job_file: &Path) -> anyhow::Result<()> {
    let job: Job = serde_json::from_slice(&std::fs::read(job_file)?)?;
    // End with `run`: a job whose parent is gone would run unwatched.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's parent-death signal.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    // SAFETY: getppid(2) cannot fail and touches no memory.
    if unsafe { libc::getppid() } as u32 != job.parent {
        anyhow::bail!("the run that started this job is gone");
    }
    let slot = crate::cache::prepare_environment()?;
    let slot_name = slot
        .dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let report = super::execute::run_notebook(&job.notebook, &job.options, &slot_name);
    std::fs::write(&job.report, serde_json::to_vec(&report)?)?;
    Ok(())
}
