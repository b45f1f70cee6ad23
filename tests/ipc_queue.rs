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
fn an_item_larger_than_the_buffer_is_refused_clearly() {
    let q = Queue::<Vec<u8>>::with_buffer(0, 1024).unwrap();
    let err = q.put(vec![0u8; 4096]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("with_buffer"), "{err}");
    q.put(vec![1u8; 10]).unwrap();
    assert_eq!(q.get().unwrap(), vec![1u8; 10]);
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
