//! `Queue::get` without a timeout does not wait for ever on a queue nobody can fill any
//! more: once every other process that held it has exited (and this process holds no
//! other handle), an empty queue is end of file. Each test runs in a child with a
//! deadline, so a hang fails instead of freezing the suite.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn get_after_the_only_producer_died_is_end_of_file_not_a_hang() {
    in_child(60, || {
        let q = Queue::<u32>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || {
            tx.put(1).unwrap();
            tx.put(2).unwrap();
            // Dies without closing anything, as a crashed producer would.
            std::process::abort();
        });
        p.start().unwrap();
        assert_eq!(q.get().unwrap(), 1);
        assert_eq!(q.get().unwrap(), 2);
        let err = q.get().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        p.join().unwrap();
    });
}

#[test]
fn get_keeps_waiting_while_a_producer_lives() {
    in_child(60, || {
        let q = Queue::<u32>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || {
            std::thread::sleep(Duration::from_millis(500));
            tx.put(7).unwrap();
        });
        p.start().unwrap();
        // The producer is slow, not gone: get waits for its item.
        assert_eq!(q.get().unwrap(), 7);
        p.join().unwrap();
        assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Disconnected);
    });
}

#[test]
fn another_handle_in_this_process_keeps_get_waiting() {
    in_child(60, || {
        let q = Queue::<u32>::new().unwrap();
        let tx = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            tx.put(5).unwrap();
        });
        // No other process, but a thread of this one holds a handle and may put.
        assert_eq!(q.get().unwrap(), 5);
        t.join().unwrap();
    });
}

#[test]
fn pool_tasks_are_holders_while_they_run() {
    in_child(60, || {
        let q = Queue::<u32>::new().unwrap();
        let pool = Pool::processes(2).unwrap();
        let tx = q.clone();
        let later = pool
            .apply_async(move || {
                std::thread::sleep(Duration::from_millis(300));
                tx.put(4).unwrap();
            })
            .unwrap();
        assert_eq!(q.get().unwrap(), 4);
        later.get().unwrap();
        drop(pool);
        assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Disconnected);
    });
}

#[test]
fn a_joinable_queue_also_ends_when_its_producers_are_gone() {
    in_child(60, || {
        let q = JoinableQueue::<u8>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || tx.put(3).unwrap());
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(q.get().unwrap(), 3);
        q.task_done().unwrap();
        assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Disconnected);
    });
}

#[test]
fn a_queue_only_threads_used_never_ends_this_way() {
    in_child(60, || {
        let q = std::sync::Arc::new(Queue::<u32>::new().unwrap());
        let shared = q.clone(); // the same handle, by reference: no clone of the queue
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            shared.put(8).unwrap();
        });
        assert_eq!(q.get().unwrap(), 8);
        t.join().unwrap();
    });
}
