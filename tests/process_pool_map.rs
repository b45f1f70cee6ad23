//! The process pool has the thread pool's methods and gives the same answers.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn map_starmap_apply_like_python() {
    in_child(60, || {
        let pool = Pool::processes(4).unwrap();
        assert_eq!(
            pool.map(|x: u64| x * x, 0..10u64).unwrap(),
            [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
        );
        assert_eq!(
            pool.starmap(|a: i32, b: i32| a * b, vec![(1, 2), (3, 4), (5, 6), (7, 8)])
                .unwrap(),
            [2, 12, 30, 56]
        );
        assert_eq!(pool.apply(|| 5 * 5).unwrap(), 25);
        let big: Vec<u64> = pool.map(|x: u64| x + 1, 0..100_000u64).unwrap();
        assert_eq!(big.len(), 100_000);
        assert_eq!(big[99_999], 100_000);
        assert!(pool.map(|x: u8| x, Vec::new()).unwrap().is_empty());
    });
}

#[test]
fn tasks_run_in_other_processes_with_their_own_pids() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let me = std::process::id();
        let pids = pool.map(|_| std::process::id(), 0..8).unwrap();
        assert!(pids.iter().all(|&p| p != me));
        let name = pool.apply(|| current_process().name().to_owned()).unwrap();
        assert!(name.starts_with("ForkPoolWorker-"), "{name}");
    });
}

#[test]
fn one_map_forks_at_most_workers_processes_that_share_the_chunks() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap();
        let pids = pool.map(|_| std::process::id(), 0..40).unwrap();
        let distinct: std::collections::HashSet<u32> = pids.iter().copied().collect();
        assert!(
            distinct.len() <= 2,
            "{} processes for 40 chunks",
            distinct.len()
        );
        // More items than one window of chunks: several rounds of children, in order.
        let big = Pool::processes(2)
            .unwrap()
            .map(|x: u64| x * 3, 0..600_000u64)
            .unwrap();
        assert!(big.iter().enumerate().all(|(i, &v)| v == i as u64 * 3));
    });
}

#[test]
fn a_child_that_dies_fails_its_chunk_and_another_takes_the_rest() {
    in_child(60, || {
        for workers in [1, 2] {
            let pool = Pool::builder()
                .workers(workers)
                .chunksize(1)
                .build_processes()
                .unwrap();
            let done = Queue::<u32>::new().unwrap();
            let seen = done.clone();
            let err = pool
                .map(
                    move |i: u32| {
                        if i == 2 {
                            std::process::exit(3);
                        }
                        seen.put(i).unwrap();
                        i
                    },
                    0..8u32,
                )
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WorkerDied, "{err}");
            assert!(err.to_string().contains("exit code 3"), "{err}");
            let mut got: Vec<u32> = std::iter::from_fn(|| done.try_get().ok().flatten()).collect();
            got.sort();
            assert_eq!(got, [0, 1, 3, 4, 5, 6, 7], "with {workers} workers");
        }
    });
}

#[test]
fn async_variants_and_lifecycle() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(3)
            .build_processes()
            .unwrap();
        assert_eq!(pool.chunksize(), Some(3));
        let a = pool.apply_async(|| "hola".to_string()).unwrap();
        let m = pool.map_async(|x: u32| x * 2, vec![1, 2, 3]).unwrap();
        let s = pool
            .starmap_async(|a: u32, b: u32| a + b, vec![(1, 2)])
            .unwrap();
        let i: Vec<u32> = pool
            .imap(|x: u32| x, 0..10)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(i, (0..10).collect::<Vec<_>>());
        assert_eq!(a.get().unwrap(), "hola");
        assert_eq!(m.get().unwrap(), [2, 4, 6]);
        assert_eq!(s.get().unwrap(), [3]);
        assert_eq!(pool.join().unwrap_err().kind(), ErrorKind::InvalidState);
        pool.close();
        assert_eq!(pool.apply(|| 1).unwrap_err().kind(), ErrorKind::PoolClosed);
        assert!(pool.join_timeout(Duration::from_secs(30)).unwrap());
    });
}

#[test]
fn at_most_workers_tasks_run_at_once() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let inside = Value::new(0i64).unwrap();
        let most = Value::new(0i64).unwrap();
        let results: Vec<_> = (0..6)
            .map(|_| {
                let (inside, most) = (inside.clone(), most.clone());
                pool.apply_async(move || {
                    let now = inside.update(|x| x + 1).unwrap();
                    most.update(|m| m.max(now)).unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                    inside.update(|x| x - 1).unwrap();
                })
                .unwrap()
            })
            .collect();
        for r in results {
            r.get().unwrap();
        }
        assert!(most.get() <= 2, "{}", most.get());
    });
}

#[test]
fn the_initializer_runs_before_each_task() {
    in_child(30, || {
        let pool = Pool::builder()
            .workers(2)
            .initializer(|| {
                // SAFETY: single-threaded forked child; nothing else reads the environment.
                unsafe { std::env::set_var("INICIADO", "sí") };
            })
            .build_processes()
            .unwrap();
        let seen = pool.map(|_| std::env::var("INICIADO").ok(), 0..4).unwrap();
        assert!(seen.iter().all(|v| v.as_deref() == Some("sí")), "{seen:?}");
        assert!(std::env::var("INICIADO").is_err()); // the parent is untouched
    });
}

/// Children of this process in `/proc` whose state is zombie.
fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let after = stat.rsplit(')').next().unwrap_or("");
            let mut fields = after.split_whitespace();
            let state = fields.next();
            let ppid = fields.next();
            state == Some("Z") && ppid == Some(me.as_str())
        })
        .count()
}

#[test]
fn finished_workers_are_reaped_not_left_as_zombies() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        for i in 0..50u32 {
            assert_eq!(pool.apply(move || i).unwrap(), i);
        }
        drop(pool);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(zombie_children(), 0);
    });
}

#[test]
fn workers_pinned_to_cores_in_turn() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap()
            .pin_workers(&[0, machine_cpu_count() - 1])
            .unwrap();
        let cores = pool.map(|_| current_cpu().unwrap(), 0..4).unwrap();
        let last = machine_cpu_count() - 1;
        assert_eq!(cores, [0, last, 0, last]);
        let err = Pool::processes(1)
            .unwrap()
            .pin_workers(&[machine_cpu_count()])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("does not exist"), "{err}");
    });
}
