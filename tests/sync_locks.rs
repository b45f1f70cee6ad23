//! `Lock`, `RLock`, `Semaphore`, `Event`, `Barrier` between processes: exclusion, timeouts,
//! and a holder that dies does not block the others for ever.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn a_process_dying_with_the_lock_does_not_block_others() {
    in_child(30, || {
        let lock = Lock::new().unwrap();
        let held = lock.clone();
        let got_it = Event::new().unwrap();
        let signal = got_it.clone();
        let p = Process::new(move || {
            let _g = held.acquire().unwrap();
            signal.set().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        });
        p.start().unwrap();
        assert!(got_it.wait_timeout(Duration::from_secs(10)).unwrap());
        assert!(
            lock.acquire_timeout(Duration::from_millis(20))
                .unwrap_err()
                .is_timeout()
        );
        p.kill().unwrap();
        p.join().unwrap();
        let g = lock.acquire_timeout(Duration::from_secs(5)).unwrap();
        assert!(g.previous_owner_died());
        drop(g);
        // Healthy again afterwards.
        assert!(!lock.acquire().unwrap().previous_owner_died());
    });
}

#[test]
fn relocking_from_the_same_thread_is_an_error_not_a_deadlock() {
    let lock = Lock::new().unwrap();
    let _g = lock.acquire().unwrap();
    assert_eq!(lock.acquire().unwrap_err().kind(), ErrorKind::InvalidState);
    let r = RLock::new().unwrap();
    let a = r.acquire().unwrap();
    let b = r.acquire().unwrap();
    drop((a, b));
}

#[test]
fn the_lock_excludes_processes_from_each_other() {
    in_child(60, || {
        let lock = Lock::new().unwrap();
        let inside = Value::new(0i64).unwrap();
        let overlap = Value::new(false).unwrap();
        let procs: Vec<Process> = (0..4)
            .map(|_| {
                let (lock, inside, overlap) = (lock.clone(), inside.clone(), overlap.clone());
                Process::new(move || {
                    for _ in 0..200 {
                        let _g = lock.acquire().unwrap();
                        if inside.get() != 0 {
                            overlap.set(true);
                        }
                        inside.set(1);
                        std::hint::spin_loop();
                        inside.set(0);
                    }
                })
            })
            .collect();
        procs.iter().for_each(|p| p.start().unwrap());
        for p in &procs {
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        }
        assert!(!overlap.get());
    });
}

#[test]
fn a_semaphore_admits_at_most_n() {
    in_child(60, || {
        let sem = Semaphore::new(2).unwrap();
        let inside = Value::new(0i64).unwrap();
        let most = Value::new(0i64).unwrap();
        let procs: Vec<Process> = (0..5)
            .map(|_| {
                let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                Process::new(move || {
                    let _place = sem.acquire().unwrap();
                    let now = inside.update(|x| x + 1).unwrap();
                    most.update(|m| m.max(now)).unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                    inside.update(|x| x - 1).unwrap();
                })
            })
            .collect();
        procs.iter().for_each(|p| p.start().unwrap());
        procs.iter().for_each(|p| p.join().unwrap());
        assert!(most.get() <= 2 && most.get() >= 1, "{}", most.get());
        assert_eq!(sem.get_value(), 2);
        assert_eq!(sem.bound(), 2);
    });
}

#[test]
fn barrier_meets_and_breaks_on_timeout() {
    in_child(30, || {
        let b = Barrier::new(3).unwrap();
        let procs: Vec<Process> = (0..2)
            .map(|_| {
                let b = b.clone();
                Process::new(move || {
                    b.wait_timeout(Duration::from_secs(10)).unwrap();
                })
            })
            .collect();
        procs.iter().for_each(|p| p.start().unwrap());
        b.wait_timeout(Duration::from_secs(10)).unwrap();
        for p in &procs {
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        }
        assert!(
            b.wait_timeout(Duration::from_millis(5))
                .unwrap_err()
                .is_timeout()
        );
        assert_eq!(b.wait().unwrap_err().kind(), ErrorKind::InvalidState);
        assert_eq!(
            Barrier::new(0).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    });
}

#[test]
fn event_set_clear_wait() {
    let e = Event::new().unwrap();
    assert!(!e.is_set());
    assert!(!e.wait_timeout(Duration::from_millis(5)).unwrap());
    e.set().unwrap();
    e.wait().unwrap();
    e.clear().unwrap();
    assert!(!e.is_set());
}
