//! Processes: who is running ([`current_process`]) and on how many CPUs.

mod cpus;
mod current;

pub use cpus::{cpu_count, machine_cpu_count, physical_cpu_count};
#[allow(unused_imports)] // used by the process backend
pub(crate) use current::set_current_name;
pub use current::{ProcessInfo, current_process};
