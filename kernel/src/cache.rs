//! The kernel's build cache: one root (`~/.cache/paralelo-kernel` unless told otherwise)
//! shared by every kernel and runner on the machine, holding locked evcxr work directories
//! (`slot-N`, one kernel each, kept between starts so warm starts find `paralelo` built)
//! and the `%%mpirun` cells' project.

use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::output::DISPLAY_ENV;

/// The cache root: `$PARALELO_KERNEL_CACHE`, else `$XDG_CACHE_HOME/paralelo-kernel`, else
/// `~/.cache/paralelo-kernel`.
pub(crate) fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PARALELO_KERNEL_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("paralelo-kernel");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("paralelo-kernel")
}

/// A locked slot of the cache: a persistent evcxr work directory used by one kernel at a time.
pub(crate) struct Slot {
    /// The work directory evcxr uses.
    pub(crate) dir: PathBuf,
    _lock: File,
}

/// Picks and locks the first free work directory `slot-N` under the cache root and points
/// evcxr at it (`EVCXR_TMPDIR`).
///
/// Must run while the process has one thread (it sets environment variables), so `main`
/// calls it before starting any runtime. Two kernels never share a slot; each slot keeps its
/// build across kernel starts, so the second start of a kernel finds everything compiled.
pub(crate) fn prepare_environment() -> Result<Slot> {
    let root = cache_root();
    std::fs::create_dir_all(&root)
        .with_context(|| format!("cannot create cache directory {}", root.display()))?;
    for n in 0..64 {
        let lock_path = root.join(format!("slot-{n}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if file.try_lock().is_ok() {
            let dir = root.join(format!("slot-{n}"));
            std::fs::create_dir_all(&dir)?;
            // evcxr's cells find libstd through a relative RUNPATH that only resolves from
            // shallow work directories (it works under /tmp by luck); name the directory.
            let library_path = rust_library_path();
            // SAFETY: called from `main` before any other thread is started, so nothing
            // reads the environment concurrently.
            unsafe {
                std::env::set_var("EVCXR_TMPDIR", &dir);
                // Inherited by evcxr's evaluation process (and the processes its cells
                // fork); shell commands run by magics get it removed.
                std::env::set_var(DISPLAY_ENV, "1");
                if let Some(path) = library_path {
                    std::env::set_var("LD_LIBRARY_PATH", path);
                }
            };
            return Ok(Slot { dir, _lock: file });
        }
    }
    anyhow::bail!(
        "all 64 kernel work directories under {} are in use",
        root.display()
    )
}

/// `LD_LIBRARY_PATH` extended with the toolchain's directories holding `libstd-*.so`.
fn rust_library_path() -> Option<std::ffi::OsString> {
    let output = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(sysroot.join("lib").join("rustlib"))
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("lib")))
        .filter(|lib| {
            std::fs::read_dir(lib).is_ok_and(|mut files| {
                files.any(|f| {
                    f.is_ok_and(|f| {
                        let name = f.file_name();
                        let name = name.to_string_lossy();
                        name.starts_with("libstd-") && name.ends_with(".so")
                    })
                })
            })
        })
        .collect();
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(dirs).ok()
}
