// paralelo: the cell crate's rustc command, replayed without cargo.
//
// Each cell is one `cargo build` of the cell crate, and cargo spends ~60 ms of it (reading
// the package graph, checking each dependency's fingerprint) before it runs the one rustc
// that does the work. During a cargo build evcxr's rustc wrapper, set as the workspace
// wrapper (so it sees only the cell crate), writes down that rustc command: program,
// arguments, environment and directory. The following cells run it directly while nothing
// it was made from has changed:
// - the cargo command (toolchain, flags, target, environment given to cargo),
// - this process's environment,
// - the crate's `Cargo.toml` and `.cargo/config.toml` (`:dep`, `:opt`, offline mode),
// - the source files of local dependencies (path dependencies), as their dep-info lists
//   them, and the dependencies' artifacts passed with `--extern`,
// - rustc itself (a toolchain update) and cargo's user configuration.
// Anything else, or a wrapper set by the user or by evcxr itself (sccache, the build cache,
// dylib linking), keeps cargo. Cargo runs rustc with `--error-format=json`, so a replayed
// compile reports the same diagnostics, unwrapped (`CompilationError::opt_new` takes both).

use super::EXECUTION_SO_PATH_ENV;
use super::execution_so_source;
use crate::runtime::WRAP_RUSTC_ENV;
use anyhow::Result;
use serde::Deserialize;
use serde::Serialize;
use std::hash::Hash;
use std::hash::Hasher;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

/// Set for the wrapper: where to write the cell crate's rustc command.
const RECORD_ENV: &str = "EVCXR_RECORD_RUSTC";
const RECORD_FILE: &str = ".evcxr-rustc-command.json";
/// Variables of the recorded environment that are not replayed: the jobserver names file
/// descriptors of the cargo process, and the others are the wrapper's own.
const NOT_REPLAYED: &[&str] = &[
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    WRAP_RUSTC_ENV,
    RECORD_ENV,
    EXECUTION_SO_PATH_ENV,
];

#[derive(Serialize, Deserialize)]
struct RustcCommand {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

/// In the wrapper: writes `command` down if the build asked for it and `command` compiles
/// the cell crate. Arguments or variables that are not UTF-8, or a file that cannot be
/// written, write nothing: the next cell uses cargo, and this build goes on.
pub(super) fn record(command: &Command) {
    let Some(file) = std::env::var_os(RECORD_ENV) else {
        return;
    };
    if execution_so_source(command).is_none() {
        return;
    }
    let text = |s: &std::ffi::OsStr| s.to_str().map(str::to_owned);
    let recorded = (|| {
        Some(RustcCommand {
            program: text(command.get_program())?,
            args: command.get_args().map(text).collect::<Option<_>>()?,
            env: std::env::vars_os()
                .map(|(k, v)| Some((text(&k)?, text(&v)?)))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .filter(|(k, _)| !NOT_REPLAYED.contains(&k.as_str()))
                .collect(),
            dir: std::env::current_dir().ok()?,
        })
    })();
    if let Some(bytes) = recorded.and_then(|r| serde_json::to_vec(&r).ok()) {
        let _ = std::fs::write(file, bytes);
    }
}

/// Sets up `command` (a `cargo build` of the cell crate) to write down its rustc command,
/// unless a wrapper is in place already. Returns the file it will be written to.
pub(super) fn request(
    command: &mut Command,
    crate_dir: &Path,
    wrapper: &Path,
) -> Option<PathBuf> {
    let wrapped = command
        .get_envs()
        .any(|(k, v)| v.is_some() && (k == "RUSTC_WRAPPER" || k == "RUSTC_WORKSPACE_WRAPPER"))
        || std::env::var_os("RUSTC_WRAPPER").is_some_and(|v| !v.is_empty())
        || std::env::var_os("RUSTC_WORKSPACE_WRAPPER").is_some_and(|v| !v.is_empty());
    if wrapped {
        return None;
    }
    let file = crate_dir.join(RECORD_FILE);
    let _ = std::fs::remove_file(&file);
    command
        .env("RUSTC_WORKSPACE_WRAPPER", wrapper)
        .env(WRAP_RUSTC_ENV, "1")
        .env(RECORD_ENV, &file);
    Some(file)
}

/// What `command` (before `request`) and the crate's manifests make: replays are valid for
/// one key only.
pub(super) fn key(command: &Command, crate_dir: &Path) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    format!("{command:?}").hash(&mut hasher);
    for var in std::env::vars_os() {
        var.hash(&mut hasher);
    }
    for manifest in ["Cargo.toml", ".cargo/config.toml"] {
        std::fs::read(crate_dir.join(manifest)).ok().hash(&mut hasher);
    }
    hasher.finish()
}

