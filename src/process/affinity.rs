//! CPU affinity: pin the running process or thread to cores, and see which core it is on.

use crate::{Result, sys};

/// Pins the calling thread to `cores` (the whole process, when it has one thread — a
/// forked [`Process`](crate::Process) child does): the scheduler runs it only there. Like
/// psutil's `Process().cpu_affinity([0])` in the course's S4-2.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// std::thread::spawn(|| -> Result<()> {
///     set_cpu_affinity(&[0])?;
///     assert_eq!(current_cpu()?, 0);
///     Ok(())
/// })
/// .join()
/// .unwrap()?;
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind) when `cores` is empty or names a core
/// the machine does not have (a 2-core machine has cores 0 and 1; no wrap-around);
/// [`ErrorKind::Os`](crate::ErrorKind) when the system refuses (the core exists but this
/// process may not use it, e.g. in a container pinned elsewhere).
///
/// ```
/// use paralelo::prelude::*;
///
/// let err = set_cpu_affinity(&[10_000]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// ```
pub fn set_cpu_affinity(cores: &[usize]) -> Result<()> {
    sys::set_affinity(cores)
}

/// The core the calling thread is running on right now (`sched_getcpu`), for seeing where
/// tasks ran (S4-3). Without pinning, it may change at any moment.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// assert!(current_cpu()? < machine_cpu_count());
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::Os`](crate::ErrorKind) if the system cannot tell.
pub fn current_cpu() -> Result<usize> {
    sys::current_cpu()
}
