//! The shell and the process environment: `!command`, `%%bash`, `%%sh`, `%env`, `%pwd`,
//! `%cd`, `%%writefile`.
//!
//! Cells run in evcxr's evaluation process, so "the working directory" and "the
//! environment" are that process's: commands start in its working directory (read from
//! `/proc`), with its environment plus what `%env` set. `%cd` and `%env NAME=VALUE` change
//! them by running `std::env` calls there, so cell code sees the change too. (Variables a
//! cell sets itself with `std::env::set_var` are seen by cells, not by shell commands.)
//!
//! Shell commands run in a process group of their own, output streamed line by line; the
//! stop button sends that group `SIGINT` (then `SIGKILL`, as for a cell).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::Call;
use crate::engine::Engine;
use crate::output::{CellError, CellValue, DISPLAY_ENV, Output, Sink};

/// How a shell command ended.
enum Exit {
    Code(i32),
    Signal(i32),
}

/// The working directory of the evaluation process.
pub(super) fn working_dir(engine: &Engine) -> PathBuf {
    std::fs::read_link(format!("/proc/{}/cwd", engine.child_pid()))
        .or_else(|_| std::env::current_dir())
        .unwrap_or_else(|_| PathBuf::from("/"))
}

/// The evaluation process's environment as it started, with `%env`'s changes.
fn environment(engine: &Engine) -> Vec<(String, String)> {
    let mut vars: std::collections::BTreeMap<String, String> =
        match std::fs::read(format!("/proc/{}/environ", engine.child_pid())) {
            Ok(bytes) => bytes
                .split(|b| *b == 0)
                .filter_map(|entry| {
                    let entry = String::from_utf8_lossy(entry);
                    let (name, value) = entry.split_once('=')?;
                    Some((name.to_owned(), value.to_owned()))
                })
                .collect(),
            Err(_) => std::env::vars().collect(),
        };
    vars.extend(engine.env_changes.clone());
    vars.into_iter().collect()
}

/// Runs `program -c script`, streaming its output to `sink`.
fn run(engine: &mut Engine, program: &str, script: &str, sink: &Sink) -> Result<Exit, CellError> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut command = Command::new(program);
    command
        .arg("-c")
        .arg(script)
        .current_dir(working_dir(engine))
        .env_clear()
        .envs(environment(engine))
        // Markers are for cells: a program the shell starts prints text.
        .env_remove(DISPLAY_ENV)
        .env_remove("EVCXR_IS_RUNTIME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| CellError::new("OSError", format!("cannot run {program}: {e}")))?;
    let group = i32::try_from(child.id()).ok();
    engine
        .foreground
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .group = group;
    let forward = |stream: Box<dyn Read + Send>, is_stdout: bool| {
        let sink = sink.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).into_owned();
                sink(if is_stdout {
                    Output::Stdout(text)
                } else {
                    Output::Stderr(text)
                });
                line.clear();
            }
        })
    };
    let readers = [
        child.stdout.take().map(|s| forward(Box::new(s), true)),
        child.stderr.take().map(|s| forward(Box::new(s), false)),
    ];
    let status = child.wait();
    engine
        .foreground
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .group = None;
    // The pipes close when the command and whatever it left running end; a daemon keeping
    // them open would keep its output coming, so do not wait for the readers forever.
    for reader in readers.into_iter().flatten() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !reader.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let status = status.map_err(|e| CellError::new("OSError", format!("{program}: {e}")))?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    })
}

/// A `!command` line: runs it with `sh`; a failure is reported on stderr and the cell goes
/// on, as in IPython.
pub(super) fn run_line(
    engine: &mut Engine,
    command: &str,
    sink: &Sink,
) -> Result<CellValue, CellError> {
    match run(engine, "sh", command, sink)? {
        Exit::Code(0) => {}
        Exit::Code(code) => sink(Output::Stderr(format!("!{command}: exit status {code}\n"))),
        Exit::Signal(signal) => sink(Output::Stderr(format!(
            "!{command}: killed by signal {signal}\n"
        ))),
    }
    Ok(CellValue::new())
}

fn script(call: &mut Call<'_>, program: &str) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        return Err(call.usage_error(format!("%%{program} takes no arguments")));
    }
    let sink = call.sink.clone();
    match run(call.engine, program, call.body, &sink)? {
        Exit::Code(0) => Ok(CellValue::new()),
        // IPython's %%bash raises CalledProcessError.
        Exit::Code(code) => Err(CellError::new(
            "CalledProcessError",
            format!("Command '{program}' returned non-zero exit status {code}."),
        )),
        Exit::Signal(signal) => Err(CellError::new(
            "CalledProcessError",
            format!("Command '{program}' died with signal {signal}."),
        )),
    }
}

pub(super) fn bash(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    script(call, "bash")
}