pub(crate) struct Replay {
    key: u64,
    rustc: RustcCommand,
    so_file: PathBuf,
    /// Files whose change makes cargo rebuild a dependency, with their modification times.
    inputs: Vec<(PathBuf, Option<SystemTime>)>,
}

/// What a replay did.
pub(super) enum Replayed {
    Built(PathBuf),
    /// rustc failed: its output, to be read like cargo's.
    Failed(std::process::Output),
}

impl Replay {
    /// After a cargo build that was `request`ed with `file`: the replay of what it ran.
    /// `None` when it ran no rustc for the cell crate (nothing recorded).
    pub(super) fn load(key: u64, file: &Path, crate_dir: &Path) -> Option<Replay> {
        let rustc: RustcCommand = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
        let so_file = rustc
            .dir
            .join(execution_so_source(&Command::new("rustc").args(&rustc.args))?);
        let mut inputs = local_sources(so_file.parent()?, crate_dir);
        inputs.extend(externs(&rustc.args).map(|path| rustc.dir.join(path)));
        // A toolchain update replaces rustc (cargo would rebuild every dependency for the
        // new one), and cargo reads its user configuration at each build.
        inputs.push(PathBuf::from(&rustc.program));
        inputs.extend(cargo_home().map(|home| home.join("config.toml")));
        Some(Replay {
            key,
            so_file,
            inputs: inputs
                .into_iter()
                .map(|path| {
                    let time = modified(&path);
                    (path, time)
                })
                .collect(),
            rustc,
        })
    }

    pub(super) fn is_valid(&self, key: u64) -> bool {
        self.key == key && self.inputs.iter().all(|(path, time)| modified(path) == *time)
    }

    pub(super) fn run(&self) -> Result<Replayed> {
        let output = Command::new(&self.rustc.program)
            .args(&self.rustc.args)
            .env_clear()
            .envs(self.rustc.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.rustc.dir)
            .output()?;
        Ok(if output.status.success() {
            Replayed::Built(self.so_file.clone())
        } else {
            Replayed::Failed(output)
        })
    }
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cargo")))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The artifacts of `--extern NAME=PATH`.
fn externs(args: &[String]) -> impl Iterator<Item = &str> {
    args.windows(2)
        .filter(|pair| pair[0] == "--extern")
        .filter_map(|pair| Some(pair[1].split_once('=')?.1))
}

/// Every source file the dep-info files in `out_dir` list, but those of crates that cannot
/// change without a new `Cargo.lock` (registry and git checkouts), the toolchain's and the
/// cell crate's own (compiled each time anyway; cargo gives a workspace member's sources
/// relative paths, other crates' absolute ones).
fn local_sources(out_dir: &Path, crate_dir: &Path) -> Vec<PathBuf> {
    let fixed = ["/registry/src/", "/git/checkouts/", "/lib/rustlib/"];
    let mut sources = std::collections::BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "d") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // Makefile syntax: after the rule, each input again as `PATH:` on a line of its own.
        for line in text.lines() {
            if line.starts_with('#') || line.contains(": ") {
                continue;
            }
            let Some(source) = line.strip_suffix(':') else {
                continue;
            };
            let source = PathBuf::from(source.replace("\\ ", " "));
            let text = source.to_string_lossy();
            if source.is_absolute()
                && !fixed.iter().any(|f| text.contains(f))
                && !source.starts_with(crate_dir)
            {
                sources.insert(source);
            }
        }
    }
    sources.into_iter().collect()
}
