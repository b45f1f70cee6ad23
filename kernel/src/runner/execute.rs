//! One notebook, run in the process `run` started for it: its code cells in order through
//! the same magics and evcxr path as Jupyter, each bounded by its timeout, their outputs
//! printed live, compared (`--check`) and stored (`--inplace`, `--output`).

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::live::Live;
use super::notebook::{self, Notebook, first_line, source_text};
use super::options::RunOptions;
use super::outputs::{compare, text_of, to_nbformat};
use super::report::{CellReport, CellStatus, NotebookReport, Status};
use super::sanitize::{PidContext, Sanitizer, last_pid};
use super::store::{self, CellToStore, StoreCheck, Verdict};
use super::supervisor::{StartError, Stopped, Supervisor};
use super::{parameters, tags};
use crate::engine::EngineConfig;
use crate::output::CellError;

/// A notebook read, checked and given its parameters, ready to run.
pub(crate) struct Prepared {
    pub(crate) notebook: Notebook,
    /// A note for the log (no `parameters` cell).
    pub(crate) warning: Option<String>,
}

/// Reads and checks `path` for these options: everything that can be wrong before a cell
/// runs (exit status 2).
///
/// # Errors
///
/// A message naming the file and what to do.
pub(crate) fn prepare(path: &Path, options: &RunOptions) -> Result<Prepared, super::UsageError> {
    let mut notebook = Notebook::read(path)?;
    notebook::check_writable(path, options.inplace, options.output.as_deref())?;
    let name = path.display().to_string();
    let warning = parameters::inject(&mut notebook.json, &options.parameters, &name)?;
    Ok(Prepared { notebook, warning })
}

/// The cell's own limit (`metadata.execution.timeout`, as nbclient reads it) or `--timeout`.
pub(crate) fn cell_timeout(cell: &Value, options: &RunOptions) -> std::time::Duration {
    cell.pointer("/metadata/execution/timeout")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0 && t.is_finite())
        .map_or(options.timeout(), std::time::Duration::from_secs_f64)
}

/// Whether the cell is a code cell that will be run (not skipped).
pub(crate) fn runs(cell: &Value) -> bool {
    cell.get("cell_type").and_then(Value::as_str) == Some("code")
        && !tags::flags(cell, &source_text(cell.get("source"))).skip
}

struct Run<'a> {
    name: String,
    options: &'a RunOptions,
    sanitizer: Sanitizer,
    engine: Option<Supervisor>,
    checks: Vec<Box<dyn StoreCheck>>,
    execution_count: u64,
    /// Why the remaining cells are not run.
    stop: Option<String>,
    report: NotebookReport,
}

/// Runs the notebook at `path` with the engine in cache `slot`; never fails: what went
/// wrong is in the report.
pub(crate) fn run_notebook(path: &Path, options: &RunOptions, slot: &str) -> NotebookReport {
    let name = path.display().to_string();
    let started = Instant::now();
    let start_time = super::iso_now();
    let prepared = prepare(path, options)
        .and_then(|p| Sanitizer::load(options.sanitize.as_deref()).map(|sanitizer| (p, sanitizer)));
    let (
        Prepared {
            mut notebook,
            warning,
        },
        sanitizer,
    ) = match prepared {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("ERROR {e}");
            return NotebookReport::usage_error(&name, e.0);
        }
    };
    println!("=== {name}");
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let mut run = Run {
        name: name.clone(),
        options,
        sanitizer,
        engine: None,
        checks: super::lesson_checks::checks(),
        execution_count: 0,
        stop: None,
        report: NotebookReport::new(&name),
    };
    run.report.parameters = options.parameters.clone();
    if notebook.cells().iter().any(runs) {
        match Supervisor::start(EngineConfig::from_env(), options.startup_timeout()) {
            Ok(engine) => {
                println!(
                    "--- engine started in {:.2} s (cache {slot})",
                    engine.startup.as_secs_f64()
                );
                if let Some(warning) = &engine.preload_error {
                    eprintln!("warning: {warning}");
                }
                run.engine = Some(engine);
            }
            Err(e) => {
                let message = match e {
                    StartError::Timeout(limit) => format!(
                        "{name}: the engine did not start within {} s (--startup-timeout); a \
                         cold build cache compiles paralelo and its dependencies first: allow \
                         more time, or warm the cache with one run",
                        limit.as_secs_f64()
                    ),
                    StartError::Failed(why) => format!("{name}: the engine did not start: {why}"),
                };
                eprintln!("FAILED {message}");
                let mut report = NotebookReport::failed(&name, message);
                report.parameters = options.parameters.clone();
                report.time = started.elapsed().as_secs_f64();
                return report;
            }
        }
    }
    let count = notebook.cells().len();
    for index in 0..count {
        let cell = &mut notebook.cells_mut()[index];
        notebook::ensure_id(cell, index);
        if cell.get("metadata").is_none() {
            cell["metadata"] = json!({});
        }
        if cell.get("cell_type").and_then(Value::as_str) == Some("code") {
            let mut attempt = 0;
            while run.cell(index, cell, attempt) {
                attempt += 1;
            }
        }
    }
    let failures: Vec<String> = run.failures();
    let code_cells = run.report.cells.len();
    if options.writes() {
        let nb = &mut notebook.json;
        notebook::set_notebook_metadata(nb);
        if !nb["metadata"]
            .get("papermill")
            .is_some_and(Value::is_object)
        {
            nb["metadata"]["papermill"] = json!({});
        }
        let papermill = &mut nb["metadata"]["papermill"];
        papermill["input_path"] = json!(name);
        let destination = notebook::destination(path, options.inplace, options.output.as_deref());
        papermill["output_path"] = json!(destination.as_ref().map(|d| d.display().to_string()));
        papermill["start_time"] = json!(start_time);
        papermill["end_time"] = json!(super::iso_now());
        papermill["duration"] = json!(started.elapsed().as_secs_f64());
        papermill["exception"] = json!(!failures.is_empty());
        if options.parameters.is_empty() {
            papermill["parameters"] = json!({});
        }
        if let Some(destination) = destination
            && let Err(e) = notebook::write_notebook(&destination, &notebook.json)
        {
            run.report.status = Status::Failed;
            let message = format!("{name}: cannot write {}: {e}", destination.display());
            eprintln!("FAILED {message}");
            run.report.message = Some(message);
        }
    }
    println!(
        "--- {name}: {code_cells} code cells in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        let message = failures.join("\n");
        eprintln!("FAILED {message}");
        run.report.status = Status::Failed;
        run.report.message = Some(message);
    }
    run.report.time = started.elapsed().as_secs_f64();
    run.report
}

