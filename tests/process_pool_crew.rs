//! One persistent crew serves both `apply` (a stateless closure) and `map` (a stateless
//! function over plain items): the same at most `workers` processes, a crash failing
//! exactly its task or chunk, `terminate` cancelling either, stale workers replaced, a
//! forked copy of the pool refused. Each test runs in a child with a deadline, so a hang
//! fails instead of freezing.

mod process_util;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use paralelo::Processes;
use paralelo::prelude::*;
use process_util::{gone, in_child, wait_until};

fn pids_of(pool: &Pool<Processes>) -> HashSet<u32> {
    pool.map(|_: u64| std::process::id(), 0..64u64)
        .unwrap()
        .into_iter()
        .collect()
}

fn slow_square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    x * x
}

fn exit4() -> u32 {
    std::process::exit(4)
}

#[test]
fn apply_and_map_share_the_same_workers() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let mapped = pids_of(&pool);
        assert!(mapped.len() <= 2 && !mapped.contains(&std::process::id()));
        // `apply` finds the workers `map` forked, and forks none of its own.
        for _ in 0..10 {
            assert!(mapped.contains(&pool.apply(std::process::id).unwrap()));
        }
        let all: HashSet<u32> = pool.persistent_worker_pids().into_iter().collect();
        assert_eq!(all, mapped);
        assert_eq!(pool.fast_path_runs(), 10);
        // The other way round: a map after applies runs on the workers apply forked.
        let pool = Pool::processes(2).unwrap();
        let applied = pool.apply(std::process::id).unwrap();
        assert!(pids_of(&pool).contains(&applied));
        assert!(pool.persistent_worker_pids().len() <= 2);
    });
}

#[test]
fn apply_and_map_interleaved_from_threads_keep_at_most_workers_processes() {
    in_child(120, || {
        let pool = Pool::processes(2).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..300 {
                    assert_eq!(pool.apply(|| 6u32 * 7).unwrap(), 42);
                }
            });
            s.spawn(|| {
                for round in 0..40u64 {
                    let got = pool.map(|x: u64| x * 3, 0..500u64).unwrap();
                    assert_eq!(got.len(), 500, "round {round}");
                    assert!(got.iter().enumerate().all(|(i, &v)| v == 3 * i as u64));
                }
            });
            s.spawn(|| {
                for _ in 0..20 {
                    let r = pool.apply_async(|| 5u8).unwrap();
                    let m = pool.map_async(|x: u32| x + 1, 0..100u32).unwrap();
                    assert_eq!(r.get().unwrap(), 5);
                    assert_eq!(m.get().unwrap()[99], 100);
                }
            });
        });
        assert!(
            pool.persistent_worker_pids().len() <= 2,
            "{:?}",
            pool.persistent_worker_pids()
        );
        assert!(pool.fast_path_runs() > 0);
    });
}

#[test]
fn a_crash_in_map_or_apply_fails_only_its_call_and_the_crew_goes_on() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap();
        let err = pool
            .map(
                |i: u32| {
                    if i == 3 {
                        std::process::exit(3);
                    }
                    i
                },
                0..8u32,
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
        assert!(err.to_string().contains("exit code 3"), "{err}");
        // An apply right after runs on the crew (a replaced or surviving worker).
        let pid = pool.apply(std::process::id).unwrap();
        assert!(pool.persistent_worker_pids().contains(&pid));
        let err = pool.apply(exit4).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
        assert!(err.to_string().contains("exit code 4"), "{err}");
        assert_eq!(
            pool.map(|x: u32| x * 2, 0..6u32).unwrap(),
            [0, 2, 4, 6, 8, 10]
        );
        assert!(pool.persistent_worker_pids().len() <= 2);
    });
}

#[test]
fn terminate_during_a_map_on_the_crew_cancels_it_and_reaps_the_workers() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap();
        let workers = pids_of(&pool);
        let running = pool.map_async(slow_square, 0..200u64).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        pool.terminate();
        let err = running.get_timeout(Duration::from_secs(20)).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Cancelled | ErrorKind::PoolTerminated),
            "{err}"
        );
        assert!(pool.join_timeout(Duration::from_secs(20)).unwrap());
        for pid in workers {
            wait_until("terminated workers are reaped", || gone(pid));
        }
        assert!(pool.persistent_worker_pids().is_empty());
    });
}

#[test]
fn a_map_that_finds_the_crew_busy_still_runs() {
    in_child(60, || {
        // The one worker is held by a long apply: the map forks children for the call.
        let pool = Arc::new(Pool::processes(1).unwrap());
        let long = pool
            .apply_async(|| {
                std::thread::sleep(Duration::from_millis(400));
                1u8
            })
            .unwrap();
        wait_until("the worker is busy", || {
            pool.persistent_worker_pids().len() == 1 && pool.map_worker_pids().is_empty()
        });
        let worker = pool.persistent_worker_pids()[0];
        let pids = pool.map(|_: u64| std::process::id(), 0..16u64).unwrap();
        assert!(pids.iter().all(|&p| p != worker), "{pids:?}");
        assert_eq!(long.get().unwrap(), 1);
        assert_eq!(pool.persistent_worker_pids(), [worker]);
    });
}

/// Loads and unloads a library the process did not have: the loader's unload count moves,
/// so no worker forked before can be sure to have a function at the same address (as with
/// a notebook cell's code loaded after the workers were forked). False if none could be
/// loaded here.
fn load_and_unload_a_library() -> bool {
    for name in [c"libresolv.so.2", c"libutil.so.1", c"libz.so.1"] {
        // SAFETY: dlopen / dlclose of a system library with no constructors that matter.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if !handle.is_null() {
            // SAFETY: `handle` came from dlopen and is closed once.
            unsafe { libc::dlclose(handle) };
            return true;
        }
    }
    false
}

#[test]
fn code_loaded_after_the_workers_gets_fresh_workers_for_apply_and_map() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let old = pids_of(&pool);
        if !load_and_unload_a_library() {
            eprintln!("no library to load and unload here: nothing to check");
            return;
        }
        let fresh = pool.apply(std::process::id).unwrap();
        assert!(
            !old.contains(&fresh),
            "{fresh} was forked before the change"
        );
        assert!(pool.persistent_worker_pids().len() <= 2);
        let mapped = pids_of(&pool);
        assert!(
            mapped.iter().all(|p| !old.contains(p)),
            "{mapped:?} vs {old:?}"
        );
        assert!(mapped.contains(&fresh));
        for pid in old {
            wait_until("stale workers leave and are reaped", || {
                pids_of(&pool);
                gone(pid)
            });
        }
        assert!(pool.persistent_worker_pids().len() <= 2);
    });
}

#[test]
fn a_forked_copy_of_the_pool_refuses_map_and_apply() {
    in_child(60, || {
        let pool = Arc::new(Pool::processes(2).unwrap());
        let workers = pids_of(&pool);
        let copy = pool.clone();
        let child = Process::new(move || {
            let err = copy.map(|x: u64| x + 1, 0..10u64).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
            let err = copy.apply(|| 1u8).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
            drop(copy);
        });
        child.start().unwrap();
        child.join().unwrap();
        assert_eq!(child.exitcode(), Some(0));
        // The parent's workers were not touched by the copy.
        assert_eq!(pids_of(&pool), workers);
    });
}
