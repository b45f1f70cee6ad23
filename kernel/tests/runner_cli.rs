//! `paralelo-kernel`'s command line (clap): `--help`, `run --help`, `--version`, and unknown
//! flags answered with the usage and exit status 2. No engine starts.

mod common;
mod runner_util;

use runner_util::kernel;

#[test]
fn help_lists_the_commands() {
    let run = kernel(&["--help"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    for text in [
        "Usage: paralelo-kernel",
        "install",
        "uninstall",
        "run",
        "--connection-file <FILE>",
        "--version",
        "PARALELO_KERNEL_CACHE",
    ] {
        assert!(
            run.stdout.contains(text),
            "{text:?} missing:\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("run-one"),
        "internal command shown:\n{}",
        run.stdout
    );
}

#[test]
fn run_help_lists_every_option() {
    let run = kernel(&["run", "--help"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    for text in [
        "Usage: paralelo-kernel run [OPTIONS] <NOTEBOOK>...",
        "--check",
        "--inplace",
        "--output <DIR>",
        "--timeout <SECONDS>",
        "[default: 600]",
        "--startup-timeout <SECONDS>",
        "--interrupt-grace <SECONDS>",
        "--allow-errors",
        "--progress",
        "--sanitize <FILE>",
        "--sanitize-pids",
        "-p, --parameter <NAME> <VALUE>",
        "--parameters <FILE.json>",
        "--junit <FILE>",
        "-j, --jobs <N>",
        "raises-exception",
        "Exit status: 0",
    ] {
        assert!(
            run.stdout.contains(text),
            "{text:?} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn version_is_the_crate_version() {
    let run = kernel(&["--version"], &[]);
    assert_eq!(run.code(), 0);
    assert_eq!(
        run.stdout.trim(),
        format!("paralelo-kernel {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flags_print_the_usage_and_exit_2() {
    let run = kernel(&["run", "--frobnicate", "a.ipynb"], &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(run.stderr.contains("--frobnicate"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Usage: paralelo-kernel run"),
        "{}",
        run.stderr
    );
    let run = kernel(&["run"], &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(run.stderr.contains("<NOTEBOOK>"), "{}", run.stderr);
    let run = kernel(&["run", "--timeout", "0", "a.ipynb"], &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(run.stderr.contains("above 0"), "{}", run.stderr);
    let run = kernel(&["frobnicate"], &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
}
