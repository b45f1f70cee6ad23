//! Busy-machine detection: how much of the CPUs other programs took while a measurement ran.
//!
//! The system's CPU accounting (`/proc/stat`, the `cpu` line: every CPU's busy time) is read
//! before and after the work; what this process and its children used (from [`CpuTimes`])
//! is subtracted, and the rest, over the CPU time the machine could give in that wall time
//! (wall × CPUs), is the share other programs took.

use std::time::Duration;

use super::CpuTimes;

/// Other programs' share of the CPUs from which a measurement is said to have been taken on
/// a busy machine: **25 %** (on 2 CPUs, half a CPU taken away; on 8, two).
///
/// An idle machine's noise stays well below it: background services use a few %, and the
/// system counts CPU time in ticks of 10 ms (`CLK_TCK` = 100), so a reading over 0.1 s is
/// off by a few % at most.
pub const BUSY_THRESHOLD: f64 = 0.25;

/// The shortest measurement (wall time, summed over repeated runs) long enough for a verdict:
/// **0.1 s**. Below it, ticks of 10 ms make the share too coarse to tell a busy machine from
/// an idle one, and [`MachineLoad::busy_share`] says nothing.
pub const BUSY_MIN_WALL: Duration = Duration::from_millis(100);

/// What the whole machine did while a measurement ran: the CPU time all its CPUs were busy
/// (every program, this one included) and the CPU time they could have given.
///
/// # Examples
///
/// ```
/// use paralelo::timing::{CpuTimes, MachineLoad};
/// use std::time::Duration;
///
/// // 1 s on 2 CPUs: 2 s could be given; 1.5 s were busy, 0.5 s of it ours.
/// let load = MachineLoad { busy: Duration::from_millis(1500), capacity: Duration::from_secs(2) };
/// let ours = CpuTimes { user: Duration::from_millis(500), ..Default::default() };
/// assert_eq!(load.others_share(&ours), 0.5);
/// assert_eq!(load.busy_share(&ours, Duration::from_secs(1)), Some(0.5));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineLoad {
    /// CPU time the machine's CPUs were busy, summed over the CPUs (user, system, interrupts
    /// and steal: time a hypervisor gave to other machines counts as taken; niced work,
    /// which yields to a measurement, does not).
    pub busy: Duration,
    /// Wall time × number of CPUs: the CPU time the machine could give meanwhile.
    pub capacity: Duration,
}

impl MachineLoad {
    /// The share of the CPUs (0.0 to 1.0) that programs other than this process and its
    /// children (`ours`) used.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::{CpuTimes, MachineLoad};
    /// use std::time::Duration;
    ///
    /// let idle = MachineLoad { busy: Duration::from_millis(40), capacity: Duration::from_secs(2) };
    /// assert_eq!(idle.others_share(&CpuTimes::default()), 0.02);
    /// ```
    pub fn others_share(&self, ours: &CpuTimes) -> f64 {
        if self.capacity.is_zero() {
            return 0.0;
        }
        let others = self.busy.saturating_sub(ours.total());
        (others.as_secs_f64() / self.capacity.as_secs_f64()).clamp(0.0, 1.0)
    }

    /// [`others_share`](Self::others_share) when it says the machine was busy: at least
    /// [`BUSY_THRESHOLD`], over a measurement of at least [`BUSY_MIN_WALL`].
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::{CpuTimes, MachineLoad};
    /// use std::time::Duration;
    ///
    /// let load = MachineLoad { busy: Duration::from_millis(100), capacity: Duration::from_secs(2) };
    /// assert_eq!(load.busy_share(&CpuTimes::default(), Duration::from_secs(1)), None); // 5 %
    /// ```
    pub fn busy_share(&self, ours: &CpuTimes, wall: Duration) -> Option<f64> {
        let share = self.others_share(ours);
        (wall >= BUSY_MIN_WALL && share >= BUSY_THRESHOLD).then_some(share)
    }

