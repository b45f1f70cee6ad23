//! The pool's mapping methods: order, chunking, streaming, the documents' examples.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use paralelo::prelude::*;

fn square(x: u64) -> u64 {
    x * x
}

fn multiply(a: i32, b: i32) -> i32 {
    a * b
}

#[test]
fn map_squares_in_order() {
    // Document 001, S1-5.
    let pool = Pool::new(4).unwrap();
    assert_eq!(
        pool.map(square, 0..10).unwrap(),
        [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    );
}

#[test]
fn starmap_multiplies_pairs() {
    // Document 001, S1-6.
    let pool = Pool::new(4).unwrap();
    let products = pool
        .starmap(multiply, vec![(1, 2), (3, 4), (5, 6), (7, 8)])
        .unwrap();
    assert_eq!(products, [2, 12, 30, 56]);
}

#[test]
fn map_with_a_chunksize_keeps_order_and_borrows_locals() {
    let offsets = vec![100u64; 1000];
    let pool = Pool::builder().workers(3).chunksize(7).build().unwrap();
    let got = pool
        .map(|i: usize| offsets[i] + i as u64, 0..1000usize)
        .unwrap();
    let want: Vec<u64> = (0..1000).map(|i| 100 + i).collect();
    assert_eq!(got, want);
}

#[test]
fn map_async_and_starmap_async_deliver_lists() {
    let pool = Pool::new(2).unwrap();
    let a = pool.map_async(square, vec![1, 2, 3]).unwrap();
    let b = pool.starmap_async(multiply, vec![(2, 3)]).unwrap();
    assert_eq!(a.get().unwrap(), [1, 4, 9]);
    assert_eq!(b.get().unwrap(), [6]);
}

#[test]
fn imap_streams_an_endless_input() {
    let pool = Pool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let input = (0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let first: Vec<u64> = pool
        .imap(square, input)
        .unwrap()
        .take(10)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(first, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    // Only a small window beyond what was consumed was read from the endless input.
    let read = pulled.load(Ordering::SeqCst);
    assert!(read < 100, "imap read {read} items to give 10");
}

#[test]
fn imap_of_a_million_items_holds_a_bounded_window() {
    let pool = Pool::builder().workers(2).chunksize(1000).build().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let (a, b) = (in_flight.clone(), max_seen.clone());
    // Items are counted when read and uncounted when their result is consumed.
    let input = (0u64..1_000_000).inspect(move |_| {
        let now = a.fetch_add(1, Ordering::SeqCst) + 1;
        b.fetch_max(now, Ordering::SeqCst);
    });
    let mut sum = 0u64;
    for r in pool.imap(|x: u64| x % 7, input).unwrap() {
        sum += r.unwrap();
        in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    let want: u64 = (0u64..1_000_000).map(|x| x % 7).sum();
    assert_eq!(sum, want);
    let peak = max_seen.load(Ordering::SeqCst);
    assert!(peak <= 20_000, "{peak} items were held at once");
}

#[test]
fn imap_reports_a_panic_on_its_own_item_and_goes_on() {
    let pool = Pool::builder().workers(2).chunksize(4).build().unwrap();
    let results: Vec<Result<u32>> = pool
        .imap(|x: u32| if x == 5 { panic!("cinco") } else { x }, 0..10u32)
        .unwrap()
        .collect();
    assert_eq!(results.len(), 10);
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(*v as usize, i),
            Err(e) => {
                assert_eq!(i, 5);
                assert_eq!(e.kind(), ErrorKind::TaskPanicked);
            }
        }
    }
}

#[test]
fn imap_unordered_gives_every_result_once() {
    let pool = Pool::new(2).unwrap();
    let mut got: Vec<u64> = pool
        .imap_unordered(square, 0..500u64)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..500u64).map(square).collect::<Vec<_>>());
}

#[test]
fn imap_unordered_after_terminate_ends_with_errors_not_a_hang() {
    let pool = Pool::new(1).unwrap();
    let mut it = pool
        .imap_unordered(
            |x: u64| {
                std::thread::sleep(std::time::Duration::from_millis(2));
                x
            },
            0..1000u64,
        )
        .unwrap();
    assert!(it.next().unwrap().is_ok());
    pool.terminate();
    let rest: Vec<_> = it.collect();
    assert!(rest.len() < 1000);
    assert!(rest.iter().any(|r| {
        r.as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::PoolTerminated))
    }));
}

#[test]
fn par_map_works_inside_a_pool_task() {
    let pool = Pool::new(2).unwrap();
    let sums = pool.map(
        |n: u64| par_map(square, 0..n).unwrap().iter().sum::<u64>(),
        0..20u64,
    );
    let want: Vec<u64> = (0..20u64).map(|n| (0..n).map(square).sum()).collect();
    assert_eq!(sums.unwrap(), want);
}
