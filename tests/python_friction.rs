//! What a Python user writes on the first day, in Rust (issue 16's friction list): each
//! test is one item of it. Those that fork run in a child with a deadline.

mod process_util;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn the_thread_pools_map_takes_plain_iterators() {
    let pool = Pool::new(2).unwrap();
    let v: Vec<u64> = (0..100).collect();
    assert_eq!(pool.map(|x| x * 2, v.iter().copied()).unwrap()[99], 198);
    assert_eq!(
        pool.map(|x: u64| x + 1, (0..10).map(|i| i * 10)).unwrap()[9],
        91
    );
    assert_eq!(
        pool.map(
            |(i, c): (usize, char)| format!("{i}{c}"),
            "ab".chars().enumerate()
        )
        .unwrap(),
        ["0a", "1b"]
    );
    assert_eq!(
        pool.map(|x: u64| x * x, v.iter().copied().filter(|x| x % 50 == 0))
            .unwrap(),
        [0, 2500]
    );
    // Containers and ranges still split in place.
    assert_eq!(pool.map(|x: &u64| *x, &v).unwrap(), v);
    assert_eq!(
        pool.starmap(|a: u32, b: u32| a * b, [(2, 3), (4, 5)].into_iter())
            .unwrap(),
        [6, 20]
    );
}

#[test]
fn async_results_can_be_got_again_and_from_a_borrowed_list() {
    let pool = Pool::new(2).unwrap();
    let results: Vec<AsyncResult<u32>> = (0..4)
        .map(|i| pool.apply_async(move || i * i).unwrap())
        .collect();
    let values: Vec<u32> = results
        .iter()
        .map(|r| r.get())
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(values, [0, 1, 4, 9]);
    assert_eq!(results[3].get_timeout(Duration::from_secs(5)).unwrap(), 9);
    assert_eq!(results[3].get().unwrap(), 9);
}

#[test]
fn imap_next_with_a_timeout_loses_nothing() {
    let pool = Pool::new(1).unwrap();
    let mut it = pool
        .imap(
            |ms: u64| {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            },
            vec![400, 1],
        )
        .unwrap();
    let early = it
        .next_timeout(Duration::from_millis(5))
        .unwrap()
        .unwrap_err();
    assert!(early.is_timeout(), "{early}");
    assert_eq!(
        it.next_timeout(Duration::from_secs(10)).unwrap().unwrap(),
        400
    );
    assert_eq!(it.next().unwrap().unwrap(), 1);
    assert!(it.next_timeout(Duration::from_secs(1)).is_none());
}

/// The same on forked workers, ordered and unordered: a timeout leaves the children
/// running, and the results come later, none lost.
#[test]
fn process_imap_next_with_a_timeout_loses_nothing() {
    in_child(60, || {
        fn sleep_ms(ms: u64) -> u64 {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        }
        let pool = Pool::processes(2).unwrap();
        let mut it = pool.imap(sleep_ms, vec![400u64, 1]).unwrap();
        let early = it
            .next_timeout(Duration::from_millis(5))
            .unwrap()
            .unwrap_err();
        assert!(early.is_timeout(), "{early}");
        assert_eq!(
            it.next_timeout(Duration::from_secs(10)).unwrap().unwrap(),
            400
        );
        assert_eq!(it.next().unwrap().unwrap(), 1);
        assert!(it.next_timeout(Duration::from_secs(1)).is_none());
        drop(it);
        let mut unordered = pool.imap_unordered(sleep_ms, vec![400u64, 400]).unwrap();
        assert!(
            unordered
                .next_timeout(Duration::from_millis(5))
                .unwrap()
                .unwrap_err()
                .is_timeout()
        );
        let mut got: Vec<u64> =
            std::iter::from_fn(|| unordered.next_timeout(Duration::from_secs(10)))
                .map(|r| r.unwrap())
                .collect();
        got.sort_unstable();
        assert_eq!(got, [400, 400]);
    });
}

