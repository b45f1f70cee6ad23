//! `%%mpirun -n N [--hostfile FILE] [--timeout SECONDS]`: the cell as an MPI program.
//!
//! The cell is a program, not a cell of the session: it is built with `paralelo` (feature
//! `mpi`) as its own binary, in a Cargo project under the kernel's build cache (so only
//! the first `%%mpirun` compiles `paralelo`), and run under `mpirun` on N ranks. It
//! cannot see the session's variables, and what it defines does not outlive it. Without
//! a `fn main`, the cell is the body of one that starts with
//! `let cluster = paralelo::mpi::init()?;` (`use paralelo::prelude::*` is in scope).
//! Each rank's output comes back line by line as it is printed, prefixed like
//! ipyparallel's: `[stdout:0] …`, `[stderr:2] …`.
//!
//! Every kernel on the cache (a runner's `--jobs`, several notebooks open) shares the one
//! project, so its dependencies are compiled once: a kernel holds the project's lock while
//! it writes the cell, builds it and copies the binary out to a name of its own, and
//! releases it before `mpirun` starts.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Call, Kind, Magic};
use crate::cache::cache_root;
use crate::engine::EngineConfig;
use crate::output::{CellError, CellValue, Output, Sink};

/// The registry's entry (`MAGICS` in `mod.rs`).
pub(super) const MAGIC: Magic = Magic {
    name: "mpirun",
    kind: Kind::Cell,
    usage: "-n N [--hostfile FILE] [--timeout SECONDS]",
    help: "Build the cell as a program (paralelo::mpi) and run it on N MPI ranks; [stdout:RANK] output.",
    handler: mpirun_cell,
};

struct Args {
    ranks: usize,
    hostfile: Option<String>,
    timeout: Duration,
}

fn usage(problem: &str) -> CellError {
    CellError::new(
        "UsageError",
        format!("{problem}: %%mpirun -n N [--hostfile FILE] [--timeout SECONDS]"),
    )
}

fn parse(args: &str) -> Result<Args, CellError> {
    let mut words = args.split_whitespace();
    let (mut ranks, mut hostfile, mut timeout) = (None, None, Duration::from_secs(600));
    while let Some(word) = words.next() {
        let mut value = |name: &str| {
            words
                .next()
                .ok_or_else(|| usage(&format!("{name} needs a value")))
        };
        match word {
            "-n" | "-np" | "--n" => {
                let n = value("-n")?;
                ranks = Some(n.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    usage(&format!(
                        "-n takes a number of ranks (1 or more), got {n:?}"
                    ))
                })?);
            }
            "--hostfile" | "-hostfile" => hostfile = Some(value("--hostfile")?.to_owned()),
            "--timeout" => {
                let s = value("--timeout")?;
                timeout = Duration::from_secs(
                    s.parse()
                        .map_err(|_| usage(&format!("--timeout takes seconds, got {s:?}")))?,
                );
            }
            other => return Err(usage(&format!("unknown option {other:?}"))),
        }
    }
    Ok(Args {
        ranks: ranks.ok_or_else(|| usage("-n N is required"))?,
        hostfile,
        timeout,
    })
}

/// The program's source: the cell itself when it has a `main`, else `main`'s body.
fn program(body: &str) -> String {
    if body.contains("fn main") {
        return body.to_owned();
    }
    format!(
        "#![allow(unused, redundant_semicolons)]\nuse paralelo::prelude::*;\n\n\
         fn main() -> paralelo::Result<()> {{\n    let cluster = paralelo::mpi::init()?;\n\
         {body}\n    ;\n    Ok(())\n}}\n"
    )
}

