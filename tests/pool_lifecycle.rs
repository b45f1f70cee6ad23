//! What happens to queued work: close, terminate, join and drop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use paralelo::prelude::*;

/// A task that holds the pool's only worker until the test lets it go.
fn occupy(pool: &Pool) -> (mpsc::Sender<()>, AsyncResult<()>) {
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let busy = pool
        .apply_async(move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap();
        })
        .unwrap();
    started.recv().unwrap();
    (release, busy)
}

#[test]
fn terminate_fails_queued_tasks_at_once_where_python_hangs() {
    // Document 003, S3-21: Python's get() on a task whose pool closed first waits forever.
    let pool = Pool::new(1).unwrap();
    let (release, busy) = occupy(&pool);
    let queued: Vec<_> = (0..3)
        .map(|i| pool.apply_async(move || i).unwrap())
        .collect();
    assert_eq!(pool.terminate(), 3);
    for task in queued {
        let err = task.get().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!(err.to_string().contains("terminated"), "{err}");
    }
    release.send(()).unwrap();
    busy.get().unwrap();
    pool.join().unwrap();
}

#[test]
fn close_then_join_runs_everything_queued() {
    let pool = Pool::new(2).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let done = done.clone();
            pool.apply_async(move || {
                std::thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst)
            })
            .unwrap()
        })
        .collect();
    pool.close();
    pool.join().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 50);
    assert!(tasks.iter().all(|t| t.ready()));
}

#[test]
fn dropping_a_pool_waits_for_queued_work_so_nothing_is_lost() {
    // Document 003, S3-16: Python's `with Pool()` exit drops these tasks silently.
    let done = Arc::new(AtomicUsize::new(0));
    let results: Vec<_> = {
        let pool = Pool::new(2).unwrap();
        (0..4)
            .map(|i| {
                let done = done.clone();
                pool.apply_async(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    done.fetch_add(1, Ordering::SeqCst);
                    i * 10
                })
                .unwrap()
            })
            .collect()
    }; // the pool is dropped here
    assert_eq!(done.load(Ordering::SeqCst), 4);
    let values: Vec<i32> = results.into_iter().map(|r| r.get().unwrap()).collect();
    assert_eq!(values, [0, 10, 20, 30]);
}

#[test]
fn join_timeout_reports_unfinished_work() {
    let pool = Pool::new(1).unwrap();
    let (release, busy) = occupy(&pool);
    pool.close();
    assert!(!pool.join_timeout(Duration::from_millis(5)).unwrap());
    release.send(()).unwrap();
    busy.get().unwrap();
    assert!(pool.join_timeout(Duration::from_secs(600)).unwrap());
}

#[test]
fn tasks_start_in_the_order_they_were_queued() {
    let pool = Pool::new(1).unwrap();
    let (release, busy) = occupy(&pool);
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let order = order.clone();
            pool.apply_async(move || order.lock().unwrap().push(i))
                .unwrap()
        })
        .collect();
    release.send(()).unwrap();
    busy.get().unwrap();
    for t in tasks {
        t.get().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
}

#[test]
fn apply_blocks_and_apply_async_overlaps() {
    // Document 003, S3-14 and S3-15, without timing: apply returns only when its task is
    // done, while apply_async returns before.
    let pool = Pool::new(2).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let background = pool.apply_async(move || wait.recv().unwrap()).unwrap();
    assert_eq!(pool.apply(|| "Tarea 2").unwrap(), "Tarea 2"); // runs on the other worker
    assert!(!background.ready());
    release.send(()).unwrap();
    background.get().unwrap();
}

#[test]
fn apply_nests_inside_tasks_of_its_own_pool_and_of_another() {
    // `apply` waits in a rayon scope: from a worker that wait must keep stealing work
    // instead of blocking, or a one-worker pool would deadlock on itself.
    let inner = Pool::new(1).unwrap();
    let outer = Pool::new(1).unwrap();
    let nested = inner.apply(|| inner.apply(|| 6 * 7).unwrap()).unwrap();
    assert_eq!(nested, 42);
    let across = outer
        .apply(|| inner.apply(|| "otra piscina").unwrap())
        .unwrap();
    assert_eq!(across, "otra piscina");
    let borrowed = String::from("prestado");
    assert_eq!(outer.apply(|| borrowed.len()).unwrap(), 8);
}
