//! `cpu_count()` honours the affinity mask; `current_process()` names the main process.

use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use paralelo::prelude::*;

#[test]
fn cpu_count_follows_the_affinity_mask() {
    assert!(cpu_count() >= 1);
    assert!(cpu_count() <= machine_cpu_count());
    // Affinity is per thread on Linux: pin a fresh thread to CPU 0 and ask from there.
    std::thread::spawn(|| {
        let mut only_first = CpuSet::new();
        only_first.set(0).unwrap();
        sched_setaffinity(Pid::from_raw(0), &only_first).unwrap();
        assert_eq!(cpu_count(), 1);
        assert!(machine_cpu_count() >= 1);
    })
    .join()
    .unwrap();
}

#[test]
fn the_main_process_is_called_main_process() {
    let me = current_process();
    assert_eq!(me.name(), "MainProcess");
    assert_eq!(me.pid(), std::process::id());
    // Threads share their process.
    let from_thread = std::thread::spawn(current_process).join().unwrap();
    assert_eq!(from_thread, me);
    let from_pool = Pool::new(1).unwrap().apply(current_process).unwrap();
    assert_eq!(from_pool, me);
}
