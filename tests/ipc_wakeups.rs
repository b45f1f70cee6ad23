//! `Pipe` and `Queue` between processes when a side sleeps: bursts with pauses longer
//! and shorter than the spin, so the reader (or, on a full buffer, the writer) goes to
//! sleep again and again and must be woken every time. A lost wake-up shows as a hang
//! (or a stall of a wait slice each time); the bodies run in a child with a bound.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

const BURSTS: u64 = 2_000;

/// The pause after burst `i`: from none to 300 µs, around the 50 µs spin.
fn pause(i: u64) -> Duration {
    Duration::from_micros([0, 10, 40, 60, 120, 300][(i % 6) as usize])
}

/// How many messages burst `i` holds: 1 to 8.
fn burst_len(i: u64) -> u64 {
    1 + (i * 7) % 8
}

fn total() -> u64 {
    (0..BURSTS).map(burst_len).sum()
}

#[test]
fn a_pipe_reader_is_woken_after_every_pause() {
    in_child(120, || {
        let (rx, tx) = Pipe::<u64>::one_way().unwrap();
        let p = Process::new(move || {
            let mut n = 0;
            for i in 0..BURSTS {
                for _ in 0..burst_len(i) {
                    tx.send(n).unwrap();
                    n += 1;
                }
                std::thread::sleep(pause(i));
            }
        });
        p.start().unwrap();
        for n in 0..total() {
            assert_eq!(rx.recv().unwrap(), n);
        }
        p.join().unwrap();
        assert_eq!(rx.recv().unwrap_err().kind(), ErrorKind::Disconnected);
    });
}

#[test]
fn a_queue_reader_is_woken_after_every_pause() {
    in_child(120, || {
        let q = Queue::<u64>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || {
            let mut n = 0;
            for i in 0..BURSTS {
                for _ in 0..burst_len(i) {
                    tx.put(n).unwrap();
                    n += 1;
                }
                std::thread::sleep(pause(i));
            }
        });
        p.start().unwrap();
        for n in 0..total() {
            assert_eq!(q.get().unwrap(), n);
        }
        p.join().unwrap();
    });
}

#[test]
fn a_writer_waiting_for_room_is_woken_after_every_pause() {
    in_child(120, || {
        // One item fits: the writer waits for the reader after every put.
        let q = Queue::<u64>::with_maxsize(1).unwrap();
        let tx = q.clone();
        let p = Process::new(move || {
            for n in 0..total() {
                tx.put(n).unwrap();
            }
        });
        p.start().unwrap();
        let mut n = 0;
        for i in 0..BURSTS {
            for _ in 0..burst_len(i) {
                assert_eq!(q.get().unwrap(), n);
                n += 1;
            }
            std::thread::sleep(pause(i));
        }
        p.join().unwrap();
    });
}

#[test]
fn a_pipe_writer_on_a_full_buffer_is_woken_after_every_pause() {
    in_child(120, || {
        // 60 KiB messages fill the pipe's buffer in a few sends.
        let (rx, tx) = Pipe::<Vec<u8>>::one_way().unwrap();
        let p = Process::new(move || {
            for n in 0..300u32 {
                tx.send(vec![n as u8; 60 * 1024]).unwrap();
            }
        });
        p.start().unwrap();
        for n in 0..300u64 {
            let got = rx.recv().unwrap();
            assert!(got.len() == 60 * 1024 && got.iter().all(|&b| b == n as u8));
            std::thread::sleep(pause(n));
        }
        p.join().unwrap();
    });
}

#[test]
fn ping_pong_wakes_each_side_in_turn() {
    in_child(120, || {
        let (here, there) = Pipe::<u64>::new().unwrap();
        let p = Process::new(move || {
            // The child holds a copy of `here` too (fork): a sentinel ends it, not EOF.
            loop {
                let n = there.recv().unwrap();
                if n == u64::MAX {
                    break;
                }
                std::thread::sleep(pause(n));
                there.send(n + 1).unwrap();
            }
        });
        p.start().unwrap();
        for n in 0..BURSTS {
            here.send(n).unwrap();
            assert_eq!(here.recv().unwrap(), n + 1);
            std::thread::sleep(pause(n + 3));
        }
        here.send(u64::MAX).unwrap();
        p.join().unwrap();
    });
}

#[test]
fn a_timed_receive_is_woken_by_a_late_message() {
    in_child(60, || {
        let (rx, tx) = Pipe::<u64>::one_way().unwrap();
        let q = Queue::<u64>::new().unwrap();
        let qtx = q.clone();
        let p = Process::new(move || {
            for n in 0..200 {
                std::thread::sleep(pause(n));
                tx.send(n).unwrap();
                qtx.put(n).unwrap();
            }
        });
        p.start().unwrap();
        for n in 0..200 {
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), n);
            assert_eq!(q.get_timeout(Duration::from_secs(30)).unwrap(), n);
        }
        p.join().unwrap();
    });
}
