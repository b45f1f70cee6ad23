//! `Process::join` in one thread does not block the others: a watchdog thread can read
//! `pid`/`is_alive` and `kill` or `terminate` a runaway child while another thread waits
//! in `join` (Python allows the pattern; `Process` is `Sync`).

mod process_util;

use std::sync::Arc;
use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

fn watchdog_stops_a_joined_child(stop: fn(&Process) -> Result<()>, signal: i32) {
    let p = Arc::new(Process::new(|| std::thread::sleep(Duration::from_secs(60))));
    p.start().unwrap();
    let joiner = {
        let p = p.clone();
        std::thread::spawn(move || p.join())
    };
    std::thread::sleep(Duration::from_millis(200)); // the joiner is inside join by now
    assert!(p.pid().is_some());
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    stop(&p).unwrap();
    joiner.join().unwrap().unwrap();
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), Some(-signal));
}

#[test]
fn a_watchdog_thread_kills_a_child_another_thread_is_joining() {
    in_child(30, || watchdog_stops_a_joined_child(Process::kill, 9));
}

#[test]
fn a_watchdog_thread_terminates_a_child_another_thread_is_joining() {
    in_child(30, || watchdog_stops_a_joined_child(Process::terminate, 15));
}

#[test]
fn two_threads_join_the_same_child_and_both_see_its_end() {
    in_child(30, || {
        let p = Arc::new(Process::new(|| {
            std::thread::sleep(Duration::from_millis(300))
        }));
        p.start().unwrap();
        let joiners: Vec<_> = (0..2)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || p.join())
            })
            .collect();
        assert!(!p.join_timeout(Duration::from_millis(10)).unwrap());
        for j in joiners {
            j.join().unwrap().unwrap();
        }
        assert_eq!(p.exitcode(), Some(0));
    });
}
