//! Adversarial cases in issue 16's spirit: a blocking call whose peer dies or was never
//! going to answer, a call from a second thread while a first one blocks, an object used
//! by a child forked while others exist. Each runs in a child with a deadline: a hang is
//! a failure, not a frozen suite.

mod process_util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn a_queue_consumer_in_the_parent_sees_the_end_although_a_bystander_lives() {
    in_child(40, || {
        let q = Queue::<u32>::new().unwrap();
        let bystander = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        bystander.start().unwrap();
        let producer_q = q.clone();
        let producer = Process::new(move || {
            for v in 0..3 {
                producer_q.put(v).unwrap();
            }
        });
        producer.start().unwrap();
        producer.join().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            q.get().unwrap();
        }
        let err = q.get().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
        bystander.kill().unwrap();
        bystander.join().unwrap();
    });
}

#[test]
fn a_queue_consumer_sees_the_end_although_a_sibling_forked_earlier_lives() {
    in_child(40, || {
        let q = Queue::<u32>::new().unwrap();
        let bystander = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        bystander.start().unwrap();
        let consumer_q = q.clone();
        let consumer = Process::new(move || {
            let mut got = 0;
            loop {
                match consumer_q.get() {
                    Ok(_) => got += 1,
                    Err(e) if e.kind() == ErrorKind::Disconnected => break,
                    Err(e) => panic!("consumer: {e}"),
                }
            }
            assert_eq!(got, 3);
        });
        consumer.start().unwrap();
        for v in 0..3 {
            q.put(v).unwrap();
        }
        drop(q);
        let ended = consumer.join_timeout(Duration::from_secs(10)).unwrap();
        bystander.kill().unwrap();
        bystander.join().unwrap();
        if !ended {
            consumer.kill().unwrap();
            panic!("the consumer never saw the end of the queue while a bystander lived");
        }
        assert_eq!(consumer.exitcode(), Some(0));
    });
}

#[test]
fn recv_timeout_from_a_second_thread_keeps_its_timeout_while_another_blocks() {
    in_child(30, || {
        let (a, _b) = Pipe::<u32>::new().unwrap();
        let a = Arc::new(a);
        let blocked = {
            let a = a.clone();
            std::thread::spawn(move || a.recv_timeout(Duration::from_secs(5)))
        };
        std::thread::sleep(Duration::from_millis(100)); // the first is inside recv
        let start = Instant::now();
        let second = a.recv_timeout(Duration::from_millis(100));
        assert!(second.unwrap_err().is_timeout());
        let waited = start.elapsed();
        assert!(
            waited < Duration::from_secs(3),
            "recv_timeout(100 ms) waited {waited:?} for the other thread's recv"
        );
        assert!(!a.poll(Duration::from_millis(10)).unwrap());
        assert!(blocked.join().unwrap().unwrap_err().is_timeout());
    });
}

#[test]
fn a_queue_get_timeout_from_a_second_thread_keeps_its_timeout() {
    in_child(30, || {
        let q = Arc::new(Queue::<u32>::new().unwrap());
        let blocked = {
            let q = q.clone();
            std::thread::spawn(move || q.get_timeout(Duration::from_secs(5)))
        };
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        assert!(
            q.get_timeout(Duration::from_millis(100))
                .unwrap_err()
                .is_timeout()
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "waited {:?}",
            start.elapsed()
        );
        q.put(1).unwrap();
        assert_eq!(blocked.join().unwrap().unwrap(), 1);
    });
}

#[test]
fn joinable_queue_join_when_the_consumer_died_before_task_done() {
    in_child(40, || {
        let q = JoinableQueue::<u32>::new().unwrap();
        let worker_q = q.clone();
        let worker = Process::new(move || {
            let _ = worker_q.get().unwrap();
            std::process::abort(); // dies holding the item, task_done never comes
        });
        worker.start().unwrap();
        q.put(1).unwrap();
        worker.join().unwrap();
        // Python's join() would wait for ever here. A bounded wait must say "not done".
        assert!(!q.join_timeout(Duration::from_millis(300)).unwrap());
    });
}

#[test]
fn a_pipe_sender_blocked_on_a_full_ring_learns_the_reader_was_killed() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<Vec<u8>>::new().unwrap();
        let bystander = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        bystander.start().unwrap(); // holds inherited copies of both sockets
        let reader = Process::new(move || {
            let _ = theirs.recv();
            std::thread::sleep(Duration::from_secs(30));
        });
        reader.start().unwrap();
        mine.send(vec![0; 10]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        reader.kill().unwrap();
        reader.join().unwrap();
        let start = Instant::now();
        let mut outcome = Ok(());
        for _ in 0..1000 {
            outcome = mine.send(vec![0; 60 * 1024]);
            if outcome.is_err() {
                break;
            }
        }
        let err = outcome.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
        bystander.kill().unwrap();
        bystander.join().unwrap();
    });
}

#[test]
fn a_big_message_reader_learns_the_writer_died_mid_message() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<Vec<u8>>::new().unwrap();
        let bystander = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        bystander.start().unwrap();
        let writer = Process::new(move || {
            theirs.send(vec![1u8; 8 << 20]).unwrap(); // over the socket, in parts
        });
        writer.start().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        writer.kill().unwrap(); // perhaps mid-message
        writer.join().unwrap();
        // Either the whole message arrived before the kill, or end of file: never a hang.
        match mine.recv_timeout(Duration::from_secs(10)) {
            Ok(v) => assert_eq!(v.len(), 8 << 20),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}"),
        }
        bystander.kill().unwrap();
        bystander.join().unwrap();
    });
}

#[test]
fn a_manager_proxy_in_a_child_whose_manager_shut_down_fails_at_once() {
    in_child(40, || {
        let manager = Manager::new().unwrap();
        let l = manager.list::<u32>().unwrap();
        l.append(1).unwrap();
        manager.shutdown();
        let p = Process::new(move || {
            let err = l.append(2).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        });
        p.start().unwrap();
        assert!(p.join_timeout(Duration::from_secs(10)).unwrap());
        assert_eq!(p.exitcode(), Some(0));
    });
}

#[test]
fn terminate_from_another_thread_while_one_waits_in_a_process_map() {
    in_child(60, || {
        let pool = Arc::new(Pool::processes(2).unwrap());
        let waiting = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.map(
                    |ms: u64| {
                        std::thread::sleep(Duration::from_millis(ms));
                        ms
                    },
                    vec![20_000u64; 4],
                )
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        pool.terminate();
        let outcome = waiting.join().unwrap();
        assert!(
            outcome.is_err(),
            "a terminated map must fail, not wait 20 s per item"
        );
    });
}
