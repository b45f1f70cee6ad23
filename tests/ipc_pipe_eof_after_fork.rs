//! A `Pipe`'s end of file comes as soon as the peer end is closed in every process that
//! holds it, even though every forked child inherits a copy of every open end: the copy a
//! child never took (it was not moved into its closure) does not keep the pipe open.
//! Each arrangement: parent and child, siblings, an end passed on to a grandchild,
//! `Connection::close()`, and a bystander child forked while both ends were open.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

/// An echo server: answers every value until end of file, then exits with 0.
fn echo(conn: Connection<u32>) -> impl FnOnce() + Send + 'static {
    move || {
        loop {
            match conn.recv() {
                Ok(v) => conn.send(v + 1).unwrap(),
                Err(e) if e.kind() == ErrorKind::Disconnected => return,
                Err(e) => panic!("echo: {e}"),
            }
        }
    }
}

/// Waits for `p` (at most 10 s) and checks that it ended with exit code 0.
fn ends_cleanly(p: &Process, what: &str) {
    let ended = p.join_timeout(Duration::from_secs(10)).unwrap();
    if !ended {
        p.kill().unwrap();
        panic!("{what}: the child never saw end of file (still running after 10 s)");
    }
    assert_eq!(p.exitcode(), Some(0), "{what}");
}

#[test]
fn an_echo_child_sees_end_of_file_when_the_parent_drops_its_end() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let p = Process::new(echo(theirs));
        p.start().unwrap();
        mine.send(1).unwrap();
        assert_eq!(mine.recv().unwrap(), 2);
        drop(mine);
        ends_cleanly(&p, "parent dropped its end");
    });
}

#[test]
fn an_echo_child_sees_end_of_file_when_the_parent_closes_its_end() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let p = Process::new(echo(theirs));
        p.start().unwrap();
        mine.send(1).unwrap();
        assert_eq!(mine.recv().unwrap(), 2);
        //CLOSE assert!(!mine.closed());
        mine.close();
        assert!(mine.closed());
        assert_eq!(mine.send(3).unwrap_err().kind(), ErrorKind::InvalidState);
        assert_eq!(mine.recv().unwrap_err().kind(), ErrorKind::InvalidState);
        ends_cleanly(&p, "parent closed its end");
    });
}

#[test]
fn a_child_that_closes_its_end_gives_the_parent_end_of_file_while_it_lives() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let p = Process::new(move || {
            theirs.send(7).unwrap();
            theirs.close();
            std::thread::sleep(Duration::from_secs(30));
        });
        p.start().unwrap();
        assert_eq!(mine.recv().unwrap(), 7);
        let err = mine.recv_timeout(Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert!(p.is_alive());
        p.kill().unwrap();
        p.join().unwrap();
    });
}

#[test]
fn a_reader_started_before_its_sibling_writer_sees_end_of_file() {
    in_child(40, || {
        let (reader_end, writer_end) = Pipe::<u32>::one_way().unwrap();
        let reader = Process::new(move || {
            let mut sum = 0;
            loop {
                match reader_end.recv() {
                    Ok(v) => sum += v,
                    Err(e) if e.kind() == ErrorKind::Disconnected => break,
                    Err(e) => panic!("reader: {e}"),
                }
            }
            assert_eq!(sum, 6);
        });
        reader.start().unwrap();
        let writer = Process::new(move || {
            for v in 1..=3 {
                writer_end.send(v).unwrap();
            }
        });
        writer.start().unwrap();
        ends_cleanly(&writer, "writer");
        ends_cleanly(&reader, "reader after its sibling writer ended");
    });
}

#[test]
fn an_end_passed_on_to_a_grandchild_is_held_by_the_grandchild_only() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let child = Process::new(move || {
            let grandchild = Process::new(move || {
                for v in 0..5 {
                    theirs.send(v).unwrap();
                }
            });
            grandchild.start().unwrap();
            grandchild.join().unwrap();
            // Still alive, with its inherited copy of both ends: no reason to wait for it.
            std::thread::sleep(Duration::from_secs(30));
        });
        child.start().unwrap();
        let got: Vec<u32> = (0..5).map(|_| mine.recv().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        let err = mine.recv_timeout(Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        child.kill().unwrap();
        child.join().unwrap();
    });
}

#[test]
fn a_bystander_child_forked_while_both_ends_were_open_does_not_hold_them() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let bystander = Process::new(|| std::thread::sleep(Duration::from_secs(30)));
        bystander.start().unwrap();
        let p = Process::new(echo(theirs));
        p.start().unwrap();
        mine.send(1).unwrap();
        assert_eq!(mine.recv().unwrap(), 2);
        drop(mine);
        ends_cleanly(&p, "parent dropped its end, a bystander lives");
        bystander.kill().unwrap();
        bystander.join().unwrap();
    });
}

#[test]
fn an_end_shared_with_a_child_through_an_arc_is_held_once_the_child_used_it() {
    in_child(40, || {
        let (mine, theirs) = Pipe::<u32>::new().unwrap();
        let theirs = std::sync::Arc::new(theirs);
        let shared = theirs.clone();
        let p = Process::new(move || {
            shared.send(9).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            shared.send(10).unwrap();
        });
        p.start().unwrap();
        assert_eq!(mine.recv_timeout(Duration::from_secs(10)).unwrap(), 9);
        drop(theirs); // the parent's last handle: the child holds its own since it used it
        assert_eq!(mine.recv_timeout(Duration::from_secs(10)).unwrap(), 10);
        ends_cleanly(&p, "Arc-shared end");
        let err = mine.recv_timeout(Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    });
}
