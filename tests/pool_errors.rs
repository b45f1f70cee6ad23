//! Bad input and misuse of the thread pool: each gives a clear error, and the pool stays
//! usable wherever Python's does.

use std::sync::mpsc;
use std::time::Duration;

use paralelo::prelude::*;

fn kind<T>(result: Result<T>) -> ErrorKind {
    match result {
        Ok(_) => panic!("expected an error, got a value"),
        Err(e) => e.kind(),
    }
}

#[test]
fn zero_workers_is_invalid_argument() {
    let err = Pool::new(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("at least 1"), "{err}");
    assert_eq!(
        kind(Pool::builder().workers(0).build()),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn zero_chunksize_is_invalid_argument() {
    let err = Pool::builder().workers(2).chunksize(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("chunksize"), "{err}");
}

#[test]
fn work_after_close_is_refused() {
    let pool = Pool::new(2).unwrap();
    pool.close();
    assert_eq!(kind(pool.apply(|| 1)), ErrorKind::PoolClosed);
    assert_eq!(kind(pool.apply_async(|| 1)), ErrorKind::PoolClosed);
    assert_eq!(kind(pool.map(|x: i32| x, vec![1])), ErrorKind::PoolClosed);
    assert_eq!(
        kind(pool.starmap(|a: i32, b: i32| a + b, vec![(1, 2)])),
        ErrorKind::PoolClosed
    );
    assert_eq!(
        kind(pool.map_async(|x: i32| x, vec![1])),
        ErrorKind::PoolClosed
    );
    assert_eq!(kind(pool.imap(|x: i32| x, vec![1])), ErrorKind::PoolClosed);
    assert_eq!(
        kind(pool.imap_unordered(|x: i32| x, vec![1])),
        ErrorKind::PoolClosed
    );
    pool.join().unwrap();
}

#[test]
fn work_after_terminate_is_refused() {
    let pool = Pool::new(2).unwrap();
    pool.terminate();
    assert_eq!(kind(pool.apply(|| 1)), ErrorKind::PoolTerminated);
    assert_eq!(
        kind(pool.map(|x: i32| x, vec![1])),
        ErrorKind::PoolTerminated
    );
    assert_eq!(kind(pool.apply_async(|| 1)), ErrorKind::PoolTerminated);
    // close() after terminate() does not reopen anything.
    pool.close();
    assert_eq!(kind(pool.apply(|| 1)), ErrorKind::PoolTerminated);
}

#[test]
fn join_before_close_is_an_error_and_the_pool_still_works() {
    let pool = Pool::new(2).unwrap();
    let err = pool.join().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains("close()"), "{err}");
    assert_eq!(pool.apply(|| 2 + 2).unwrap(), 4);
}

#[test]
fn join_from_a_worker_of_the_same_pool_is_refused() {
    let pool = std::sync::Arc::new(Pool::new(1).unwrap());
    let (go, wait) = mpsc::channel::<()>();
    let me = pool.clone();
    let task = pool
        .apply_async(move || {
            wait.recv().unwrap();
            me.join()
        })
        .unwrap();
    pool.close();
    go.send(()).unwrap();
    let err = task.get().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains("wait for itself"), "{err}");
    pool.join().unwrap();
}

#[test]
fn get_timeout_expires_and_the_value_is_still_obtainable() {
    let pool = Pool::new(1).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let task = pool
        .apply_async(move || {
            wait.recv().unwrap();
            "listo"
        })
        .unwrap();
    let err = task.get_timeout(Duration::from_millis(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!task.ready());
    assert_eq!(task.successful().unwrap_err().kind(), ErrorKind::NotReady);
    release.send(()).unwrap();
    assert_eq!(task.get().unwrap(), "listo");
}

#[test]
fn get_after_get_timeout_gives_the_value_again_as_in_python() {
    // Issue 16: Python's get() may be repeated; it used to be AlreadyTaken here.
    let pool = Pool::new(1).unwrap();
    let task = pool.apply_async(|| 5).unwrap();
    task.wait();
    assert_eq!(task.get_timeout(Duration::from_secs(60)).unwrap(), 5);
    assert!(task.successful().unwrap());
    assert_eq!(task.get().unwrap(), 5);
    assert_eq!(task.get().unwrap(), 5);
    let failed = pool.apply_async(|| -> u8 { panic!("otra vez") }).unwrap();
    for _ in 0..2 {
        let err = failed.get().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskPanicked);
        assert!(err.to_string().contains("otra vez"), "{err}");
    }
}

#[test]
fn panic_with_a_string_payload_is_that_tasks_error() {
    let pool = Pool::new(2).unwrap();
    let n = 7;
    let err = pool
        .apply(move || -> i32 { panic!("tarea {n} falló") })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked);
    assert!(err.to_string().contains("tarea 7 falló"), "{err}");
    // The pool keeps serving.
    assert_eq!(pool.map(|x: i32| x * 2, vec![1, 2, 3]).unwrap(), [2, 4, 6]);
}

#[test]
fn panic_with_a_non_string_payload_is_reported_too() {
    let pool = Pool::new(2).unwrap();
    let task = pool
        .apply_async(|| -> i32 { std::panic::panic_any(42_u8) })
        .unwrap();
    task.wait();
    assert!(!task.successful().unwrap());
    let err = task.get().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked);
    assert!(err.to_string().contains("non-string"), "{err}");
    assert_eq!(pool.apply(|| 1).unwrap(), 1);
}

#[test]
fn one_panicking_task_does_not_fail_the_others() {
    let pool = Pool::new(2).unwrap();
    let results: Vec<_> = (0..20)
        .map(|i| {
            pool.apply_async(move || if i == 13 { panic!("trece") } else { i })
                .unwrap()
        })
        .collect();
    for (i, r) in results.into_iter().enumerate() {
        match r.get() {
            Ok(v) => assert_eq!(v, i),
            Err(e) => {
                assert_eq!(i, 13);
                assert!(e.to_string().contains("trece"));
            }
        }
    }
}

#[test]
fn a_panic_inside_map_fails_the_map_with_its_message() {
    let pool = Pool::new(2).unwrap();
    let err = pool.map(
        |x: u32| if x == 500 { panic!("malo: {x}") } else { x },
        0..1000u32,
    );
    let err = err.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked);
    assert!(err.to_string().contains("malo: 500"), "{err}");
    assert_eq!(pool.map(|x: u32| x + 1, 0..3u32).unwrap(), [1, 2, 3]);
}

#[test]
fn a_panicking_initializer_fails_build_instead_of_looping() {
    let err = Pool::builder()
        .workers(2)
        .initializer(|| panic!("sin conexión"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked);
    assert!(err.to_string().contains("sin conexión"), "{err}");
}