    /// This load and `other`'s together (for repeated runs: the share over all of them).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::timing::MachineLoad;
    /// use std::time::Duration;
    ///
    /// let a = MachineLoad { busy: Duration::from_secs(1), capacity: Duration::from_secs(2) };
    /// assert_eq!(a.plus(&a).capacity, Duration::from_secs(4));
    /// ```
    pub fn plus(&self, other: &MachineLoad) -> MachineLoad {
        MachineLoad {
            busy: self.busy + other.busy,
            capacity: self.capacity + other.capacity,
        }
    }
}

/// A reading of the machine's CPU accounting, to subtract from a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MachineCpu {
    busy_ticks: u64,
    cpus: u32,
}

impl MachineCpu {
    /// The machine's busy time so far, or `None` where `/proc/stat` cannot be read.
    pub(crate) fn now() -> Option<MachineCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        parse_stat(&stat)
    }

    /// The load between `earlier` and `self`, over `wall` of real time.
    pub(crate) fn since(&self, earlier: &MachineCpu, wall: Duration) -> MachineLoad {
        MachineLoad {
            busy: ticks_to_duration(self.busy_ticks.saturating_sub(earlier.busy_ticks)),
            capacity: wall * self.cpus.max(1),
        }
    }
}

/// The machine's load between two optional readings (none when either is missing).
pub(crate) fn load_between(
    before: Option<MachineCpu>,
    after: Option<MachineCpu>,
    wall: Duration,
) -> Option<MachineLoad> {
    Some(after?.since(&before?, wall))
}

/// Busy ticks summed over the CPUs and the number of CPUs, from `/proc/stat`'s text: the
/// first line is `cpu user nice system idle iowait irq softirq steal guest guest_nice`
/// (guest time is already inside user and nice), then one `cpuN` line per online CPU.
fn parse_stat(stat: &str) -> Option<MachineCpu> {
    let mut lines = stat.lines();
    let total: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let field = |i: usize| total.get(i).copied().unwrap_or(0);
    // user + system + irq + softirq + steal. Not idle (3) and iowait (4), and not nice (1):
    // work at a lower priority yields the CPUs to a measurement instead of slowing it (the
    // kernel's own rust-analyzer threads run at nice 19 and would otherwise fill the core a
    // sequential cell leaves free).
    let busy_ticks = field(0) + field(2) + field(5) + field(6) + field(7);
    let cpus = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u32;
    Some(MachineCpu {
        busy_ticks,
        cpus: cpus.max(1),
    })
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let per_second = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    };
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 50 1000 20 3 2 10 0 0\n\
                        cpu0 50 2 25 500 10 1 1 5 0 0\n\
                        cpu1 50 3 25 500 10 2 1 5 0 0\n\
                        intr 12345\nctxt 999\n";

    #[test]
    fn busy_ticks_leave_out_idle_iowait_and_nice() {
        let m = parse_stat(STAT).unwrap();
        assert_eq!(m.busy_ticks, 100 + 50 + 3 + 2 + 10);
        assert_eq!(m.cpus, 2);
    }

    #[test]
    fn the_machine_can_be_read_here() {
        let m = MachineCpu::now().expect("/proc/stat on Linux");
        assert!(m.cpus >= 1);
    }

    #[test]
    fn idle_noise_is_not_busy() {
        // 3 % of 2 CPUs over 1 s: what an idle desktop shows.
        let load = MachineLoad {
            busy: Duration::from_millis(60),
            capacity: Duration::from_secs(2),
        };
        assert_eq!(
            load.busy_share(&CpuTimes::default(), Duration::from_secs(1)),
            None
        );
        // Our own busy threads are not others'.
        let ours = CpuTimes {
            user: Duration::from_millis(1900),
            ..Default::default()
        };
        let loaded = MachineLoad {
            busy: Duration::from_millis(1960),
            capacity: Duration::from_secs(2),
        };
        assert_eq!(loaded.busy_share(&ours, Duration::from_secs(1)), None);
    }

    #[test]
    fn short_measurements_get_no_verdict() {
        let load = MachineLoad {
            busy: Duration::from_millis(20),
            capacity: Duration::from_millis(20),
        };
        assert_eq!(load.others_share(&CpuTimes::default()), 1.0);
        assert_eq!(
            load.busy_share(&CpuTimes::default(), Duration::from_millis(10)),
            None
        );
    }
}