/// The error of a cell that reached its limit: nbclient's `CellTimeoutError`.
fn timeout_error(name: &str, number: usize, limit: f64, grace: f64, stopped: Stopped) -> CellError {
    let how = match stopped {
        Stopped::Interrupted => {
            "it was interrupted and stopped; the session's variables are kept".to_owned()
        }
        Stopped::Killed => format!(
            "it was interrupted and still running {grace} s later, so the Rust runtime was \
             killed and restarted: variables were lost (paralelo and `use` items are still \
             loaded)"
        ),
        Stopped::Lost => "it was interrupted and killed, and the engine did not answer \
                          afterwards: it was given up and the rest of the notebook was not run"
            .to_owned(),
    };
    CellError::new(
        "CellTimeoutError",
        format!(
            "{name}: cell {number} did not finish within {limit} s (--timeout, or the cell's \
             metadata.execution.timeout): {how}"
        ),
    )
}

impl Run<'_> {
    /// Runs one code cell and records it; `true` when a store check asks for the cell to be
    /// run again (attempt `attempt` of `1 + store::RETRIES`), in which case nothing was
    /// recorded.
    fn cell(&mut self, index: usize, cell: &mut Value, attempt: usize) -> bool {
        let number = index + 1;
        let source = source_text(cell.get("source"));
        let flags = tags::flags(cell, &source);
        let mut report = CellReport {
            number,
            first_line: first_line(&source),
            time: 0.0,
            status: CellStatus::Passed,
            diff: None,
            not_stored: None,
            stdout: String::new(),
        };
        let skip = if flags.skip {
            Some("skip-execution".to_owned())
        } else {
            self.stop.clone()
        };
        let (Some(engine), None) = (self.engine.as_mut(), skip.as_ref()) else {
            let reason = skip.unwrap_or_else(|| "no engine".into());
            println!("--- cell {number}: not run ({reason})");
            report.status = CellStatus::Skipped { reason };
            self.report.cells.push(report);
            return false;
        };
        println!("--- cell {number}: {}", report.first_line);
        self.execution_count += 1;
        let limit = cell_timeout(cell, self.options);
        let live = Live::new(self.options.progress);
        let pid_before = last_pid();
        let busy = super::iso_now();
        let began = Instant::now();
        let outcome = engine.execute(&source, live.sink(), limit, self.options.interrupt_grace());
        let took = began.elapsed();
        let reply = super::iso_now();
        let pid_after = last_pid();
        let outputs = live.finish();
        let result = match outcome.stopped {
            Some(stopped) => Err(timeout_error(
                &self.name,
                number,
                limit.as_secs_f64(),
                self.options.interrupt_grace,
                stopped,
            )),
            None => outcome.result,
        };
        let fresh = to_nbformat(outputs, &result, self.execution_count);
        print_result(&fresh);
        report.time = took.as_secs_f64();
        report.stdout = fresh
            .iter()
            .filter(|o| o["output_type"] == "stream" && o["name"] == "stdout")
            .map(|o| text_of(o.get("text")))
            .collect();
        match (&result, flags.raises) {
            (Err(e), raises) if outcome.stopped.is_some() || !raises => {
                report.status = failed(e);
                if !self.options.allow_errors {
                    self.stop = Some(format!("cell {number} failed"));
                }
            }
            (Err(_), _) => println!("(cell {number} failed, as its raises-exception tag expects)"),
            (Ok(_), true) => {
                report.status = failed(&CellError::new(
                    "NoExceptionRaised",
                    format!(
                        "{}: cell {number} is tagged raises-exception but ran without error",
                        self.name
                    ),
                ));
            }
            (Ok(_), false) => {}
        }
        if engine.is_lost() {
            self.stop = Some(format!("the engine was given up at cell {number}"));
        }
        if self.options.check && !flags.ignore_output {
            let stored = cell.get("outputs").cloned().unwrap_or(json!([]));
            let mut pids = outcome.pids.clone();
            pids.extend(engine.pid());
            let pids = PidContext::new(pids, pid_before, pid_after);
            let pids = self.options.sanitize_pids.then_some(&pids);
            report.diff = compare(&stored, &fresh, &self.sanitizer, pids);
        }
        record_timing(cell, &busy, &reply);
        let verdict = if self.options.writes() {
            store::verdict(
                &self.checks,
                &CellToStore {
                    notebook: &self.name,
                    number,
                    cell,
                    fresh: &fresh,
                    timing: flags.ignore_output,
                },
            )
        } else {
            Verdict::Store
        };
        match verdict {
            Verdict::Store => {
                cell["outputs"] = Value::Array(fresh);
                cell["execution_count"] = json!(self.execution_count);
            }
            Verdict::Keep(reason) => {
                eprintln!("note: cell {number}: stored outputs kept: {reason}");
                report.not_stored = Some(reason);
            }
            Verdict::Retry(reason) if attempt < store::RETRIES && result.is_ok() => {
                eprintln!("note: cell {number}: running it again: {reason}");
                return true;
            }
            Verdict::Fail(reason) | Verdict::Retry(reason) => {
                eprintln!("cell {number}: outputs not stored: {reason}");
                report.status = failed(&CellError::new("NotStored", reason.clone()));
                report.not_stored = Some(reason);
            }
        }
        self.report.cells.push(report);
        false
    }

    /// One line per failing cell (with `--check`'s diffs), for the log and the summary.
    fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for cell in &self.report.cells {
            if let CellStatus::Failed { ename, evalue, .. } = &cell.status {
                lines.push(format!(
                    "{}: cell {} failed: {ename}: {evalue}",
                    self.name, cell.number
                ));
            }
        }
        let diffs: Vec<String> = self
            .report
            .cells
            .iter()
            .filter_map(|c| c.diff.as_ref().map(|d| format!("cell {}: {d}", c.number)))
            .collect();
        if !diffs.is_empty() {
            lines.push(format!(
                "{}: outputs differ from the stored ones (--check):\n{}",
                self.name,
                diffs.join("\n")
            ));
        }
        lines
    }
}

fn failed(error: &CellError) -> CellStatus {
    CellStatus::Failed {
        ename: error.ename.clone(),
        evalue: error.evalue.clone(),
        traceback: error.traceback.clone(),
    }
}

/// nbclient's `record_timing`: ISO times in `metadata.execution` (a `timeout` kept).
fn record_timing(cell: &mut Value, busy: &str, reply: &str) {
    let metadata = &mut cell["metadata"];
    if !metadata.get("execution").is_some_and(Value::is_object) {
        metadata["execution"] = json!({});
    }
    let execution = &mut metadata["execution"];
    execution["iopub.status.busy"] = json!(busy);
    execution["iopub.execute_input"] = json!(busy);
    execution["shell.execute_reply"] = json!(reply);
    execution["iopub.status.idle"] = json!(reply);
}

/// The cell's value (by its `text/plain`) and error, after its live output.
fn print_result(fresh: &[Value]) {
    for output in fresh {
        match output.get("output_type").and_then(Value::as_str) {
            Some("execute_result") => println!("{}", text_of(output.pointer("/data/text~1plain"))),
            Some("error") => {
                for line in output
                    .get("traceback")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    eprintln!("{}", line.as_str().unwrap_or(""));
                }
            }
            _ => {}
        }
    }
}
