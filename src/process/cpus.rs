//! How many CPUs there are: for this process (affinity-aware), online, and physical.

use nix::sched::{CpuSet, sched_getaffinity};
use nix::unistd::{Pid, SysconfVar, sysconf};

/// The number of CPUs this process may run on.
///
/// Like Python 3.13's `os.process_cpu_count()`: it honours the CPU affinity mask (`taskset`,
/// containers pinned to cores), so `Pool::new(cpu_count())` never oversubscribes the cores
/// you were given. It is at least 1. For every CPU the machine has online, see
/// [`machine_cpu_count`].
///
/// # Examples
///
/// ```
/// let n = paralelo::cpu_count();
/// assert!(n >= 1 && n <= paralelo::machine_cpu_count());
/// ```
pub fn cpu_count() -> usize {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => machine_cpu_count(),
    }
}

/// The number of logical CPUs the machine has online, whatever this process's affinity
/// (Python's `os.cpu_count()`).
///
/// # Examples
///
/// ```
/// assert!(paralelo::machine_cpu_count() >= 1);
/// ```
pub fn machine_cpu_count() -> usize {
    match sysconf(SysconfVar::_NPROCESSORS_ONLN) {
        Ok(Some(n)) if n > 0 => n as usize,
        _ => num_cpus::get(),
    }
}

/// The number of physical cores (hyper-threads of one core count once).
///
/// # Examples
///
/// ```
/// assert!(paralelo::physical_cpu_count() >= 1);
/// assert!(paralelo::physical_cpu_count() <= paralelo::machine_cpu_count());
/// ```
pub fn physical_cpu_count() -> usize {
    num_cpus::get_physical().max(1)
}
