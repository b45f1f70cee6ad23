//! The headless runner: `paralelo-kernel run NOTEBOOK... [OPTIONS]`, a notebook runner CI
//! can trust, with nbclient's, nbval's and papermill's conventions.
//!
//! `run` checks the options and every notebook first (a bad one is reported with exit
//! status 2, the others still run), then runs each notebook in a process of its own
//! ([`jobs`]), where a fresh engine executes its cells ([`execute`]) under a per-cell
//! timeout ([`supervisor`]), printing their outputs live ([`live`]). At the end: the
//! summary line `notebooks: N passed, M failed`, the `--junit` report ([`junit`]) and the
//! exit status (0 all passed, 1 failures, 2 usage errors).

mod execute;
mod jobs;
mod junit;
mod lesson_checks;
mod live;
mod notebook;
mod options;
mod outputs;
mod parameters;
mod report;
mod sanitize;
mod store;
mod supervisor;
mod tags;

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

pub(crate) use options::RunArgs;
use options::RunOptions;
use report::{NotebookReport, Status};

/// A problem with what the run was given (exit status 2): the message names the file or
/// option and says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `time` as nbclient writes timestamps (RFC 3339, UTC, microseconds).
pub(crate) fn iso(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

/// Now, as [`iso`] writes it.
pub(crate) fn iso_now() -> String {
    iso(SystemTime::now())
}

const USAGE_STATUS: u8 = 2;

/// Runs `paralelo-kernel run`; returns the exit status.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    let options = match RunOptions::from_args(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("paralelo-kernel run: {e}");
            return ExitCode::from(USAGE_STATUS);
        }
    };
    if let Some(junit) = &args.junit
        && let Err(e) = std::fs::write(junit, "")
    {
        eprintln!(
            "paralelo-kernel run: --junit {}: cannot write the file: {e}",
            junit.display()
        );
        return ExitCode::from(USAGE_STATUS);
    }
    let mut reports: Vec<Option<NotebookReport>> = vec![None; args.notebooks.len()];
    let mut planned = Vec::new();
    let mut destinations: HashMap<std::path::PathBuf, String> = HashMap::new();
    for (index, path) in args.notebooks.iter().enumerate() {
        let name = path.display().to_string();
        match plan(path, &options, &mut destinations) {
            Ok(bound) => planned.push(jobs::Planned {
                index,
                path: path.clone(),
                bound,
            }),
            Err(e) => {
                eprintln!("ERROR {e}");
                reports[index] = Some(NotebookReport::usage_error(&name, e.0));
            }
        }
    }
    for (index, report) in jobs::run_all(planned, &options) {
        reports[index] = Some(report);
    }
    let reports: Vec<NotebookReport> = reports.into_iter().flatten().collect();
    println!();
    for report in reports.iter().filter(|r| r.status != Status::Passed) {
        let message = report.message.as_deref().unwrap_or("failed");
        println!("failed: {}", message.lines().next().unwrap_or(""));
    }
    let passed = reports
        .iter()
        .filter(|r| r.status == Status::Passed)
        .count();
    println!(
        "notebooks: {passed} passed, {} failed",
        reports.len() - passed
    );
    let mut status = if passed == reports.len() { 0 } else { 1 };
    if reports.iter().any(|r| r.status == Status::UsageError) {
        status = USAGE_STATUS;
    }
    if let Some(junit) = &args.junit {
        match std::fs::write(junit, junit::render(&reports)) {
            Ok(()) => println!("junit: {}", junit.display()),
            Err(e) => {
                eprintln!("paralelo-kernel run: --junit {}: {e}", junit.display());
                status = USAGE_STATUS;
            }
        }
    }
    ExitCode::from(status)
}

/// Checks one notebook before it runs; returns the bound on its process: the engine's
/// start plus every cell's limit, grace and recovery, plus a minute.
fn plan(
    path: &Path,
    options: &RunOptions,
    destinations: &mut HashMap<std::path::PathBuf, String>,
) -> Result<Duration, UsageError> {
    let prepared = execute::prepare(path, options)?;
    let name = path.display().to_string();
    if let Some(destination) =
        notebook::destination(path, options.inplace, options.output.as_deref())
        && let Some(other) = destinations.insert(destination.clone(), name.clone())
    {
        return Err(UsageError(format!(
            "{name}: {other} is also written to {}: give notebooks of one --output run \
             different file names",
            destination.display()
        )));
    }
    let per_cell = options.interrupt_grace() + supervisor::RECOVERY;
    let cells: Duration = prepared
        .notebook
        .cells()
        .iter()
        .filter(|cell| execute::runs(cell))
        .map(|cell| execute::cell_timeout(cell, options) + per_cell)
        .sum();
    Ok(options.startup_timeout() + cells + Duration::from_secs(60))
}

/// `paralelo-kernel run-one JOB`: one notebook of a `run`, in its own process.
///
/// # Errors
///
/// An unusable job file (this command is internal: `run` writes it).
pub(crate) fn run_one(job: &Path) -> anyhow::Result<ExitCode> {
    jobs::run_job(job)?;
    Ok(ExitCode::SUCCESS)
}
