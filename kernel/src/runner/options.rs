//! `run`'s command line (clap) and the options every notebook's run receives.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::UsageError;
use super::parameters;
use super::sanitize::Sanitizer;

const RUN_AFTER_HELP: &str = "\
Cells are numbered from 1, markdown included. Tags (metadata.tags): `timing` or
`nbval-ignore-output` (run, not compared), `raises-exception` (must fail), `skip-execution`
or `nbval-skip` (not run, stored outputs kept), `parameters` (papermill's defaults).
A cell's metadata.execution.timeout overrides --timeout.

Exit status: 0 when every notebook passed, 1 when a cell failed, timed out or differs
(--check), 2 for a usage error (bad flag, missing file, not a notebook, bad tag, bad
--sanitize file, bad parameter). See kernel/README.md.";

/// `paralelo-kernel run`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = RUN_AFTER_HELP)]
pub(crate) struct RunArgs {
    /// The notebooks (.ipynb, nbformat 4) to execute, each in a fresh engine.
    #[arg(required = true, value_name = "NOTEBOOK")]
    pub(crate) notebooks: Vec<PathBuf>,
    /// Compare the fresh outputs with the stored ones, like nbval (cells tagged `timing` or
    /// `nbval-ignore-output` excepted).
    #[arg(long)]
    pub(crate) check: bool,
    /// Write the executed notebooks back (nbformat 4.5).
    #[arg(long, conflicts_with = "output")]
    pub(crate) inplace: bool,
    /// Write the executed notebooks into DIR (same file names), leaving the sources untouched.
    #[arg(long, value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
    /// Seconds a cell may run before it is interrupted (then killed after the grace period)
    /// and fails with CellTimeoutError.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0, value_parser = positive_seconds)]
    pub(crate) timeout: f64,
    /// Seconds the engine may take to start (a cold build cache compiles paralelo first).
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0, value_parser = positive_seconds)]
    pub(crate) startup_timeout: f64,
    /// Seconds a timed-out cell has to stop after the interrupt before the Rust runtime is
    /// killed and restarted (variables are then lost).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = positive_seconds)]
    pub(crate) interrupt_grace: f64,
    /// Run every cell even after failures, and report all of them (the run still fails).
    #[arg(long)]
    pub(crate) allow_errors: bool,
    /// Print every update of a display (progress bars), not only its last state.
    #[arg(long)]
    pub(crate) progress: bool,
    /// nbval's sanitizer file: INI sections of `regex:` / `replace:` pairs applied to both
    /// sides before --check compares.
    #[arg(long, value_name = "FILE")]
    pub(crate) sanitize: Option<PathBuf>,
    /// Let PIDs of the evaluation process and of the processes it started (what
    /// `std::process::id()` prints) match any number in the stored outputs.
    #[arg(long)]
    pub(crate) sanitize_pids: bool,
    /// A parameter, papermill style: a Rust `let` in a cell tagged `injected-parameters`
    /// after the cell tagged `parameters` (repeatable; VALUE is typed as integer, float, bool,
    /// JSON or else string).
    #[arg(short = 'p', long, num_args = 2, value_names = ["NAME", "VALUE"])]
    pub(crate) parameter: Vec<String>,
    /// Parameters from a JSON object ({"name": value, ...}); -p wins over it.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) parameters: Option<PathBuf>,
    /// Write a JUnit XML report: one testsuite per notebook, one testcase per code cell.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Notebooks run at once, each in its own engine and cache slot; outputs stay grouped
    /// per notebook.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: u16,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds above 0 (a cell may never run unbounded)"
        )),
    }
}

/// What each notebook's run is asked to do: [`RunArgs`] checked and resolved (parameters
/// typed, the sanitizer file read), serializable for the per-notebook process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunOptions {
    pub(crate) check: bool,
    pub(crate) inplace: bool,
    pub(crate) output: Option<PathBuf>,
    pub(crate) timeout: f64,
    pub(crate) startup_timeout: f64,
    pub(crate) interrupt_grace: f64,
    pub(crate) allow_errors: bool,
    pub(crate) progress: bool,
    pub(crate) sanitize: Option<PathBuf>,
    pub(crate) sanitize_pids: bool,
    /// Names and values, in the order given (`-p` after the file's).
    pub(crate) parameters: Map<String, Value>,
    pub(crate) jobs: u16,
}

impl RunOptions {
    /// Checks what applies to every notebook: the sanitizer file and the parameters.
    ///
    /// # Errors
    ///
    /// A message naming the file (and line) or the parameter, and what to do.
    pub(crate) fn from_args(args: &RunArgs) -> Result<RunOptions, UsageError> {
        if let Some(file) = &args.sanitize {
            Sanitizer::load(Some(file))?;
        }
        let parameters =
            parameters::from_command_line(&args.parameter, args.parameters.as_deref())?;
        Ok(RunOptions {
            check: args.check,
            inplace: args.inplace,
            output: args.output.clone(),
            timeout: args.timeout,
            startup_timeout: args.startup_timeout,
            interrupt_grace: args.interrupt_grace,
            allow_errors: args.allow_errors,
            progress: args.progress,
            sanitize: args.sanitize.clone(),
            sanitize_pids: args.sanitize_pids,
            parameters,
            jobs: args.jobs,
        })
    }

    /// Whether executed notebooks are written somewhere.
    pub(crate) fn writes(&self) -> bool {
        self.inplace || self.output.is_some()
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.startup_timeout)
    }

    pub(crate) fn interrupt_grace(&self) -> Duration {
        Duration::from_secs_f64(self.interrupt_grace)
    }
}
