//! Persistent workers killed while idle (as an OOM killer would) are not charged to the
//! next task: `apply` and `apply_async` check that a worker lives before handing it a task
//! and replace a dead one, on 1, 2 and 5 workers.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::{in_child, running};

fn nap_then_pid() -> u32 {
    std::thread::sleep(Duration::from_millis(300));
    std::process::id()
}

fn killed_idle_workers_are_replaced(workers: usize) {
    let pool = Pool::processes(workers).unwrap();
    // Busy every worker at once, so that the pool forks all of them.
    let warm: Vec<_> = (0..workers)
        .map(|_| pool.apply_async(nap_then_pid).unwrap())
        .collect();
    for r in warm {
        r.get().unwrap();
    }
    assert_eq!(pool.apply(|| 1 + 1).unwrap(), 2);
    let pids = pool.persistent_worker_pids();
    assert!(!pids.is_empty(), "the pool has persistent workers");
    for &pid in &pids {
        // SAFETY-free: a plain kill(2) through the shell's own tool.
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    }
    for &pid in &pids {
        for _ in 0..200 {
            if !running(pid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!running(pid), "worker {pid} is dead");
    }
    for round in 0..3 {
        assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42, "apply, round {round}");
        let later = pool.apply_async(|| 5 + 5).unwrap();
        assert_eq!(later.get().unwrap(), 10, "apply_async, round {round}");
    }
    let now = pool.persistent_worker_pids();
    assert!(!now.is_empty());
    assert!(
        now.iter().all(|p| !pids.contains(p)),
        "dead workers were replaced"
    );
}

#[test]
fn one_killed_idle_worker() {
    in_child(60, || killed_idle_workers_are_replaced(1));
}

#[test]
fn two_killed_idle_workers() {
    in_child(60, || killed_idle_workers_are_replaced(2));
}

#[test]
fn five_killed_idle_workers() {
    in_child(60, || killed_idle_workers_are_replaced(5));
}
