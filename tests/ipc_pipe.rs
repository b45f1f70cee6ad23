//! `Pipe` / `Connection`: typed messages both ways, timeouts, end of file when the peer dies.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn both_directions_between_processes() {
    in_child(20, || {
        let (parent, child) = Pipe::<String>::new().unwrap();
        let p = Process::new(move || {
            let q = child.recv().unwrap();
            child.send(format!("{q}!")).unwrap();
        });
        p.start().unwrap();
        parent.send("hola".to_string()).unwrap();
        assert_eq!(
            parent.recv_timeout(Duration::from_secs(10)).unwrap(),
            "hola!"
        );
        p.join().unwrap();
    });
}

#[test]
fn a_dead_peer_is_end_of_file_not_a_hang() {
    in_child(20, || {
        let (parent, child) = Pipe::<u32>::new().unwrap();
        let p = Process::new(move || {
            child.send(1).unwrap();
            std::process::abort();
        });
        p.start().unwrap();
        assert_eq!(parent.recv().unwrap(), 1);
        let err = parent.recv().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        p.join().unwrap();
        // Sending to a dead peer is an error too, not a SIGPIPE.
        assert_eq!(parent.send(2).unwrap_err().kind(), ErrorKind::Disconnected);
    });
}

#[test]
fn many_messages_arrive_in_order_with_threads() {
    let (a, b) = Pipe::<u64>::new().unwrap();
    let t = std::thread::spawn(move || {
        for i in 0..10_000u64 {
            a.send(i).unwrap();
        }
    });
    for i in 0..10_000u64 {
        assert_eq!(b.recv_timeout(Duration::from_secs(10)).unwrap(), i);
    }
    t.join().unwrap();
}

#[test]
fn messages_split_across_reads_are_reassembled() {
    // Messages of odd sizes, sent as fast as possible, straddle the reader's buffer.
    let (a, b) = Pipe::<Vec<u8>>::new().unwrap();
    let t = std::thread::spawn(move || {
        for i in 0..600usize {
            a.send(vec![(i % 251) as u8; i * 37 % 70_001]).unwrap();
        }
    });
    for i in 0..600usize {
        let got = b.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(got.len(), i * 37 % 70_001);
        assert!(got.iter().all(|&x| x == (i % 251) as u8));
    }
    t.join().unwrap();
}

#[test]
fn big_messages_cross_whole() {
    let (a, b) = Pipe::<Vec<u8>>::new().unwrap();
    let t = std::thread::spawn(move || a.send(vec![7u8; 3 << 20]).unwrap());
    let got = b.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(got.len(), 3 << 20);
    t.join().unwrap();
}

#[test]
fn timeouts_and_poll() {
    let (a, b) = Pipe::<u8>::new().unwrap();
    assert!(
        a.recv_timeout(Duration::from_millis(5))
            .unwrap_err()
            .is_timeout()
    );
    assert!(!a.poll(Duration::ZERO).unwrap());
    b.send(9).unwrap();
    assert!(a.poll(Duration::from_secs(5)).unwrap());
    assert_eq!(a.recv().unwrap(), 9);
}

#[test]
fn one_way_ends_refuse_the_wrong_direction() {
    let (r, w) = Pipe::<u8>::one_way().unwrap();
    w.send(1).unwrap();
    assert_eq!(r.recv().unwrap(), 1);
    assert_eq!(r.send(1).unwrap_err().kind(), ErrorKind::InvalidState);
    assert_eq!(w.recv().unwrap_err().kind(), ErrorKind::InvalidState);
}

/// A value whose encoding always fails, whatever the codec.
#[derive(Debug, serde::Deserialize)]
struct Refuses;

impl serde::Serialize for Refuses {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

#[test]
fn a_value_that_fails_to_serialize_is_a_clear_error() {
    let (a, b) = Pipe::<Option<Refuses>>::new().unwrap();
    let err = a.send(Some(Refuses)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serialization, "{err}");
    assert!(err.to_string().contains("refuses"), "{err}");
    // Nothing half-sent: the pipe still works.
    a.send(None).unwrap();
    assert!(b.recv().unwrap().is_none());
}

#[test]
fn a_sender_blocked_on_a_full_pipe_learns_that_the_reader_died() {
    in_child(30, || {
        let (reader, writer) = Pipe::<Vec<u8>>::one_way().unwrap();
        let p = Process::new(move || {
            let _ = reader.recv();
            std::thread::sleep(Duration::from_millis(200));
            std::process::abort(); // dies without reading the rest
        });
        p.start().unwrap();
        // Fill the pipe far beyond its buffer: once the reader is dead, send must fail.
        let err = (0..10_000)
            .map(|_| writer.send(vec![1u8; 1000]))
            .find_map(|r| r.err())
            .expect("sending to a dead reader must fail");
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        p.join().unwrap();
    });
}

#[test]
fn poll_reports_end_of_file_as_ready() {
    let (a, b) = Pipe::<u8>::new().unwrap();
    drop(b);
    assert!(a.poll(Duration::from_secs(5)).unwrap());
    assert_eq!(a.recv().unwrap_err().kind(), ErrorKind::Disconnected);
}

#[test]
fn one_end_shared_by_threads_and_processes_delivers_each_message_once_in_order() {
    in_child(60, || {
        const EACH: u64 = 20_000;
        let (rx, tx) = Pipe::<(u64, u64)>::one_way().unwrap();
        let tx = std::sync::Arc::new(tx);
        // Two processes and, in this one, two threads send through the same end.
        let procs: Vec<_> = (0..2u64)
            .map(|who| {
                let tx = tx.clone();
                Process::new(move || {
                    for n in 0..EACH {
                        tx.send((who, n)).unwrap();
                    }
                })
            })
            .collect();
        for p in &procs {
            p.start().unwrap();
        }
        let threads: Vec<_> = (2..4u64)
            .map(|who| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for n in 0..EACH {
                        tx.send((who, n)).unwrap();
                    }
                })
            })
            .collect();
        let mut next = [0u64; 4];
        for _ in 0..4 * EACH {
            let (who, n) = rx.recv().unwrap();
            assert_eq!(n, next[who as usize], "sender {who} out of order");
            next[who as usize] += 1;
        }
        assert_eq!(next, [EACH; 4]);
        for t in threads {
            t.join().unwrap();
        }
        for p in &procs {
            p.join().unwrap();
        }
    });
}
