//! The crash matrix: a task that panics, exits, aborts, segfaults or is killed from
//! outside fails alone, with an error naming how its process ended; the pool goes on.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[derive(Clone, Copy, Debug)]
enum Crash {
    Panic,
    Exit3,
    Abort,
    Segfault,
    Sigkill,
}

const ALL: [Crash; 5] = [
    Crash::Panic,
    Crash::Exit3,
    Crash::Abort,
    Crash::Segfault,
    Crash::Sigkill,
];

fn crash(how: Crash) -> u32 {
    match how {
        Crash::Panic => panic!("a propósito"),
        Crash::Exit3 => std::process::exit(3),
        Crash::Abort => std::process::abort(),
        Crash::Segfault => {
            // SAFETY: not safe at all, on purpose: the worker must die of SIGSEGV.
            unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u32>(), 1) };
            0
        }
        Crash::Sigkill => {
            // Another process kills this one, as the OOM killer would.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(30));
            0
        }
    }
}

fn expected(how: Crash) -> (ErrorKind, &'static str) {
    match how {
        Crash::Panic => (ErrorKind::TaskPanicked, "a propósito"),
        Crash::Exit3 => (ErrorKind::WorkerDied, "exit code 3"),
        Crash::Abort => (ErrorKind::WorkerDied, "SIGABRT"),
        Crash::Segfault => (ErrorKind::WorkerDied, "SIGSEGV"),
        Crash::Sigkill => (ErrorKind::WorkerDied, "SIGKILL"),
    }
}

#[test]
fn each_crash_fails_only_its_task_for_pool_sizes_1_2_5() {
    in_child(240, || {
        for workers in [1, 2, 5] {
            let pool = Pool::processes(workers).unwrap();
            for how in ALL {
                let results: Vec<AsyncResult<u32>> = (0..6u32)
                    .map(|i| {
                        pool.apply_async(move || if i == 2 { crash(how) } else { i * 10 })
                            .unwrap()
                    })
                    .collect();
                for (i, r) in results.into_iter().enumerate() {
                    let got = r.get_timeout(Duration::from_secs(60));
                    if i == 2 {
                        let err = got.unwrap_err();
                        let (kind, text) = expected(how);
                        assert_eq!(err.kind(), kind, "{how:?} with {workers}: {err}");
                        assert!(err.to_string().contains(text), "{how:?}: {err}");
                    } else {
                        assert_eq!(got.unwrap(), i as u32 * 10, "{how:?} with {workers}");
                    }
                }
                // map: the crashing item's chunk fails the call, the pool stays usable.
                let err = pool
                    .map(|i: u32| if i == 7 { crash(how) } else { i }, 0..20u32)
                    .unwrap_err();
                assert_eq!(err.kind(), expected(how).0, "{how:?}: {err}");
                assert_eq!(pool.apply(|| 1u8).unwrap(), 1);
            }
            pool.close();
            pool.join().unwrap();
        }
    });
}

#[test]
fn terminate_stops_running_tasks_and_cancels_queued_ones() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let running: Vec<_> = (0..2)
            .map(|_| {
                pool.apply_async(|| std::thread::sleep(Duration::from_secs(60)))
                    .unwrap()
            })
            .collect();
        let queued = pool.apply_async(|| 1u8).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        pool.terminate();
        assert_eq!(queued.get().unwrap_err().kind(), ErrorKind::Cancelled);
        for r in running {
            let err = r.get_timeout(Duration::from_secs(10)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
        }
        assert!(pool.join_timeout(Duration::from_secs(10)).unwrap());
        assert_eq!(
            pool.apply(|| 1u8).unwrap_err().kind(),
            ErrorKind::PoolTerminated
        );
    });
}

/// A value whose encoding always fails, whatever the codec.
#[derive(Debug, serde::Deserialize)]
struct Refuses;

impl serde::Serialize for Refuses {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

#[test]
fn a_result_that_fails_to_serialize_is_a_clear_error() {
    in_child(30, || {
        let pool = Pool::processes(1).unwrap();
        let err = pool.apply(|| Refuses).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization, "{err}");
        assert!(err.to_string().contains("refuses"), "{err}");
        assert_eq!(pool.apply(|| 2u8).unwrap(), 2);
    });
}

#[test]
fn a_forked_copy_of_a_pool_cannot_stop_the_parents_tasks() {
    in_child(60, || {
        let pool = std::sync::Arc::new(Pool::processes(2).unwrap());
        let running = pool.apply_async(|| {
            std::thread::sleep(Duration::from_millis(300));
            5u8
        });
        let copy = pool.clone();
        let child = Process::new(move || {
            assert_eq!(copy.terminate(), 0);
            assert_eq!(
                copy.apply(|| 1u8).unwrap_err().kind(),
                ErrorKind::InvalidState
            );
            drop(copy);
        });
        child.start().unwrap();
        child.join().unwrap();
        assert_eq!(child.exitcode(), Some(0));
        assert_eq!(running.unwrap().get().unwrap(), 5);
    });
}

#[test]
fn each_crash_in_a_persistent_map_worker_fails_its_map_and_the_pool_goes_on() {
    in_child(120, || {
        for workers in [1, 2, 5] {
            let pool = Pool::processes(workers).unwrap();
            for (k, how) in ALL.into_iter().enumerate() {
                // A stateless closure over numbers (persistent workers): the crash kind
                // rides in the item, since the closure may capture nothing.
                let base = 100 * k as u32;
                let err = pool
                    .map(
                        |i: u32| {
                            if i % 100 == 7 {
                                crash(ALL[(i / 100) as usize])
                            } else {
                                i
                            }
                        },
                        base..base + 20,
                    )
                    .unwrap_err();
                let (kind, text) = expected(how);
                assert_eq!(err.kind(), kind, "{how:?} with {workers} workers: {err}");
                assert!(err.to_string().contains(text), "{how:?}: {err}");
                assert_eq!(
                    pool.map(|x: u32| x + 1, 0..10u32).unwrap(),
                    (1..11).collect::<Vec<_>>(),
                    "after {how:?} with {workers} workers"
                );
            }
        }
    });
}
