//! The command line (clap): `install`, `uninstall`, `run`, and serving a connection file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::install::Location;
use crate::runner::RunArgs;

const ENVIRONMENT: &str = "\
Environment:
  PARALELO_PATH          the paralelo crate to preload (`none` disables the preload)
  PARALELO_OPT_LEVEL     evcxr optimisation level for cells (default 1)
  PARALELO_KERNEL_CACHE  persistent build directory (default $XDG_CACHE_HOME/paralelo-kernel)";

/// A Jupyter kernel for Rust with paralelo preloaded, IPython's magics and a headless
/// notebook runner.
#[derive(Debug, Parser)]
#[command(
    name = "paralelo-kernel",
    version,
    after_help = ENVIRONMENT,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// Serve Jupyter on the sockets of this connection file (what the kernelspec runs).
    #[arg(short = 'f', long, value_name = "FILE")]
    connection_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the `paralelo` kernelspec (default: the first $JUPYTER_PATH entry, else --user).
    Install(LocationArgs),
    /// Remove the kernelspec.
    Uninstall(LocationArgs),
    /// Execute notebooks headless, as CI does (nbclient's, nbval's and papermill's options).
    Run(RunArgs),
    /// One notebook of a `run`, in a process of its own (internal).
    #[command(hide = true)]
    RunOne {
        /// The job file written by `run`.
        job: PathBuf,
    },
}

#[derive(Debug, Args)]
#[group(multiple = false)]
struct LocationArgs {
    /// The user's Jupyter data directory ($JUPYTER_DATA_DIR or ~/.local/share/jupyter).
    #[arg(long)]
    user: bool,
    /// The active virtualenv or conda environment.
    #[arg(long)]
    sys_prefix: bool,
    /// DIR/share/jupyter.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
}

impl LocationArgs {
    fn location(self) -> Location {
        match (self.user, self.sys_prefix, self.prefix) {
            (true, _, _) => Location::User,
            (_, true, _) => Location::SysPrefix,
            (_, _, Some(dir)) => Location::Prefix(dir),
            _ => Location::Default,
        }
    }
}

/// Runs the command line; `main` calls this after `evcxr::runtime_hook()`.
///
/// Usage errors (unknown flags, missing values) print the usage and exit with 2, as clap
/// does; `run` exits with 0, 1 or 2 (see [`crate::runner::run`]).
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paralelo-kernel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(file) = cli.connection_file {
        // Files the kernel writes (its build cache, evcxr's sources) are the user's only.
        // SAFETY: umask(2) only sets the process's file mode mask; it cannot fail.
        unsafe { libc::umask(0o077) };
        let _slot = crate::cache::prepare_environment()?;
        crate::server::serve(&file)?;
        return Ok(ExitCode::SUCCESS);
    }
    match cli.command {
        Some(Command::Install(args)) => {
            let dir = crate::install::install(&args.location())?;
            println!(
                "Installed kernelspec {} in {}",
                crate::install::KERNEL_NAME,
                dir.display()
            );
        }
        Some(Command::Uninstall(args)) => {
            let location = args.location();
            match crate::install::uninstall(&location)? {
                Some(dir) => println!("Removed {}", dir.display()),
                None => println!(
                    "No {} kernelspec in {}",
                    crate::install::KERNEL_NAME,
                    location.kernel_dir()?.display()
                ),
            }
        }
        Some(Command::Run(args)) => return Ok(crate::runner::run(args)),
        Some(Command::RunOne { job }) => return crate::runner::run_one(&job),
        // `arg_required_else_help` prints the help for a bare `paralelo-kernel`.
        None => unreachable!("clap requires a command or --connection-file"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("paralelo-kernel").chain(line.split_whitespace()))
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_commands() {
        match parse("install --prefix /tmp/p").unwrap().command {
            Some(Command::Install(args)) => {
                assert_eq!(args.location(), Location::Prefix("/tmp/p".into()))
            }
            other => panic!("{other:?}"),
        }
        match parse("uninstall --user").unwrap().command {
            Some(Command::Uninstall(args)) => assert_eq!(args.location(), Location::User),
            other => panic!("{other:?}"),
        }
        match parse("run a.ipynb --check b.ipynb -p n 5 -p s hola")
            .unwrap()
            .command
        {
            Some(Command::Run(args)) => {
                assert_eq!(args.notebooks, [PathBuf::from("a.ipynb"), "b.ipynb".into()]);
                assert!(args.check && !args.inplace);
                assert_eq!(args.parameter, ["n", "5", "s", "hola"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("--connection-file /x.json").unwrap().connection_file,
            Some("/x.json".into())
        );
        assert!(parse("run").is_err());
        assert!(parse("frobnicate").is_err());
        assert!(parse("install --bogus").is_err());
        assert!(parse("install --user --sys-prefix").is_err());
        assert!(parse("run --inplace --output d a.ipynb").is_err());
        assert!(parse("run --jobs 0 a.ipynb").is_err());
    }
}
