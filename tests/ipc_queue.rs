//! `Queue` and `JoinableQueue` across processes: each item exactly once, timeouts, close.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn a_child_puts_the_parent_gets() {
    in_child(20, || {
        let q = Queue::<String>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || tx.put("Mensaje desde el proceso".to_string()).unwrap());
        p.start().unwrap();
        assert_eq!(
            q.get_timeout(Duration::from_secs(10)).unwrap(),
            "Mensaje desde el proceso"
        );
        p.join().unwrap();
    });
}

#[test]
fn four_producers_four_consumers_each_item_exactly_once() {
    in_child(120, || {
        const PER_PRODUCER: u64 = 50_000;
        let q = Queue::<u64>::with_maxsize(1000).unwrap();
        let results = Queue::<(u64, u64)>::new().unwrap(); // (count, sum) per consumer
        let mut procs = Vec::new();
        for p in 0..4u64 {
            let q = q.clone();
            procs.push(Process::new(move || {
                for i in 0..PER_PRODUCER {
                    q.put(p * PER_PRODUCER + i).unwrap();
                }
            }));
        }
        for _ in 0..4 {
            let (q, results) = (q.clone(), results.clone());
            procs.push(Process::new(move || {
                let (mut n, mut sum) = (0u64, 0u64);
                let mut seen = vec![false; (4 * PER_PRODUCER) as usize];
                while let Ok(x) = q.get() {
                    assert!(!std::mem::replace(&mut seen[x as usize], true), "{x} twice");
                    n += 1;
                    sum += x;
                }
                results.put((n, sum)).unwrap();
            }));
        }
        for p in &procs {
            p.start().unwrap();
        }
        for p in &procs[..4] {
            assert!(p.join_timeout(Duration::from_secs(100)).unwrap());
        }
        // Producers are done: once drained, the consumers' get() fails and they stop.
        while q.qsize().unwrap() > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        q.close().unwrap();
        let (mut n, mut sum) = (0, 0);
        for _ in 0..4 {
            let (cn, cs) = results.get_timeout(Duration::from_secs(60)).unwrap();
            n += cn;
            sum += cs;
        }
        let total = 4 * PER_PRODUCER;
        assert_eq!(n, total);
        assert_eq!(sum, total * (total - 1) / 2);
        for p in &procs {
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0), "{p:?}");
        }
    });
}

#[test]
fn joinable_queue_join_returns_when_all_done() {
    in_child(30, || {
        let q = JoinableQueue::<u32>::new().unwrap();
        let done = Queue::<u32>::new().unwrap();
        let (w, d) = (q.clone(), done.clone());
        let consumer = Process::new(move || {
            while let Ok(x) = w.get() {
                std::thread::sleep(Duration::from_millis(1));
                d.put(x).unwrap();
                w.task_done().unwrap();
            }
        });
        consumer.start().unwrap();
        for i in 0..50 {
            q.put(i).unwrap();
        }
        assert!(q.join_timeout(Duration::from_secs(20)).unwrap());
        // join returned: every item was processed before it.
        assert_eq!(done.qsize().unwrap(), 50);
        q.close().unwrap();
        consumer.join().unwrap();
        assert_eq!(consumer.exitcode(), Some(0));
    });
}

#[test]
fn timeouts_try_get_maxsize_close() {
    let q = Queue::<u8>::with_maxsize(2).unwrap();
    assert_eq!(q.maxsize(), 2);
    assert!(q.empty().unwrap());
    assert_eq!(q.try_get().unwrap(), None);
    assert!(
        q.get_timeout(Duration::from_millis(5))
            .unwrap_err()
            .is_timeout()
    );
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert!(q.full().unwrap());
    assert!(
        q.put_timeout(3, Duration::from_millis(5))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(q.qsize().unwrap(), 2);
    q.close().unwrap();
    assert_eq!(q.put(4).unwrap_err().kind(), ErrorKind::Disconnected);
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(q.get().unwrap(), 2);
    assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Disconnected);
}

#[test]
fn items_larger_than_the_buffer_travel_in_parts() {
    in_child(60, || {
        // A 1 KiB buffer and items up to 20 KiB, from two producers at once: every item
        // arrives whole, exactly once, and small items are not mixed into big ones.
        let q = Queue::<Vec<u32>>::with_buffer(0, 1024).unwrap();
        let procs: Vec<Process> = (0..2u32)
            .map(|p| {
                let q = q.clone();
                Process::new(move || {
                    for i in 0..40u32 {
                        let len = if i % 3 == 0 { 5000 } else { 3 };
                        q.put(vec![p * 1000 + i; len]).unwrap();
                    }
                })
            })
            .collect();
        procs.iter().for_each(|p| p.start().unwrap());
        let mut seen = Vec::new();
        for _ in 0..80 {
            let item = q.get_timeout(Duration::from_secs(20)).unwrap();
            let first = item[0];
            assert!(item.iter().all(|&x| x == first), "a mixed item");
            assert_eq!(item.len(), if (first % 1000) % 3 == 0 { 5000 } else { 3 });
            seen.push(first);
        }
        seen.sort();
        let mut expected: Vec<u32> = (0..2u32)
            .flat_map(|p| (0..40).map(move |i| p * 1000 + i))
            .collect();
        expected.sort();
        assert_eq!(seen, expected);
        for p in &procs {
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        }
    });
}

#[test]
fn a_big_item_counts_once_for_task_done() {
    // Bigger than the 4 MiB buffer: put waits while the consumer reads it in parts.
    let q = JoinableQueue::<Vec<u8>>::new().unwrap();
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            let item = q.get_timeout(Duration::from_secs(20)).unwrap();
            q.task_done().unwrap();
            item.len()
        })
    };
    q.put_timeout(vec![7u8; 5 << 20], Duration::from_secs(20))
        .unwrap();
    assert!(q.join_timeout(Duration::from_secs(20)).unwrap());
    assert_eq!(consumer.join().unwrap(), 5 << 20);
    assert_eq!(q.task_done().unwrap_err().kind(), ErrorKind::InvalidState);
}

#[test]
fn a_consumer_killed_while_waiting_does_not_break_the_queue() {
    in_child(30, || {
        let q = Queue::<u32>::new().unwrap();
        let w = q.clone();
        let victim = Process::new(move || {
            let _ = w.get();
        });
        victim.start().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        victim.kill().unwrap();
        victim.join().unwrap();
        q.put(5).unwrap();
        assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), 5);
    });
}

#[test]
fn a_writer_killed_in_the_middle_of_a_big_item_does_not_corrupt_the_queue() {
    in_child(60, || {
        let q = Queue::<Vec<u8>>::with_buffer(0, 64 * 1024).unwrap();
        let writer = q.clone();
        let victim = Process::new(move || {
            // About 64 parts: it blocks with the buffer full, in the middle of the item.
            writer.put(vec![1u8; 2 << 20]).unwrap();
        });
        victim.start().unwrap();
        while q.qsize().unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        victim.kill().unwrap();
        victim.join().unwrap();
        // The partial item is dropped, never handed out.
        let err = q.get_timeout(Duration::from_secs(2)).unwrap_err();
        assert!(err.is_timeout(), "{err}");
        // The queue works on.
        let writer = q.clone();
        let next = Process::new(move || writer.put(vec![2u8; 10]).unwrap());
        next.start().unwrap();
        assert_eq!(
            q.get_timeout(Duration::from_secs(10)).unwrap(),
            vec![2u8; 10]
        );
        next.join().unwrap();
    });
}
