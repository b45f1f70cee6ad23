//! CPU time of this process and of its reaped children, from `getrusage`.

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeVal;

/// CPU time used so far: by this process (all its threads) and by its reaped children.
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
    /// User time of child processes that have ended and been waited for.
    pub children_user: Duration,
    /// System time of child processes that have ended and been waited for.
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
        let children = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
        CpuTimes {
            user: own.map_or(Duration::ZERO, |u| to_duration(u.user_time())),
            system: own.map_or(Duration::ZERO, |u| to_duration(u.system_time())),
            children_user: children.map_or(Duration::ZERO, |u| to_duration(u.user_time())),
            children_system: children.map_or(Duration::ZERO, |u| to_duration(u.system_time())),
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

    /// Everything: this process and its reaped children.
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

fn to_duration(t: TimeVal) -> Duration {
    Duration::new(
        t.tv_sec().max(0) as u64,
        (t.tv_usec().max(0) as u32) * 1_000,
    )
}