/// The project's directory, locked for this kernel until the returned file is dropped;
/// waits for another kernel's build until `deadline`.
fn lock_project(deadline: Instant) -> Result<(PathBuf, File), CellError> {
    let dir = cache_root().join("mpirun-cell");
    let io = |e: std::io::Error| {
        CellError::new(
            "MpirunError",
            format!("cannot open the cell's project in {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir.join("src")).map_err(io)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("build.lock"))
        .map_err(io)?;
    while lock.try_lock().is_err() {
        if Instant::now() >= deadline {
            return Err(CellError::new(
                "TimeoutError",
                format!(
                    "another kernel kept building its %%mpirun cell in {} past --timeout",
                    dir.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((dir, lock))
}

/// Writes the cell's Cargo project (once) and its source into the locked `dir`.
fn project(dir: &Path, body: &str) -> Result<(), CellError> {
    let paralelo = EngineConfig::from_env().paralelo_path.ok_or_else(|| {
        CellError::new(
            "MpirunError",
            "%%mpirun needs paralelo: PARALELO_PATH is unset or none",
        )
    })?;
    let paralelo = paralelo.canonicalize().unwrap_or(paralelo);
    let io = |e: std::io::Error| {
        CellError::new(
            "MpirunError",
            format!("cannot write the cell's project in {}: {e}", dir.display()),
        )
    };
    let manifest = format!(
        "[package]\nname = \"mpirun-cell\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nparalelo = {{ path = {:?}, features = [\"mpi\"] }}\n\n\
         [profile.release]\ndebug = false\n\n[workspace]\n",
        paralelo.display().to_string()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest).map_err(io)?;
    write_if_changed(&dir.join("src/main.rs"), &program(body)).map_err(io)
}

/// Builds the cell in the locked project and copies its binary to this kernel's own name
/// (`bin/cell-PID`), which every rank runs (other hosts need the cache on a shared path).
fn build(dir: &Path, body: &str, foreground: &Foreground) -> Result<PathBuf, CellError> {
    project(dir, body)?;
    let cargo = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--message-format=short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| CellError::new("MpirunError", format!("cannot run cargo: {e}")))?;
    let build = foreground.during(cargo.id(), || {
        cargo
            .wait_with_output()
            .map_err(|e| CellError::new("MpirunError", format!("cargo build failed: {e}")))
    })?;
    if !build.status.success() {
        return Err(CellError::new(
            "CompileError",
            format!(
                "the cell did not build as a program:\n{}",
                String::from_utf8_lossy(&build.stderr)
            ),
        ));
    }
    let exe = dir.join("bin").join(format!("cell-{}", std::process::id()));
    let copy = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("bin"))?;
        // A new file (not written over one a rank may still be running from).
        let _ = std::fs::remove_file(&exe);
        std::fs::copy(dir.join("target/release/mpirun-cell"), &exe).map(drop)
    };
    copy().map_err(|e| {
        CellError::new(
            "MpirunError",
            format!("cannot copy the cell's program to {}: {e}", exe.display()),
        )
    })?;
    Ok(exe)
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

/// `[1,2]<stdout>:text` (`mpirun --tag-output`) as `[stdout:2] text`.
fn retag(line: &str) -> Option<(bool, String)> {
    let rest = line.strip_prefix('[')?;
    let (ids, rest) = rest.split_once(']')?;
    let rank = ids.split(',').nth(1)?;
    let (stream, text) = rest.strip_prefix('<')?.split_once(">:")?;
    let err = stream == "stderr";
    Some((
        err,
        format!(
            "[{}:{rank}] {text}\n",
            if err { "stderr" } else { "stdout" }
        ),
    ))
}

fn forward(
    reader: impl std::io::Read + Send + 'static,
    sink: Sink,
    stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            let output = match retag(&line) {
                Some((true, text)) => Output::Stderr(text),
                Some((false, text)) => Output::Stdout(text),
                None if stderr => Output::Stderr(format!("{line}\n")),
                None => Output::Stdout(format!("{line}\n")),
            };
            sink(output);
        }
    })
}

/// The engine's foreground process group: the kernel's interrupt sends SIGINT to it.
struct Foreground(std::sync::Arc<std::sync::Mutex<crate::engine::Foreground>>);

impl Foreground {
    /// Runs `wait` with the process group `group` (a child started with `process_group(0)`)
    /// as the foreground one; `wait`'s result, or an interrupt error if the kernel's
    /// interrupt reached the group.
    fn during<T>(
        &self,
        group: u32,
        wait: impl FnOnce() -> Result<T, CellError>,
    ) -> Result<T, CellError> {
        let slot = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        *slot() = crate::engine::Foreground {
            group: i32::try_from(group).ok(),
            interrupted: false,
        };
        let result = wait();
        if std::mem::take(&mut *slot()).interrupted {
            return Err(CellError::new(
                "KeyboardInterrupt",
                "the %%mpirun cell was interrupted",
            ));
        }
        result
    }
}

fn mpirun_cell(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let args = parse(call.args)?;
    if call.body.trim().is_empty() {
        return Err(usage("%%mpirun needs the program below its line"));
    }
    let foreground = Foreground(call.engine.foreground.clone());
    let exe = {
        let (dir, _lock) = lock_project(Instant::now() + args.timeout)?;
        build(&dir, call.body, &foreground)?
    };
    let result = run(&args, &exe, call.sink.clone(), &foreground);
    let _ = std::fs::remove_file(&exe);
    result
}

/// Runs `exe` under `mpirun`, forwarding every rank's lines to `sink`.
fn run(
    args: &Args,
    exe: &Path,
    sink: Sink,
    foreground: &Foreground,
) -> Result<CellValue, CellError> {
    let mut mpirun = Command::new("mpirun");
    mpirun.args([
        "--tag-output",
        "--oversubscribe",
        "--mca",
        "orte_enable_recovery",
        "1",
    ]);
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        mpirun.arg("--allow-run-as-root");
    }
    if let Some(hostfile) = &args.hostfile {
        mpirun.args(["--hostfile", hostfile]);
    }
    // evcxr sets RUST_BACKTRACE=1 for the session; a task's panic on a rank should read as
    // in a program (its message and place), not as a backtrace per rank.
    mpirun.env_remove("RUST_BACKTRACE");
    mpirun
        .args(["-n", &args.ranks.to_string()])
        .arg(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent. If the
    // kernel dies (killed, crashed), mpirun gets SIGTERM and ends the job's ranks instead
    // of running on unseen.
    unsafe {
        mpirun.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = mpirun.spawn().map_err(|e| {
        CellError::new(
            "MpirunError",
            format!("cannot start mpirun ({e}): install Open MPI with bash scripts/mpi-setup"),
        )
    })?;
    let out = forward(child.stdout.take().expect("piped"), sink.clone(), false);
    let err = forward(child.stderr.take().expect("piped"), sink, true);
    let deadline = Instant::now() + args.timeout;
    let status = foreground.during(child.id(), || {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{}", child.id())])
                        .status();
                    let _ = child.wait();
                    return Err(CellError::new(
                        "TimeoutError",
                        format!(
                            "the MPI program ran past --timeout {} s and was killed",
                            args.timeout.as_secs()
                        ),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(CellError::new(
                        "MpirunError",
                        format!("waiting for mpirun failed: {e}"),
                    ));
                }
            }
        }
    })?;
    let _ = (out.join(), err.join());
    if !status.success() {
        return Err(CellError::new(
            "MpirunError",
            format!("mpirun ended with {status}"),
        ));
    }
    Ok(CellValue::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_lines_become_ipyparallel_prefixes() {
        assert_eq!(
            retag("[1,0]<stdout>:hola"),
            Some((false, "[stdout:0] hola\n".into()))
        );
        assert_eq!(
            retag("[1,3]<stderr>:ay"),
            Some((true, "[stderr:3] ay\n".into()))
        );
        assert_eq!(retag("plain"), None);
    }

    #[test]
    fn arguments_are_checked() {
        let a = parse("-n 4 --hostfile hosts --timeout 30").unwrap();
        assert_eq!(
            (a.ranks, a.hostfile.as_deref(), a.timeout.as_secs()),
            (4, Some("hosts"), 30)
        );
        assert!(parse("").is_err());
        assert!(parse("-n 0").is_err());
        assert!(parse("-n 2 --bogus").is_err());
    }

    #[test]
    fn a_cell_without_main_becomes_main_body() {
        let p = program("println!(\"{}\", cluster.size());");
        assert!(
            p.contains("fn main() -> paralelo::Result<()>") && p.contains("paralelo::mpi::init()?")
        );
        assert_eq!(program("fn main() {}"), "fn main() {}");
    }
}
