//! Reliability: fork storms while rayon is busy, children that must not outlive their
//! parent (or the thread that started them), and nothing left behind on disk.

mod process_util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paralelo::prelude::*;
use process_util::{in_child, running};

#[test]
fn fork_a_thousand_times_while_rayon_is_busy() {
    in_child(300, || {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let busy = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let v = par_map(|x: u64| (0..2_000u64).fold(x, |a, b| a ^ b), 0..5_000u64);
                std::hint::black_box(v.unwrap());
            }
        });
        for i in 0..1000u64 {
            let p = Process::new(move || {
                // The child gets rayon threads of its own.
                let v = par_map(|x: u64| x + i, 0..64u64).unwrap();
                assert_eq!(v[63], 63 + i);
            });
            p.start().unwrap();
            assert!(
                p.join_timeout(Duration::from_secs(20)).unwrap(),
                "child {i} hung"
            );
            assert_eq!(p.exitcode(), Some(0), "child {i}");
        }
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();
    });
}

fn shm_entries() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn no_orphan_survives_its_killed_parent_and_nothing_is_left_behind() {
    in_child(60, || {
        let shm_before = shm_entries();
        let pids = Queue::<u32>::new().unwrap();
        let report = pids.clone();
        let parent = Process::named("padre", move || {
            let pool = Pool::processes(2).unwrap();
            let mut waiting = Vec::new();
            for _ in 0..2 {
                let r = report.clone();
                waiting.push(
                    pool.apply_async(move || {
                        r.put(std::process::id()).unwrap();
                        std::thread::sleep(Duration::from_secs(60));
                    })
                    .unwrap(),
                );
            }
            let r = report.clone();
            let child = Process::new(move || {
                r.put(std::process::id()).unwrap();
                std::thread::sleep(Duration::from_secs(60));
            });
            child.start().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        });
        parent.start().unwrap();
        let children: Vec<u32> = (0..3)
            .map(|_| pids.get_timeout(Duration::from_secs(20)).unwrap())
            .collect();
        assert!(children.iter().all(|&pid| running(pid)));
        parent.kill().unwrap();
        parent.join().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        for pid in children {
            assert!(!running(pid), "worker {pid} outlived its killed parent");
        }
        assert_eq!(shm_entries(), shm_before, "something was left in /dev/shm");
    });
}

#[test]
fn a_process_started_from_a_short_lived_thread_keeps_running() {
    in_child(30, || {
        let done = Event::new().unwrap();
        let signal = done.clone();
        let p = std::thread::spawn(move || {
            let p = Process::new(move || {
                std::thread::sleep(Duration::from_millis(300));
                signal.set().unwrap();
            });
            p.start().unwrap();
            p
        })
        .join()
        .unwrap();
        // The thread that started it has ended; the child must not have been killed.
        assert!(done.wait_timeout(Duration::from_secs(10)).unwrap());
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    });
}

/// Run by `output_of_a_child_appears_exactly_once` in a fresh copy of this test binary,
/// whose stdout it reads.
#[test]
fn output_helper() {
    if std::env::var_os("PARALELO_OUTPUT_HELPER").is_none() {
        return;
    }
    print!("<antes del fork, sin salto de línea>");
    let p = Process::new(|| print!("<desde el hijo>"));
    p.start().unwrap();
    p.join().unwrap();
    println!("<después>");
}

#[test]
fn output_of_a_child_appears_exactly_once() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "output_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PARALELO_OUTPUT_HELPER", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for piece in [
        "<antes del fork, sin salto de línea>",
        "<desde el hijo>",
        "<después>",
    ] {
        assert_eq!(stdout.matches(piece).count(), 1, "{piece} in:\n{stdout}");
    }
}
