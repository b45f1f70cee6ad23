//! `map` of a stateless function over numbers runs on persistent workers: the same
//! processes from call to call, replaced when they die, ended with the pool.

mod process_util;

use std::collections::HashSet;
use std::time::Duration;

use paralelo::Processes;
use paralelo::prelude::*;
use process_util::in_child;

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn pids_of(pool: &Pool<Processes>) -> HashSet<u32> {
    pool.map(|_: u64| std::process::id(), 0..64u64)
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn stateless_maps_over_numbers_reuse_the_same_workers() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let first = pids_of(&pool);
        assert!(first.len() <= 2 && !first.contains(&std::process::id()));
        for _ in 0..5 {
            assert_eq!(pids_of(&pool), first);
        }
        let idle: HashSet<u32> = pool.map_worker_pids().into_iter().collect();
        assert_eq!(idle, first);
        // Other item types, and capturing closures, fork children for the call.
        let strings = pool
            .map(|_: String| std::process::id(), vec![String::new(); 8])
            .unwrap();
        assert!(strings.iter().all(|p| !first.contains(p)), "{strings:?}");
        let offset = 1u64;
        let captured = pool
            .map(move |_: u64| std::process::id() as u64 + offset, 0..8u64)
            .unwrap();
        assert!(captured.iter().all(|&p| !first.contains(&((p - 1) as u32))));
        // Every plain type crosses intact.
        assert_eq!(
            pool.map(|x: f64| x * 2.0, vec![1.5, -2.25]).unwrap(),
            [3.0, -4.5]
        );
        assert_eq!(
            pool.map(|c: char| c.to_ascii_uppercase(), "año".chars())
                .unwrap(),
            ['A', 'ñ', 'O']
        );
        assert_eq!(
            pool.map(|b: bool| !b, [true, false]).unwrap(),
            [false, true]
        );
        assert_eq!(
            pool.map(|x: i128| x - 1, [i128::MIN + 1, i128::MAX])
                .unwrap(),
            [i128::MIN, i128::MAX - 1]
        );
    });
}

#[test]
fn a_worker_that_dies_fails_its_chunk_and_is_replaced() {
    in_child(60, || {
        for workers in [1, 2, 5] {
            let pool = Pool::builder()
                .workers(workers)
                .chunksize(1)
                .build_processes()
                .unwrap();
            let before = pids_of(&pool);
            let err = pool
                .map(
                    |i: u32| {
                        if i == 2 {
                            std::process::exit(3);
                        }
                        i
                    },
                    0..8u32,
                )
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
            assert!(err.to_string().contains("exit code 3"), "{err}");
            // The pool goes on, with a new worker in place of the dead one.
            assert_eq!(
                pool.map(|x: u32| x * 10, 0..6u32).unwrap(),
                [0, 10, 20, 30, 40, 50]
            );
            let after = pids_of(&pool);
            assert!(after.len() <= workers);
            assert!(before.iter().filter(|p| after.contains(p)).count() < workers.max(2));
        }
    });
}

#[test]
fn a_panic_fails_its_chunk_and_the_worker_stays() {
    in_child(60, || {
        let pool = Pool::processes(1).unwrap();
        let before = pids_of(&pool);
        let err = pool
            .map(
                |x: u64| {
                    if x == 5 {
                        panic!("cinco");
                    }
                    x
                },
                0..10u64,
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskPanicked, "{err}");
        assert!(err.to_string().contains("cinco"), "{err}");
        assert_eq!(pids_of(&pool), before);
    });
}

#[test]
fn a_worker_killed_while_idle_is_replaced_without_failing_a_task() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let before = pids_of(&pool);
        let victim = *before.iter().next().unwrap();
        // SAFETY: kill only sends a signal.
        unsafe { libc::kill(victim as i32, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(50));
        let squares = pool.map(|x: u64| x * x, 0..100u64).unwrap();
        assert_eq!(squares[99], 99 * 99);
        assert!(!pids_of(&pool).contains(&victim));
    });
}

#[test]
fn the_workers_end_with_the_pool() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let pids = pids_of(&pool);
        drop(pool);
        assert!(pids.iter().all(|&p| !alive(p)), "{pids:?} still there");

        let pool = Pool::processes(2).unwrap();
        let pids = pids_of(&pool);
        pool.terminate();
        assert!(pids.iter().all(|&p| !alive(p)), "{pids:?} still there");
        assert_eq!(
            pool.map(|x: u64| x, 0..3u64).unwrap_err().kind(),
            ErrorKind::PoolTerminated
        );
    });
}

#[test]
fn concurrent_maps_keep_at_most_workers_idle_afterwards() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let calls: Vec<_> = (0..3u64)
            .map(|k| {
                pool.map_async(
                    |x: u64| {
                        std::thread::sleep(Duration::from_millis(20));
                        x * 2
                    },
                    k * 10..k * 10 + 10,
                )
                .unwrap()
            })
            .collect();
        for (k, call) in calls.into_iter().enumerate() {
            let k = k as u64;
            assert_eq!(
                call.get().unwrap(),
                (k * 10..k * 10 + 10).map(|x| x * 2).collect::<Vec<_>>()
            );
        }
        assert!(
            pool.map_worker_pids().len() <= 2,
            "{:?}",
            pool.map_worker_pids()
        );
        assert_eq!(pids_of(&pool).len(), 2);
    });
}

#[test]
fn results_bigger_than_a_slot_and_many_small_ones_arrive_intact() {
    in_child(120, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap();
        // 1.5 MiB results go through the socket, small ones through shared memory.
        let sizes = [10u32, 1_500_000, 3, 2_000_000, 0, 7];
        let got = pool
            .map(|n: u32| vec![(n % 251) as u8; n as usize], sizes)
            .unwrap();
        for (n, v) in sizes.iter().zip(&got) {
            assert_eq!(v.len(), *n as usize);
            assert!(v.iter().all(|&b| b == (n % 251) as u8));
        }
        // Many calls in a row reuse the same slots.
        for round in 0..50u64 {
            let got = pool.map(|x: u64| x * x, 0..200u64).unwrap();
            assert_eq!(got[199], 199 * 199, "round {round}");
        }
    });
}

#[test]
fn cpu_times_count_the_workers_that_are_still_alive() {
    in_child(60, || {
        // Each item burns ~100 ms of CPU in a worker that outlives the measurement.
        fn spin(_: u64) -> u64 {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(100) {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            x
        }
        let pool = Pool::processes(2).unwrap();
        let before = paralelo::timing::CpuTimes::now();
        pool.map(spin, 0..4u64).unwrap();
        let used = paralelo::timing::CpuTimes::now().since(&before);
        assert!(!pool.map_worker_pids().is_empty(), "the workers are alive");
        // About 400 ms; the bound only says "counted at all", whatever the machine's load.
        assert!(used.children() > Duration::ZERO, "{used:?}");
    });
}
