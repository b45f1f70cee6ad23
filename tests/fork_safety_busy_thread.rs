//! Every object a forked child can reach is safe to use in a child forked at any moment,
//! whatever another thread of the parent is doing with it at that instant: a thread keeps
//! using the object in a loop while the test forks children that use it too. A lock, a
//! buffer or a connection copied mid-operation must never hang the child. Objects that
//! belong to the parent's threads (pools, their results, a `Process` the child did not
//! start) answer the child with an error at once instead.

mod process_util;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

/// How many children each test forks while the parent's thread is busy.
const FORKS: usize = 25;

/// Runs `busy` in a loop on a parent thread while forking [`FORKS`] children that each run
/// `in_child_use` once; every child must end with exit code 0 within 10 s.
fn forks_while_busy<T: Send + Sync + 'static>(
    object: T,
    busy: impl Fn(&T) + Send + Sync + 'static,
    in_child_use: impl Fn(&T) + Send + Sync + 'static,
) {
    let object = Arc::new(object);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (object, stop) = (object.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                busy(&object);
            }
        })
    };
    let in_child_use = Arc::new(in_child_use);
    for round in 0..FORKS {
        let (object, use_it) = (object.clone(), in_child_use.clone());
        let p = Process::new(move || use_it(&object));
        p.start().unwrap();
        if !p.join_timeout(Duration::from_secs(10)).unwrap() {
            p.kill().unwrap();
            p.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            panic!("fork {round}: the child hung using an object its parent's thread was using");
        }
        assert_eq!(p.exitcode(), Some(0), "fork {round}: the child failed");
    }
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}

#[test]
fn list_proxy() {
    in_child(120, || {
        let manager = Manager::new().unwrap();
        let list = manager.list::<u32>().unwrap();
        forks_while_busy(
            list,
            |l| {
                l.append(1).unwrap();
                let _ = l.pop().unwrap();
            },
            |l| l.append(2).unwrap(),
        );
    });
}

#[test]
fn dict_proxy() {
    in_child(120, || {
        let manager = Manager::new().unwrap();
        let dict = manager.dict::<u32, u32>().unwrap();
        forks_while_busy(
            dict,
            |d| d.insert(1, 1).unwrap(),
            |d| d.insert(std::process::id(), 2).unwrap(),
        );
    });
}

#[test]
fn queue() {
    in_child(120, || {
        let q = Queue::<u64>::new().unwrap();
        forks_while_busy(
            q,
            |q| {
                q.put(1).unwrap();
                let _ = q.get_timeout(Duration::from_millis(50));
            },
            |q| q.put(2).unwrap(),
        );
    });
}

#[test]
fn pipe_connection() {
    in_child(120, || {
        let (a, b) = Pipe::<u64>::new().unwrap();
        forks_while_busy(
            (a, b),
            |(a, b)| {
                a.send(1).unwrap();
                let _ = b.recv_timeout(Duration::from_millis(50));
            },
            |(a, _)| a.send(2).unwrap(),
        );
    });
}

#[test]
fn lock_and_rlock_and_semaphore() {
    in_child(120, || {
        let objects = (
            Lock::new().unwrap(),
            RLock::new().unwrap(),
            Semaphore::new(1).unwrap(),
        );
        forks_while_busy(
            objects,
            |(l, r, s)| {
                drop(l.acquire().unwrap());
                let outer = r.acquire().unwrap();
                drop(r.acquire().unwrap());
                drop(outer);
                drop(s.acquire().unwrap());
            },
            |(l, r, s)| {
                drop(l.acquire_timeout(Duration::from_secs(5)).unwrap());
                let outer = r.acquire_timeout(Duration::from_secs(5)).unwrap();
                drop(r.acquire().unwrap());
                drop(outer);
                drop(s.acquire_timeout(Duration::from_secs(5)).unwrap());
            },
        );
    });
}

#[test]
fn event() {
    in_child(120, || {
        forks_while_busy(
            Event::new().unwrap(),
            |e| {
                e.set().unwrap();
                e.clear().unwrap();
            },
            |e| {
                e.set().unwrap();
                let _ = e.is_set();
            },
        );
    });
}

#[test]
fn value_and_array() {
    in_child(120, || {
        let objects = (Value::new(0u64).unwrap(), Array::<u64>::zeroed(8).unwrap());
        forks_while_busy(
            objects,
            |(v, a)| {
                v.update(|x| x + 1).unwrap();
                a.set(0, a.get(0).unwrap() + 1).unwrap();
            },
            |(v, a)| {
                v.update(|x| x + 1).unwrap();
                let _guard = a
                    .get_lock()
                    .acquire_timeout(Duration::from_secs(5))
                    .unwrap();
            },
        );
    });
}

#[test]
fn printing() {
    in_child(120, || {
        forks_while_busy(
            (),
            |()| {
                // The real streams (print! would write to the test harness's capture).
                write!(std::io::stdout(), "").unwrap();
                write!(std::io::stderr(), "").unwrap();
            },
            |()| {
                write!(std::io::stdout(), "").unwrap();
                write!(std::io::stderr(), "").unwrap();
                // A thread of the child prints too (a lock kept by the forking thread
                // would still block it).
                std::thread::spawn(|| write!(std::io::stdout(), "").unwrap())
                    .join()
                    .unwrap();
            },
        );
    });
}

#[test]
fn thread_pool_and_its_results() {
    in_child(120, || {
        let pool = Pool::new(2).unwrap();
        let ready = pool.apply_async(|| 1).unwrap();
        ready.wait();
        let pending = pool
            .apply_async(|| std::thread::sleep(Duration::from_secs(30)))
            .unwrap();
        forks_while_busy(
            (pool, ready, pending),
            |(pool, ready, _)| {
                pool.map(|x: u32| x + 1, 0..64u32).unwrap();
                let _ = ready.get();
            },
            |(pool, ready, pending)| {
                let err = pool.map(|x: u32| x + 1, 0..4u32).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                let err = pool.apply_async(|| 1).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                // A value that had landed is in the child's copy; one that had not never
                // lands there: an error at once, not a wait.
                if let Err(err) = ready.get() {
                    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                }
                let err = pending.get().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                assert!(!pending.wait_timeout(Duration::from_secs(1)));
            },
        );
    });
}

#[test]
fn process_pool() {
    in_child(120, || {
        let pool = Pool::processes(2).unwrap();
        forks_while_busy(
            pool,
            |pool| {
                pool.apply(|| 2).unwrap();
                pool.map(|x: u32| x + 1, 0..8u32).unwrap();
            },
            |pool| {
                let err = pool.apply(|| 2).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                let err = pool.map(|x: u32| x + 1, 0..4u32).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
            },
        );
    });
}

#[test]
fn a_process_object_shared_with_a_child() {
    in_child(120, || {
        let watched = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        watched.start().unwrap();
        forks_while_busy(
            watched,
            |p| {
                let _ = p.is_alive();
                let _ = p.join_timeout(Duration::from_millis(1));
            },
            |p| {
                // Not this child's child: it cannot wait for it, and says so at once.
                let err = p.join_timeout(Duration::from_secs(1)).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
                assert!(p.pid().is_some());
            },
        );
    });
}

#[test]
fn starting_processes_from_a_child_while_the_parent_starts_and_drops_others() {
    in_child(120, || {
        forks_while_busy(
            (),
            |()| {
                let p = Process::new(|| {});
                p.start().unwrap();
                drop(p); // unjoined: reaped later, through the orphans list
            },
            |()| {
                let p = Process::new(|| {});
                p.start().unwrap();
                p.join().unwrap();
            },
        );
    });
}
