//! The process pool's `imap` / `imap_unordered`: lazy, per-chunk outcomes, endless input,
//! early drop.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn endless_input_streams() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let firsts: Vec<u64> = pool
            .imap(|x: u64| x * 3, 0..)
            .unwrap()
            .take(20)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(firsts, (0..20).map(|x| x * 3).collect::<Vec<_>>());
    });
}

#[test]
fn a_crashing_item_fails_alone_and_the_iteration_goes_on() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let out: Vec<Result<u32>> = pool
            .imap(
                |x: u32| if x == 3 { std::process::abort() } else { x },
                0..6,
            )
            .unwrap()
            .collect();
        assert_eq!(out.len(), 6);
        for (i, r) in out.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v as usize, i),
                Err(e) => {
                    assert_eq!(i, 3);
                    assert_eq!(e.kind(), ErrorKind::WorkerDied);
                    assert!(e.to_string().contains("SIGABRT"), "{e}");
                }
            }
        }
        assert!(out[3].is_err());
    });
}

#[test]
fn unordered_gives_every_result_once() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(3)
            .chunksize(4)
            .build_processes()
            .unwrap();
        let mut got: Vec<u32> = pool
            .imap_unordered(|x: u32| x + 1, 0..50)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        got.sort();
        assert_eq!(got, (1..=50).collect::<Vec<_>>());
    });
}

#[test]
fn dropping_the_iterator_early_stops_its_children() {
    in_child(60, || {
        let pool = Pool::processes(2).unwrap();
        let mut it = pool
            .imap(
                |x: u64| {
                    if x > 0 {
                        std::thread::sleep(Duration::from_secs(60));
                    }
                    x
                },
                0..,
            )
            .unwrap();
        assert_eq!(it.next().unwrap().unwrap(), 0);
        drop(it); // children sleeping 60 s are killed, not waited for
        pool.close();
        assert!(pool.join_timeout(Duration::from_secs(10)).unwrap());
    });
}
