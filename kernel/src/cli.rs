//! The command line: `install`, `uninstall`, `run`, and serving a connection file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::install::Location;
use crate::notebook::RunOptions;

const USAGE: &str = "\
paralelo-kernel: a Jupyter kernel for Rust with paralelo preloaded

USAGE:
  paralelo-kernel install [--user | --sys-prefix | --prefix DIR]
      Write the `paralelo` kernelspec (default: first $JUPYTER_PATH entry, else --user).
  paralelo-kernel uninstall [--user | --sys-prefix | --prefix DIR]
      Remove it.
  paralelo-kernel run NOTEBOOK... [--check] [--inplace]
      Execute notebooks headless; --check compares outputs with the stored ones (cells
      tagged `timing` excepted), --inplace writes the fresh outputs back (nbformat 4.5).
  paralelo-kernel --connection-file FILE
      Serve Jupyter (what the kernelspec runs).

ENVIRONMENT:
  PARALELO_PATH          the paralelo crate to preload (`none` disables the preload)
  PARALELO_OPT_LEVEL     evcxr optimisation level for cells (default 1)
  PARALELO_KERNEL_CACHE  persistent build directory (default $XDG_CACHE_HOME/paralelo-kernel)
";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Install(Location),
    Uninstall(Location),
    Run(Vec<PathBuf>, RunOptions),
    Serve(PathBuf),
    Help,
    Version,
}

impl PartialEq for RunOptions {
    fn eq(&self, other: &Self) -> bool {
        self.check == other.check && self.inplace == other.inplace
    }
}

impl Eq for RunOptions {}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// A usage message for unknown commands or options.
pub(crate) fn parse(args: &[String]) -> Result<Command> {
    let Some(first) = args.first() else {
        return Ok(Command::Help);
    };
    let rest = &args[1..];
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "install" => Ok(Command::Install(location(rest)?)),
        "uninstall" => Ok(Command::Uninstall(location(rest)?)),
        "run" => {
            let mut options = RunOptions::default();
            let mut paths = Vec::new();
            for arg in rest {
                match arg.as_str() {
                    "--check" => options.check = true,
                    "--inplace" => options.inplace = true,
                    flag if flag.starts_with("--") => bail!("run: unknown option {flag}"),
                    path => paths.push(PathBuf::from(path)),
                }
            }
            if paths.is_empty() {
                bail!("run: name at least one notebook\n\n{USAGE}");
            }
            Ok(Command::Run(paths, options))
        }
        "--connection-file" | "-f" => match rest {
            [file] => Ok(Command::Serve(PathBuf::from(file))),
            _ => bail!("--connection-file takes exactly one FILE"),
        },
        arg if arg.starts_with("--connection-file=") => Ok(Command::Serve(PathBuf::from(
            &arg["--connection-file=".len()..],
        ))),
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn location(args: &[String]) -> Result<Location> {
    match args {
        [] => Ok(Location::Default),
        [flag] if flag == "--user" => Ok(Location::User),
        [flag] if flag == "--sys-prefix" => Ok(Location::SysPrefix),
        [flag, dir] if flag == "--prefix" => Ok(Location::Prefix(PathBuf::from(dir))),
        [flag] if flag.starts_with("--prefix=") => {
            Ok(Location::Prefix(PathBuf::from(&flag["--prefix=".len()..])))
        }
        other => bail!("expected --user, --sys-prefix or --prefix DIR, got {other:?}"),
    }
}

/// Runs the command line; `main` calls this after `evcxr::runtime_hook()`.
pub(crate) fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paralelo-kernel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    match parse(args)? {
        Command::Help => print!("{USAGE}"),
        Command::Version => println!("paralelo-kernel {}", env!("CARGO_PKG_VERSION")),
        Command::Install(location) => {
            let dir = crate::install::install(&location)?;
            println!(
                "Installed kernelspec {} in {}",
                crate::install::KERNEL_NAME,
                dir.display()
            );
        }
        Command::Uninstall(location) => match crate::install::uninstall(&location)? {
            Some(dir) => println!("Removed {}", dir.display()),
            None => println!(
                "No {} kernelspec in {}",
                crate::install::KERNEL_NAME,
                location.kernel_dir()?.display()
            ),
        },
        Command::Run(paths, options) => {
            let slot = crate::engine::prepare_environment()?;
            eprintln!("paralelo-kernel: work directory {}", slot.dir.display());
            if !crate::notebook::run(&paths, options)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Serve(file) => {
            // Files the kernel writes (its build cache, evcxr's sources) are the user's only.
            // SAFETY: umask(2) only sets the process's file mode mask; it cannot fail.
            unsafe { libc::umask(0o077) };
            let _slot = crate::engine::prepare_environment()?;
            crate::server::serve(&file)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse(&args("install --prefix /tmp/p")).unwrap(),
            Command::Install(Location::Prefix("/tmp/p".into()))
        );
        assert_eq!(
            parse(&args("uninstall --user")).unwrap(),
            Command::Uninstall(Location::User)
        );
        assert_eq!(
            parse(&args("run a.ipynb --check b.ipynb")).unwrap(),
            Command::Run(
                vec!["a.ipynb".into(), "b.ipynb".into()],
                RunOptions {
                    check: true,
                    inplace: false
                }
            )
        );
        assert_eq!(
            parse(&args("--connection-file /x.json")).unwrap(),
            Command::Serve("/x.json".into())
        );
        assert!(parse(&args("run")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
        assert!(parse(&args("install --bogus")).is_err());
    }
}
