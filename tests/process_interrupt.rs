//! The notebook's stop button (an interrupt) ends waits on children, and the children:
//! forked children ignore SIGINT, so the parent stops them. Each test runs in a child of
//! its own (interrupts are process-wide).

mod process_util;

use std::time::{Duration, Instant};

use paralelo::prelude::*;
use process_util::in_child;

/// Presses the stop button after `ms` milliseconds, from another thread.
fn interrupt_after(ms: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        paralelo::interrupt::interrupt();
    });
}

#[test]
fn an_interrupt_stops_a_process_pool_map() {
    in_child(60, || {
        let pool = Pool::builder()
            .workers(2)
            .chunksize(1)
            .build_processes()
            .unwrap();
        interrupt_after(200);
        let start = Instant::now();
        let err = pool
            .map(
                |x: u64| std::thread::sleep(Duration::from_millis(100 + x)),
                0..1000u64,
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
        assert!(start.elapsed() < Duration::from_secs(20));
        // Work started after the interrupt runs normally.
        assert_eq!(pool.map(|x: u8| x, 0..3u8).unwrap(), [0, 1, 2]);
    });
}

#[test]
fn an_interrupt_ends_join_and_stops_the_child() {
    in_child(60, || {
        let p = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
        p.start().unwrap();
        interrupt_after(100);
        assert_eq!(p.join().unwrap_err().kind(), ErrorKind::Interrupted);
        assert!(!p.is_alive());
        assert_eq!(p.exitcode(), Some(-15));
    });
}

#[test]
fn an_interrupt_ends_waits_on_pipes_and_queues() {
    in_child(60, || {
        let (a, _b) = Pipe::<u8>::new().unwrap();
        interrupt_after(100);
        assert_eq!(a.recv().unwrap_err().kind(), ErrorKind::Interrupted);
        let q = Queue::<u8>::new().unwrap();
        interrupt_after(100);
        assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Interrupted);
        q.put(1).unwrap();
        assert_eq!(q.get().unwrap(), 1);
    });
}

#[test]
fn an_interrupt_ends_waits_on_locks_and_events() {
    in_child(60, || {
        let lock = Lock::new().unwrap();
        let holder = lock.clone();
        let p = Process::new(move || {
            let _g = holder.acquire().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        });
        p.start().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        interrupt_after(100);
        assert_eq!(lock.acquire().unwrap_err().kind(), ErrorKind::Interrupted);
        p.kill().unwrap();
        p.join().unwrap();

        let sem = Semaphore::new(1).unwrap();
        let _place = sem.acquire().unwrap();
        let other = sem.clone();
        let t = std::thread::spawn(move || other.acquire().map(drop).unwrap_err().kind());
        interrupt_after(100);
        assert_eq!(t.join().unwrap(), ErrorKind::Interrupted);

        let e = Event::new().unwrap();
        interrupt_after(100);
        assert_eq!(e.wait().unwrap_err().kind(), ErrorKind::Interrupted);

        let q = JoinableQueue::<u8>::new().unwrap();
        q.put(1).unwrap();
        interrupt_after(100);
        assert_eq!(q.join().unwrap_err().kind(), ErrorKind::Interrupted);
    });
}
