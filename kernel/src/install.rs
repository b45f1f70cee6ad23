//! `install` / `uninstall`: the `paralelo` kernelspec, written where `jupyter kernelspec
//! install` would put it, without needing Python.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

/// The kernelspec's directory name.
pub(crate) const KERNEL_NAME: &str = "paralelo";
/// The name Jupyter shows in its launcher.
pub(crate) const DISPLAY_NAME: &str = "Rust (paralelo)";

const LOGO_32: &[u8] = include_bytes!("../assets/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../assets/logo-64x64.png");

/// Where to install, as `jupyter kernelspec install` understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// `--user`: `$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter` or `~/.local/share/jupyter`.
    User,
    /// `--sys-prefix`: the active virtualenv or conda environment (`$VIRTUAL_ENV`, `$CONDA_PREFIX`).
    SysPrefix,
    /// `--prefix DIR`: `DIR/share/jupyter`.
    Prefix(PathBuf),
    /// No flag: the first `$JUPYTER_PATH` entry if set, else like `--user`.
    Default,
}

impl Location {
    /// The Jupyter data directory (the one holding `kernels/`).
    ///
    /// # Errors
    ///
    /// `--sys-prefix` with no active environment, or no home directory.
    pub(crate) fn data_dir(&self) -> Result<PathBuf> {
        match self {
            Location::Prefix(dir) => Ok(dir.join("share").join("jupyter")),
            Location::SysPrefix => {
                let prefix = std::env::var_os("VIRTUAL_ENV")
                    .or_else(|| std::env::var_os("CONDA_PREFIX"))
                    .filter(|p| !p.is_empty());
                match prefix {
                    Some(p) => Ok(PathBuf::from(p).join("share").join("jupyter")),
                    None => bail!(
                        "--sys-prefix: no active environment (neither VIRTUAL_ENV nor \
                         CONDA_PREFIX is set); use --prefix DIR or --user"
                    ),
                }
            }
            Location::Default => match std::env::var_os("JUPYTER_PATH") {
                Some(path) if !path.is_empty() => {
                    let first = std::env::split_paths(&path).next();
                    match first {
                        Some(first) => Ok(first),
                        None => Location::User.data_dir(),
                    }
                }
                _ => Location::User.data_dir(),
            },
            Location::User => {
                if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR").filter(|d| !d.is_empty()) {
                    return Ok(PathBuf::from(dir));
                }
                if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
                    return Ok(PathBuf::from(dir).join("jupyter"));
                }
                let home = std::env::var_os("HOME").context("HOME is not set")?;
                Ok(PathBuf::from(home)
                    .join(".local")
                    .join("share")
                    .join("jupyter"))
            }
        }
    }

    /// The kernelspec directory.
    pub(crate) fn kernel_dir(&self) -> Result<PathBuf> {
        Ok(self.data_dir()?.join("kernels").join(KERNEL_NAME))
    }
}

/// The `kernel.json` for the binary at `exe`, preloading `paralelo_path`.
pub(crate) fn kernel_json(exe: &Path, paralelo_path: Option<&Path>) -> serde_json::Value {
    let mut env = serde_json::Map::new();
    if let Some(path) = paralelo_path {
        env.insert("PARALELO_PATH".into(), json!(path.display().to_string()));
    }
    json!({
        "argv": [exe.display().to_string(), "--connection-file", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        "interrupt_mode": "message",
        "env": env,
        "metadata": { "debugger": false },
    })
}

/// Writes the kernelspec; returns its directory.
///
/// # Errors
///
/// When the directory cannot be created or written.
pub(crate) fn install(location: &Location) -> Result<PathBuf> {
    let dir = location.kernel_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let exe = std::env::current_exe()
        .context("cannot find this program's path")?
        .canonicalize()?;
    let config = crate::engine::EngineConfig::from_env();
    let paralelo = config.paralelo_path.map(|p| p.canonicalize().unwrap_or(p));
    let spec = kernel_json(&exe, paralelo.as_deref());
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "kernel.json",
        serde_json::to_string_pretty(&spec)?.as_bytes(),
    )?;
    write("logo-32x32.png", LOGO_32)?;
    write("logo-64x64.png", LOGO_64)?;
    Ok(dir)
}

/// Removes the kernelspec; returns the directory removed, if there was one.
///
/// # Errors
///
/// When the directory exists but cannot be removed.
pub(crate) fn uninstall(location: &Location) -> Result<Option<PathBuf>> {
    let dir = location.kernel_dir()?;
    if !dir.join("kernel.json").exists() {
        return Ok(None);
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_layout_and_spec() {
        let loc = Location::Prefix(PathBuf::from("/opt/x"));
        assert_eq!(
            loc.kernel_dir().unwrap(),
            PathBuf::from("/opt/x/share/jupyter/kernels/paralelo")
        );
        let spec = kernel_json(Path::new("/bin/k"), Some(Path::new("/src/paralelo")));
        assert_eq!(spec["argv"][1], "--connection-file");
        assert_eq!(spec["argv"][2], "{connection_file}");
        assert_eq!(spec["language"], "rust");
        assert_eq!(spec["interrupt_mode"], "message");
        assert_eq!(spec["env"]["PARALELO_PATH"], "/src/paralelo");
    }

    #[test]
    fn logos_are_png() {
        assert!(LOGO_32.starts_with(b"\x89PNG") && LOGO_64.starts_with(b"\x89PNG"));
    }
}
