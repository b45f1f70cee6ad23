//! The fast path of `apply` / `apply_async`: a stateless task (a function item or a
//! closure capturing nothing) runs on a persistent worker forked earlier; every crash of
//! that worker fails exactly its task, the worker is replaced, and no worker outlives the
//! pool. Each test runs in a child with a deadline, so a hang fails instead of freezing.

mod process_util;

use std::time::Duration;

use paralelo::Processes;
use paralelo::prelude::*;
use process_util::{gone, in_child, running, wait_until};

fn exit3() -> u32 {
    std::process::exit(3)
}

fn abort() -> u32 {
    std::process::abort()
}

fn segfault() -> u32 {
    // SAFETY: not safe at all, on purpose: the worker must die of SIGSEGV.
    unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u32>(), 1) };
    0
}

fn sleep_long() -> u32 {
    std::thread::sleep(Duration::from_secs(60));
    0
}

#[test]
fn stateless_tasks_run_on_a_persistent_worker_and_panics_are_errors() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42);
        assert_eq!(pool.fast_path_runs(), 1);
        let workers = pool.persistent_worker_pids();
        assert_eq!(workers.len(), 1);
        let pid = pool.apply(std::process::id).unwrap();
        assert_eq!(workers, [pid], "the task ran on the persistent worker");
        assert_ne!(pid, std::process::id());

        let err = pool.apply(|| -> u8 { panic!("a propósito") }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskPanicked, "{err}");
        assert!(err.to_string().contains("a propósito"), "{err}");
        // A panic (unwinding) does not cost the worker its life.
        assert_eq!(pool.apply(std::process::id).unwrap(), pid);
        assert_eq!(pool.fast_path_runs(), 4);

        let name = pool.apply(|| current_process().name().to_owned()).unwrap();
        assert!(name.starts_with("ForkPoolWorker-"), "{name}");
        let big = pool.apply(|| vec![7u8; 3 << 20]).unwrap();
        assert!(big.len() == 3 << 20 && big.iter().all(|&b| b == 7));
        assert_eq!(pool.fast_path_runs(), 6);
    });
}

#[test]
fn capturing_closures_take_the_fork_path() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let worker = pool.apply(std::process::id).unwrap();
        let offset = 10u32;
        let (value, pid) = pool
            .apply(move || (offset + 1, std::process::id()))
            .unwrap();
        assert_eq!(value, 11);
        assert_ne!(
            pid, worker,
            "a capturing closure ran in a process forked for it"
        );
        let text = String::from("hola");
        assert_eq!(pool.apply(move || text.len()).unwrap(), 4);
        assert_eq!(pool.fast_path_runs(), 1);
    });
}

#[test]
fn apply_async_uses_the_fast_path_too() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let results: Vec<_> = (0..20).map(|_| pool.apply_async(|| 5u8).unwrap()).collect();
        for r in results {
            assert_eq!(r.get().unwrap(), 5);
        }
        assert_eq!(pool.fast_path_runs(), 20);
        assert!(pool.persistent_worker_pids().len() <= 2);
    });
}

fn crash_once(pool: &Pool<Processes>, task: impl FnOnce() -> u32, expected: &str) {
    let before = pool.fast_path_runs();
    let worker = pool.apply(std::process::id).unwrap();
    let err = pool.apply(task).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
    assert!(err.to_string().contains(expected), "{expected} in {err}");
    assert_eq!(
        pool.fast_path_runs(),
        before + 2,
        "the crash ran on the fast path"
    );
    // The dead worker was reaped and replaced; the next task works.
    let next = pool.apply(std::process::id).unwrap();
    assert!(pool.persistent_worker_pids().contains(&next));
    assert!(!pool.persistent_worker_pids().contains(&worker) || next == worker);
    assert_eq!(pool.apply(|| 1u8).unwrap(), 1);
}

#[test]
fn each_crash_of_a_persistent_worker_fails_its_task_and_the_pool_goes_on() {
    in_child(120, || {
        let pool = Pool::processes(2).unwrap();
        // Function items (each its own zero-sized type), not `fn` pointers: a pointer is
        // data, so it would take the fork path.
        crash_once(&pool, exit3, "exit code 3");
        crash_once(&pool, abort, "SIGABRT");
        crash_once(&pool, segfault, "SIGSEGV");
    });
}

