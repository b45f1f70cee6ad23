//! Processes: who is running ([`current_process`]), on how many CPUs, and [`Process`]
//! itself (a closure in a forked child).

mod affinity;
mod cpus;
mod current;
mod logging;
mod outcome;
#[allow(clippy::module_inception)] // the file is named after its one public type
mod process;

pub use affinity::{current_cpu, set_cpu_affinity};
pub use cpus::{cpu_count, machine_cpu_count, physical_cpu_count};
pub(crate) use current::set_current_name;
pub use current::{ProcessInfo, current_process};
pub use logging::log_to_stderr;
pub use outcome::ExitOutcome;
pub use process::Process;