#[test]
fn callbacks_see_the_value_or_the_error() {
    let pool = Pool::new(2).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let (s, f) = (seen.clone(), failures.clone());
    let ok = pool
        .apply_async_with(
            || 5usize,
            move |v| {
                s.fetch_add(*v, Ordering::SeqCst);
            },
            |_| panic!("no error expected"),
        )
        .unwrap();
    let bad = pool
        .apply_async_with(
            || -> usize { panic!("adrede") },
            |_| {},
            move |e| {
                assert_eq!(e.kind(), ErrorKind::TaskPanicked);
                f.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap();
    assert_eq!(ok.get().unwrap(), 5);
    assert!(bad.get().is_err());
    // The callbacks ran before the results became ready.
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    assert_eq!(failures.load(Ordering::SeqCst), 1);
}

#[test]
fn per_call_chunksize_and_zero_is_refused() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(
        pool.map_with_chunksize(|x: u32| x, 0..7u32, 3).unwrap(),
        (0..7).collect::<Vec<_>>()
    );
    let err = pool.map_with_chunksize(|x: u32| x, 0..7u32, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn queue_put_takes_what_converts() {
    let q = Queue::<String>::new().unwrap();
    q.put("hola").unwrap();
    q.put(String::from("chau")).unwrap();
    assert_eq!(q.get().unwrap(), "hola");
    assert_eq!(q.get().unwrap(), "chau");
    let (a, b) = Pipe::<String>::new().unwrap();
    a.send("por la tubería").unwrap();
    assert_eq!(b.recv().unwrap(), "por la tubería");
}

#[test]
fn arrays_from_any_iterator_and_updates_under_the_lock() {
    let a = Array::new(0..10i32).unwrap();
    assert_eq!(a.to_vec(), (0..10).collect::<Vec<_>>());
    assert_eq!(a.add(3, 100).unwrap(), 103);
    assert_eq!(a.sub(3, 3).unwrap(), 100);
    let v = Value::new(1.5f64).unwrap();
    assert_eq!(v.add(1.0).unwrap(), 2.5);
    assert_eq!(a.add(10, 1).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn counters_shared_by_processes_lose_no_update() {
    in_child(60, || {
        let counter = Value::new(0u64).unwrap();
        let cells = Array::<u64>::zeroed(2).unwrap();
        let children: Vec<Process> = (0..4)
            .map(|_| {
                let (counter, cells) = (counter.clone(), cells.clone());
                Process::new(move || {
                    for _ in 0..500 {
                        counter.add(1).unwrap();
                        cells.add(1, 2).unwrap();
                    }
                })
            })
            .collect();
        for p in &children {
            p.start().unwrap();
        }
        for p in &children {
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        }
        assert_eq!(counter.get(), 2000);
        assert_eq!(cells.get(1).unwrap(), 4000);
    });
}

#[test]
fn a_process_closure_may_use_the_question_mark() {
    in_child(30, || {
        let ok = Process::new(|| -> Result<()> {
            let q = Queue::<u8>::new()?;
            q.put(1)?;
            Ok(())
        });
        ok.start().unwrap();
        ok.join().unwrap();
        assert_eq!(ok.exitcode(), Some(0));
        let failing = Process::named("falla", || -> std::result::Result<(), String> {
            Err("no encontré el archivo".into())
        });
        failing.start().unwrap();
        failing.join().unwrap();
        assert_eq!(failing.exitcode(), Some(1));
    });
}

#[test]
fn manager_lists_and_dicts_from_iterables_and_their_methods() {
    in_child(60, || {
        let manager = Manager::new().unwrap();
        let l = manager.list_from([3, 1, 2]).unwrap();
        l.extend([5, 4]).unwrap();
        l.sort().unwrap();
        assert_eq!(l.to_vec().unwrap(), [1, 2, 3, 4, 5]);
        l.reverse().unwrap();
        assert_eq!(l.to_vec().unwrap(), [5, 4, 3, 2, 1]);
        // A child sorts while the parent appends: nothing is lost.
        let in_child = l.clone();
        let p = Process::new(move || {
            for _ in 0..20 {
                in_child.sort().unwrap();
            }
        });
        p.start().unwrap();
        for i in 0..50 {
            l.append(100 + i).unwrap();
        }
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
        assert_eq!(l.len().unwrap(), 55);
        let d = manager
            .dict_from([("a".to_string(), 1), ("b".to_string(), 2)])
            .unwrap();
        d.update([("a".to_string(), 10), ("c".to_string(), 3)])
            .unwrap();
        assert_eq!(
            d.items().unwrap(),
            [
                ("a".to_string(), 10),
                ("b".to_string(), 2),
                ("c".to_string(), 3)
            ]
        );
    });
}

#[test]
fn an_unencodable_result_of_process_map_names_the_users_type() {
    in_child(60, || {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        struct Mine(#[serde(serialize_with = "refuse")] u8);
        fn refuse<S: serde::Serializer>(_: &u8, _: S) -> std::result::Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("nunca"))
        }
        let pool = Pool::processes(2).unwrap();
        let err = pool.map(|x: u8| Mine(x), vec![1u8, 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        let text = err.to_string();
        assert!(text.contains("Mine"), "{text}");
        assert!(!text.contains("EncodeAsComputed"), "{text}");
    });
}

#[test]
fn a_scope_terminates_the_pool_even_when_the_caller_panics() {
    in_child(60, || {
        let pool = Pool::processes(1).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            pool.scope(|pool| {
                for _ in 0..5 {
                    let _ = pool.apply_async(|| std::thread::sleep(Duration::from_secs(30)));
                }
                panic!("el llamador falla");
            })
        }));
        // Without the scope, unwinding would wait for 5 × 30 s of queued tasks.
        assert!(outcome.is_err());
        let threads = Pool::new(1).unwrap();
        let kept = threads.scope(|pool| pool.apply(|| 7)).unwrap();
        assert_eq!(kept, 7);
    });
}

#[test]
fn a_pool_can_be_told_to_fork_fresh_or_retire_workers() {
    in_child(60, || {
        let fresh = Pool::builder()
            .workers(2)
            .fresh_process_per_task()
            .build_processes()
            .unwrap();
        let a = fresh.apply(std::process::id).unwrap();
        let b = fresh.apply(std::process::id).unwrap();
        assert_ne!(a, b);
        assert!(fresh.persistent_worker_pids().is_empty());
        assert_eq!(fresh.map(|x: u32| x + 1, 0..10u32).unwrap()[9], 10);
        assert!(fresh.map_worker_pids().is_empty());
        let retiring = Pool::builder()
            .workers(1)
            .maxtasksperchild(3)
            .build_processes()
            .unwrap();
        let pids: Vec<u32> = (0..6)
            .map(|_| retiring.apply(std::process::id).unwrap())
            .collect();
        assert_eq!(pids[0], pids[2]);
        assert_ne!(pids[2], pids[3]);
        assert_eq!(pids[3], pids[5]);
        let zero = Pool::builder()
            .maxtasksperchild(0)
            .build_processes()
            .unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidArgument);
    });
}
