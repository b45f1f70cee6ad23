//! CPU time of this process and of its children: `getrusage` for those reaped, `/proc`
//! for those still alive (a pool's persistent workers live as long as the pool), and of
//! the processes registered as working for this one (an MPI job's ranks on this machine,
//! which are `mpirun`'s children, not ours).

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeVal;

/// CPU time used so far: by this process (all its threads) and by its children, reaped
/// or not.
///
/// Take two readings and subtract them with [`CpuTimes::since`] to measure a piece of work.
///
/// # Examples
///
/// ```
/// use paralelo::timing::CpuTimes;
///
/// let before = CpuTimes::now();
/// let mut x = 0u64;
/// for i in 0..1_000_000u64 { x = x.wrapping_add(std::hint::black_box(i)); }
/// let used = CpuTimes::now().since(&before);
/// assert!(used.total() >= used.user);
/// # std::hint::black_box(x);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time spent running this process's own code, summed over its threads.
    pub user: Duration,
    /// Time the kernel spent on this process's behalf.
    pub system: Duration,
    /// User time of child processes: those that ended and were waited for, and those
    /// still alive (a process pool's persistent workers) with their own descendants, alive
    /// or reaped. On rank 0 of an MPI job (`paralelo::mpi::init`, feature `mpi`), the ranks running on this
    /// machine count as children too: they do this process's work on its CPUs, so a
    /// measurement of a map over them shows their CPU time and does not take it for other
    /// programs'.
    pub children_user: Duration,
    /// System time of child processes, counted as [`children_user`](Self::children_user).
    pub children_system: Duration,
}

impl CpuTimes {
    /// The CPU time used up to now. Zero where the system refuses to tell.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::CpuTimes;
    ///
    /// let a = CpuTimes::now();
    /// let b = CpuTimes::now();
    /// assert!(b.user >= a.user && b.system >= a.system);
    /// ```
    pub fn now() -> Self {
        let own = getrusage(UsageWho::RUSAGE_SELF).ok();
        // Reaped children first, then the living: one reaped in between is missed by this
        // reading, never counted twice.
        let children = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
        let (live_user, live_system) = live_children();
        CpuTimes {
            user: own.map_or(Duration::ZERO, |u| to_duration(u.user_time())),
            system: own.map_or(Duration::ZERO, |u| to_duration(u.system_time())),
            children_user: children.map_or(Duration::ZERO, |u| to_duration(u.user_time()))
                + live_user,
            children_system: children.map_or(Duration::ZERO, |u| to_duration(u.system_time()))
                + live_system,
        }
    }

    /// The CPU time used between `earlier` and `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::CpuTimes;
    /// use std::time::Duration;
    ///
    /// let a = CpuTimes { user: Duration::from_secs(3), ..Default::default() };
    /// let b = CpuTimes { user: Duration::from_secs(5), ..Default::default() };
    /// assert_eq!(b.since(&a).user, Duration::from_secs(2));
    /// ```
    pub fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            children_user: self.children_user.saturating_sub(earlier.children_user),
            children_system: self.children_system.saturating_sub(earlier.children_system),
        }
    }

    /// This process's user plus system time.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::CpuTimes;
    /// use std::time::Duration;
    ///
    /// let t = CpuTimes { user: Duration::from_secs(2), system: Duration::from_secs(1), ..Default::default() };
    /// assert_eq!(t.own(), Duration::from_secs(3));
    /// ```
    pub fn own(&self) -> Duration {
        self.user + self.system
    }

    /// The children's user plus system time.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::CpuTimes;
    /// use std::time::Duration;
    ///
    /// let t = CpuTimes { children_user: Duration::from_secs(4), ..Default::default() };
    /// assert_eq!(t.children(), Duration::from_secs(4));
    /// ```
    pub fn children(&self) -> Duration {
        self.children_user + self.children_system
    }

    /// Everything: this process and its children.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::CpuTimes;
    /// use std::time::Duration;
    ///
    /// let t = CpuTimes { user: Duration::from_secs(1), children_system: Duration::from_secs(1), ..Default::default() };
    /// assert_eq!(t.total(), Duration::from_secs(2));
    /// ```
    pub fn total(&self) -> Duration {
        self.own() + self.children()
    }
}

/// Processes counted as this one's children although they are not (set once, read without
/// a lock: a measurement must not wait on another thread).
static ALSO_COUNTED: OnceLock<Box<[String]>> = OnceLock::new();

/// Count `pids` (processes on this machine working for this one) and their descendants in
/// every later [`CpuTimes::now`]. Only the first call takes effect: an MPI job has one set
/// of ranks.
#[cfg(feature = "mpi")]
pub(crate) fn count_also(pids: impl IntoIterator<Item = u32>) {
    let _ = ALSO_COUNTED.set(pids.into_iter().map(|p| p.to_string()).collect());
}

/// User and system time of this process's descendants not yet waited for (running, or
/// ended and not reaped), which `RUSAGE_CHILDREN` does not count yet: each thread's
/// `/proc/self/task/*/children` list, their children in turn (a worker's own helpers, a
/// shell's commands), and each one's `/proc/PID/stat`; the same for the processes given to
/// [`count_also`]. Zero where `/proc` does not tell.
fn live_children() -> (Duration, Duration) {
    let per_second = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    };
    let ticks = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000) / per_second);
    let (mut user, mut system) = (0u64, 0u64);
    let mut pending = children_of("self");
    if let Some(also) = ALSO_COUNTED.get() {
        pending.extend(also.iter().cloned());
    }
    // Every live descendant once: its own time and its reaped children's (the reaped are no
    // longer in the tree, so nothing is counted twice; a registered process that is also a
    // descendant is met twice and counted once). A bound keeps a fork bomb from making a
    // reading endless.
    let mut visited = HashSet::new();
    while let Some(pid) = pending.pop() {
        if visited.len() >= 10_000 {
            break;
        }
        if !visited.insert(pid.clone()) {
            continue;
        }
        if let Some((u, s)) = stat_times(&pid) {
            user += u;
            system += s;
        }
        pending.extend(children_of(&pid));
    }
    (ticks(user), ticks(system))
}

/// The pids of `pid`'s children, from every thread's `children` list (`pid` may be "self").
fn children_of(pid: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            children.extend(list.split_whitespace().map(str::to_owned));
        }
    }
    children
}

/// A process's user and system clock ticks, its reaped children's included (fields 14-17
/// of `/proc/PID/stat`, counted after the command name, which may contain spaces).
fn stat_times(pid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<u64> = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    match fields[..] {
        [utime, stime, cutime, cstime] => Some((utime + cutime, stime + cstime)),
        _ => None,
    }
}

fn to_duration(t: TimeVal) -> Duration {
    Duration::new(
        t.tv_sec().max(0) as u64,
        (t.tv_usec().max(0) as u32) * 1_000,
    )
}
