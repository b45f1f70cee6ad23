//! `paralelo-kernel`: a Jupyter kernel for Rust with `paralelo` preloaded, IPython-style
//! magics, a kernelspec installer and a headless notebook runner.
//!
//! The binary is also evcxr's evaluation child: evcxr re-runs this executable with an
//! environment variable set, and [`evcxr::runtime_hook`] turns that process into the child.
//! That is why it must be the very first call of `main` (without it the kernel would
//! start kernels recursively).

mod cache;
mod claims;
mod cli;
mod compile_processes;
mod completeness;
mod connection;
mod engine;
mod history;
mod install;
mod magics;
mod message;
mod output;
mod panics;
mod runner;
mod server;
mod worker;

fn main() -> std::process::ExitCode {
    evcxr::runtime_hook();
    cli::main()
}