pub(super) fn sh(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    script(call, "sh")
}

/// A Rust string literal for `text`.
fn literal(text: &str) -> String {
    format!("{text:?}")
}

/// Runs `code` in the evaluation process, keeping its printed output out of the cell.
fn run_quietly(engine: &mut Engine, code: &str) -> Result<(), CellError> {
    let quiet: Sink = std::sync::Arc::new(|_| {});
    engine.execute(code, quiet, &|_, _| String::new()).map(drop)
}

/// `%env`, `%env NAME`, `%env NAME=VALUE`, `%env NAME VALUE`.
pub(super) fn env(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let args = call.args.trim();
    if args.starts_with('-') {
        return Err(call.usage_error(format!("%env: unknown option {args}")));
    }
    if args.is_empty() {
        let mut text = String::new();
        for (name, value) in environment(call.engine) {
            text.push_str(&format!("{name}={value}\n"));
        }
        call.print(text);
        return Ok(CellValue::new());
    }
    let assignment = args
        .split_once('=')
        .filter(|(name, _)| !name.contains(char::is_whitespace))
        .or_else(|| args.split_once(char::is_whitespace));
    let Some((name, value)) = assignment else {
        return match environment(call.engine)
            .into_iter()
            .find(|(n, _)| n == args)
        {
            Some((_, value)) => {
                call.print(format!("{value}\n"));
                Ok(CellValue::new())
            }
            None => Err(CellError::new(
                "UsageError",
                format!("Environment does not have key: {args}"),
            )),
        };
    };
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
        return Err(call.usage_error(format!("%env: not a variable name: {name:?}")));
    }
    run_quietly(
        call.engine,
        &format!(
            "unsafe {{ std::env::set_var({}, {}) }};",
            literal(name),
            literal(value)
        ),
    )?;
    call.engine
        .env_changes
        .insert(name.to_owned(), value.to_owned());
    call.print(format!("env: {name}={value}\n"));
    Ok(CellValue::new())
}

/// The value `"text"`, as a cell whose last expression is a `String` shows it.
fn string_value(text: &str) -> CellValue {
    let mut value = CellValue::new();
    value.insert("text/plain".into(), Value::String(literal(text)));
    value
}

pub(super) fn pwd(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        return Err(call.usage_error("%pwd takes no arguments"));
    }
    Ok(string_value(
        &working_dir(call.engine).display().to_string(),
    ))
}

/// A path argument: quotes removed, `~` expanded.
fn path_argument(arg: &str) -> PathBuf {
    let arg = arg.trim();
    let unquoted = arg
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .or_else(|| arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')))
        .unwrap_or(arg);
    match unquoted.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(unquoted),
    }
}

pub(super) fn cd(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let arg = call.args.trim();
    if arg.starts_with('-') && arg != "-" {
        return Err(call.usage_error(format!("%cd: unknown option {arg}")));
    }
    let current = working_dir(call.engine);
    let target = match arg {
        "" => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into())),
        "-" => match &call.engine.previous_dir {
            Some(dir) => dir.clone(),
            None => return Err(CellError::new("UsageError", "%cd -: no previous directory")),
        },
        _ => current.join(path_argument(arg)),
    };
    let target = target
        .canonicalize()
        .map_err(|e| CellError::new("OSError", format!("%cd: {}: {e}", target.display())))?;
    if !target.is_dir() {
        return Err(CellError::new(
            "OSError",
            format!("%cd: {}: not a directory", target.display()),
        ));
    }
    let shown = target.display().to_string();
    run_quietly(
        call.engine,
        &format!("std::env::set_current_dir({}).unwrap();", literal(&shown)),
    )?;
    call.engine.previous_dir = Some(current);
    call.print(format!("{shown}\n"));
    Ok(CellValue::new())
}

/// `%%writefile [-a] FILE`.
pub(super) fn writefile(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let mut args = call.args.trim();
    let mut append = false;
    while let Some(rest) = args.strip_prefix('-') {
        let (flag, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        match flag {
            "a" | "-append" => append = true,
            other => return Err(call.usage_error(format!("%%writefile: unknown option -{other}"))),
        }
        args = tail.trim_start();
    }
    if args.is_empty() {
        return Err(call.usage_error("%%writefile needs a file name"));
    }
    let path = working_dir(call.engine).join(path_argument(args));
    let existed = path.exists();
    let result = if append {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, call.body.as_bytes()))
    } else {
        std::fs::write(&path, call.body)
    };
    result.map_err(|e| CellError::new("OSError", format!("{}: {e}", path.display())))?;
    let verb = match (append, existed) {
        (true, _) => "Appending to",
        (false, true) => "Overwriting",
        (false, false) => "Writing",
    };
    // The name as the user wrote it, as IPython prints it.
    call.print(format!("{verb} {args}\n"));
    Ok(CellValue::new())
}
