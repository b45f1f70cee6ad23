//! `paralelo-kernel run`: fixture notebooks with stored outputs, a failing cell, a file that
//! is not a notebook, `--check` and `--inplace`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{TempDir, kernel_command};
use serde_json::{Value, json};

/// Runs one at a time: each run starts an engine, and parallel engines would each need a
/// build directory of their own (cold builds).
static SERIAL: Mutex<()> = Mutex::new(());

/// A bound on one run (a cold build cache compiles paralelo first), not a speed check.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn run(args: &[&Path], flags: &[&str]) -> (Output, String, String) {
    run_with_env(args, flags, &[])
}

fn run_with_env(args: &[&Path], flags: &[&str], env: &[(&str, &str)]) -> (Output, String, String) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let home = TempDir::new("runner");
    let mut child = kernel_command(&home.0)
        .envs(env.iter().copied())
        .arg("run")
        .args(args)
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running paralelo-kernel");
    // Read both pipes on threads so a chatty run cannot block; bound the wait so a hung
    // run fails the test instead of hanging it.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("paralelo-kernel run did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

#[test]
fn stored_outputs_match_and_timing_cells_are_ignored() {
    let (output, stdout, stderr) = run(&[&fixture("outputs.ipynb")], &["--check"]);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("hola desde Rust"), "{stdout}");
    assert!(stdout.contains("42"), "{stdout}");
    assert!(stdout.contains("Wall time:"), "{stdout}");
    assert!(stdout.contains("notebooks: 1 passed, 0 failed"), "{stdout}");
}

/// Every cell is a library of its own, linked with its own copy of `paralelo` and rayon
/// (statics and thread-locals included): a thread `Pool` made in one cell must still map,
/// apply, nest and `map_async` in later ones; a process pool, a `Process` with a `Queue`
/// and a `Value`, and a `Manager` list too; and variables keep their types.
#[test]
fn values_made_in_one_cell_work_in_later_cells() {
    let notebook = fixture("across_cells.ipynb");
    let (output, stdout, stderr) = run(&[&notebook], &["--check"]);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Again, now with a warm build cache: the first cell that binds variables runs while
    // rust-analyzer is still priming (seconds of CPU at the lowest priority), so rustc
    // names the types (vendor/evcxr/PATCHES.md, change 4).
    let (output, stdout, stderr) = run_with_env(
        &[&notebook],
        &["--check"],
        &[("PARALELO_KERNEL_TRACE", "1")],
    );
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The first "total" line is the preload cell's, the second the first cell's.
    let first_cell = stderr
        .lines()
        .filter(|l| l.starts_with("trace: ") && l.contains(" total: "))
        .nth(1)
        .unwrap_or_default();
    assert!(
        first_cell.contains("Types from rustc") && !first_cell.contains("rust-analyzer"),
        "{stderr}"
    );
}

#[test]
fn a_failing_cell_fails_the_run_naming_notebook_and_cell() {
    let (output, stdout, stderr) = run(&[&fixture("failing.ipynb")], &[]);
    assert!(!output.status.success());
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("failing.ipynb: cell 2 failed"), "{all}");
    assert!(
        !stdout.contains("never"),
        "cells after a failure must not run: {stdout}"
    );
    assert!(stdout.contains("notebooks: 0 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_file_that_is_not_a_notebook_is_named_in_the_error() {
    let (output, stdout, stderr) = run(&[&fixture("not_a_notebook.txt")], &[]);
    assert!(!output.status.success());
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("not_a_notebook.txt: not a Jupyter notebook"),
        "{all}"
    );
}

#[test]
fn changed_outputs_fail_the_check() {
    let dir = TempDir::new("check");
    let path = dir.0.join("changed.ipynb");
    let mut nb: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("outputs.ipynb")).unwrap()).unwrap();
    nb["cells"][1]["outputs"] =
        json!([{"output_type": "stream", "name": "stdout", "text": ["adiós\n"]}]);
    std::fs::write(&path, nb.to_string()).unwrap();
    let (output, stdout, stderr) = run(&[&path], &["--check"]);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stderr.contains("cell 2") && stderr.contains("adiós"),
        "{stderr}"
    );
}

#[test]
fn inplace_writes_nbformat_4_5() {
    let dir = TempDir::new("inplace");
    let path = dir.0.join("fresh.ipynb");
    let nb = json!({
        "nbformat": 4, "nbformat_minor": 2, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# t"},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null,
             "source": ["println!(\"a\");\n", "1 + 1"]},
        ]
    });
    std::fs::write(&path, nb.to_string()).unwrap();
    let (output, stdout, stderr) = run(&[&path], &["--inplace"]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written["nbformat"], 4);
    assert_eq!(written["nbformat_minor"], 5);
    assert_eq!(written["metadata"]["kernelspec"]["name"], "paralelo");
    for cell in written["cells"].as_array().unwrap() {
        let id = cell["id"].as_str().expect("every cell has an id");
        assert!(!id.is_empty() && id.len() <= 64);
    }
    let code = &written["cells"][1];
    assert_eq!(code["execution_count"], 1);
    assert_eq!(
        code["outputs"],
        json!([
            {"output_type": "stream", "name": "stdout", "text": ["a\n"]},
            {"output_type": "execute_result", "execution_count": 1,
             "data": {"text/plain": ["2"]}, "metadata": {}},
        ])
    );
}