#[test]
fn a_persistent_worker_killed_from_outside_fails_its_task_with_sigkill() {
    in_child(60, || {
        let pool = std::sync::Arc::new(Pool::processes(1).unwrap());
        let running_task = pool.apply_async(sleep_long).unwrap();
        wait_until("the worker is started", || {
            pool.persistent_worker_pids().len() == 1
        });
        let worker = pool.persistent_worker_pids()[0];
        std::process::Command::new("kill")
            .args(["-KILL", &worker.to_string()])
            .status()
            .unwrap();
        let err = running_task
            .get_timeout(Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
        assert!(err.to_string().contains("SIGKILL"), "{err}");
        wait_until("the killed worker is reaped", || gone(worker));
        assert_eq!(pool.apply(|| 2u8).unwrap(), 2);
        assert_eq!(pool.fast_path_runs(), 2);
    });
}

#[test]
fn terminate_kills_the_persistent_workers_and_reaps_them() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let busy = pool.apply_async(sleep_long).unwrap();
        let idle = pool.apply(std::process::id).unwrap();
        wait_until("two workers", || pool.persistent_worker_pids().len() == 2);
        let workers = pool.persistent_worker_pids();
        assert!(workers.contains(&idle));
        pool.terminate();
        let err = busy.get_timeout(Duration::from_secs(20)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
        assert!(pool.join_timeout(Duration::from_secs(20)).unwrap());
        for pid in workers {
            wait_until("terminated workers are reaped", || gone(pid));
        }
        assert!(pool.persistent_worker_pids().is_empty());
    });
}

#[test]
fn dropping_the_pool_stops_and_reaps_its_workers() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let later = pool.apply_async(|| {
            std::thread::sleep(Duration::from_millis(200));
            3u8
        });
        assert_eq!(pool.apply(|| 1u8).unwrap(), 1);
        let workers = pool.persistent_worker_pids();
        assert!(!workers.is_empty());
        drop(pool);
        // Drop waited for the queued task, then stopped the workers.
        assert_eq!(later.unwrap().get().unwrap(), 3);
        for pid in workers {
            assert!(gone(pid), "worker {pid} left behind (running or zombie)");
        }
    });
}

#[test]
fn a_worker_leaves_when_the_pools_process_dies() {
    in_child(60, || {
        let (rx, tx) = Pipe::<u32>::one_way().unwrap();
        let owner = Process::new(move || {
            let pool = Pool::processes(1).unwrap();
            tx.send(pool.apply(std::process::id).unwrap()).unwrap();
            std::thread::sleep(Duration::from_secs(60));
        });
        owner.start().unwrap();
        let worker = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(running(worker));
        owner.kill().unwrap();
        owner.join().unwrap();
        wait_until("the orphaned worker has left", || !running(worker));
    });
}

#[test]
fn concurrent_callers_share_the_workers_or_fork() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert_eq!(pool.apply(|| 9u16).unwrap(), 9);
                    }
                });
            }
        });
        assert!(pool.persistent_worker_pids().len() <= 2);
        assert!(pool.fast_path_runs() > 0);
    });
}

#[test]
fn a_persistent_worker_does_not_keep_a_pipe_open() {
    in_child(60, || {
        let (reader, writer) = Pipe::<u8>::one_way().unwrap();
        let pool = Pool::processes(1).unwrap();
        // The worker is forked while both ends of the pipe are open here.
        pool.apply(|| 1u8).unwrap();
        let p = Process::new(move || writer.send(1).unwrap());
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(reader.recv().unwrap(), 1);
        // The writer's only process has exited: end of file, though the worker lives.
        let err = reader.recv_timeout(Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert_eq!(pool.persistent_worker_pids().len(), 1);
    });
}

#[test]
fn an_interrupt_stops_a_task_on_a_persistent_worker() {
    in_child(60, || {
        let pool = Pool::processes(1).unwrap();
        let worker = pool.apply(std::process::id).unwrap();
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            paralelo::interrupt::interrupt();
        });
        let err = pool.apply(sleep_long).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
        // The worker was stopped and reaped; a fresh one takes the next task.
        assert!(gone(worker), "the interrupted worker is reaped");
        assert_ne!(pool.apply(std::process::id).unwrap(), worker);
    });
}
