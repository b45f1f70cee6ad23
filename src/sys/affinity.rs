//! CPU affinity: pin the calling thread to a core, and ask which core it runs on.

use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

use crate::{Error, Result};

/// Pins the calling thread (the whole process, when it has one thread) to `cores`.
pub(crate) fn set_affinity(cores: &[usize]) -> Result<()> {
    let online = crate::machine_cpu_count();
    if cores.is_empty() {
        return Err(Error::invalid_argument(
            "no core given: pass at least one core number",
        ));
    }
    let mut set = CpuSet::new();
    for &core in cores {
        if core >= online {
            return Err(Error::invalid_argument(format!(
                "core {core} does not exist: this machine has {online} CPUs, numbered 0 to {}",
                online - 1
            )));
        }
        set.set(core).map_err(|e| Error::os("CpuSet::set", e))?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|errno| {
        Error::os(
            &format!("sched_setaffinity to cores {cores:?} (allowed: see cpu_count())"),
            errno,
        )
    })
}

/// The core the calling thread is running on right now.
pub(crate) fn current_cpu() -> Result<usize> {
    // SAFETY: sched_getcpu has no arguments and no side effects.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return Err(Error::os("sched_getcpu", nix::errno::Errno::last()));
    }
    Ok(cpu as usize)
}
