//! Running a test's own binary under `mpirun`, bounded: each test names a scenario (a
//! function of the test file that every rank runs), and the run is killed, with its whole
//! process group, if it outlives its deadline. After it ends, no process of the run may be
//! left (found by a marker in their environment).

#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run printed and how it ended.
pub(crate) struct Run {
    pub(crate) status: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) left: Vec<u32>,
}

impl Run {
    pub(crate) fn show(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// The environment variable that selects a scenario on every rank.
pub(crate) const SCENARIO: &str = "PARALELO_MPI_SCENARIO";
const MARKER: &str = "PARALELO_MPI_TEST_RUN";

/// Processes whose environment holds `MARKER=id`.
fn marked(id: &str) -> Vec<u32> {
    let needle = format!("{MARKER}={id}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .chars()
                    .next();
                if state != Some('Z') {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

/// Runs `program` (`mpirun` and its arguments, or the binary alone) with `scenario`, and
/// kills it after `limit`.
pub(crate) fn run(program: &[String], scenario: &str, limit: Duration) -> Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("{}-{run}-{scenario}", std::process::id());
    let mut child = Command::new(&program[0])
        .args(&program[1..])
        .env(SCENARIO, scenario)
        .env(MARKER, &id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start mpirun (is openmpi-bin installed? bash scripts/mpi-setup)");
    let pgid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.wait();
            for pid in marked(&id) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            panic!(
                "the MPI run of scenario {scenario} hung: still running after {limit:?} (killed)"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The ranks may take a moment to go after mpirun has reported.
    let gone_by = Instant::now() + Duration::from_secs(5);
    let mut left = marked(&id);
    while !left.is_empty() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(100));
        left = marked(&id);
    }
    for pid in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    Run {
        status,
        stdout: reader.join().unwrap(),
        stderr: ereader.join().unwrap(),
        left,
    }
}

/// `mpirun` with the flags these tests need, `n` ranks of `exe` running `test_name`.
pub(crate) fn mpirun(n: usize, exe: &str, test_name: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "mpirun",
        "--allow-run-as-root",
        "--oversubscribe",
        "--mca",
        "orte_enable_recovery",
        "1",
        "--mca",
        "btl",
        "self,tcp",
        "-n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(n.to_string());
    args.extend(rank_args(exe, test_name));
    args
}

/// The arguments that make the test binary run only `test_name`, in its main thread.
pub(crate) fn rank_args(exe: &str, test_name: &str) -> Vec<String> {
    [
        exe,
        test_name,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// True when `mpirun` can be started.
pub(crate) fn have_mpirun() -> bool {
    Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
