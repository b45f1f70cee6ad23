//! Helpers for the `paralelo-kernel run` tests: run the binary in a bounded child, with
//! every stdout line time-stamped as it arrives.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{TempDir, kernel_command};

/// Runs one at a time: each run starts engines, and parallel engines would each need a
/// build directory of their own (cold builds).
pub static SERIAL: Mutex<()> = Mutex::new(());

/// A bound on one run (a cold build cache compiles paralelo first), not a speed check.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(900);

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// What a run printed and how it ended.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Each stdout line with the time it arrived, from the start of the run.
    pub lines: Vec<(Duration, String)>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    /// When the first stdout line containing `text` arrived.
    pub fn arrival(&self, text: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|(_, l)| l.contains(text))
            .map(|(t, _)| *t)
    }
}

/// `paralelo-kernel ARGS...` in `dir` (a fresh temp dir when `None`), bounded.
pub fn kernel(args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = TempDir::new("runner");
    kernel_in(&home.0, args, env)
}

pub fn kernel_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut child = kernel_command(dir)
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running paralelo-kernel");
    let out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(out_pipe);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return lines,
                Ok(_) => lines.push((
                    started.elapsed(),
                    String::from_utf8_lossy(&line).into_owned(),
                )),
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("paralelo-kernel {args:?} did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines = out_reader.join().unwrap();
    let stdout = lines.iter().map(|(_, l)| l.as_str()).collect();
    Run {
        status,
        stdout,
        stderr: err_reader.join().unwrap(),
        lines,
    }
}

/// `paralelo-kernel run ARGS...`.
pub fn run(args: &[&str]) -> Run {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    kernel(&all, &[])
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 paths")
}
