//! `Process`: start, join, exit codes, signals, names and PIDs, as Python's.

mod process_util;

use std::time::Duration;

use paralelo::prelude::*;
use process_util::in_child;

#[test]
fn a_child_has_its_own_pid_and_default_name() {
    in_child(20, || {
        let (tx, rx) = Pipe::<(u32, String)>::new().unwrap();
        let p = Process::new(move || {
            let me = current_process();
            tx.send((me.pid(), me.name().to_owned())).unwrap();
        });
        p.start().unwrap();
        let (pid, name) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        p.join().unwrap();
        assert_eq!(Some(pid), p.pid());
        assert_ne!(pid, std::process::id());
        assert_eq!(name, p.name());
        assert!(name.starts_with("Process-"), "{name}");
    });
}

#[test]
fn exit_codes_follow_python() {
    in_child(30, || {
        let ok = Process::new(|| {});
        let exits = Process::new(|| std::process::exit(3));
        let panics = Process::new(|| panic!("fallo a propósito"));
        let aborts = Process::new(|| std::process::abort());
        let sleeper = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
        for p in [&ok, &exits, &panics, &aborts, &sleeper] {
            p.start().unwrap();
        }
        sleeper.terminate().unwrap();
        for p in [&ok, &exits, &panics, &aborts, &sleeper] {
            assert!(p.join_timeout(Duration::from_secs(20)).unwrap(), "{p:?}");
        }
        assert_eq!(ok.exitcode(), Some(0));
        assert_eq!(exits.exitcode(), Some(3));
        assert_eq!(panics.exitcode(), Some(1));
        assert_eq!(aborts.exitcode(), Some(-6));
        assert_eq!(sleeper.exitcode(), Some(-15));
    });
}

#[test]
fn kill_gives_minus_nine_and_is_alive_follows() {
    in_child(20, || {
        let p = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
        assert!(!p.is_alive());
        assert_eq!(p.exitcode(), None);
        p.start().unwrap();
        assert!(p.is_alive());
        assert!(!p.join_timeout(Duration::from_millis(20)).unwrap());
        p.kill().unwrap();
        p.join().unwrap();
        assert!(!p.is_alive());
        assert_eq!(p.exitcode(), Some(-9));
        // Signalling a process that has ended is harmless.
        p.terminate().unwrap();
    });
}

#[test]
fn misuse_is_a_clear_error() {
    in_child(20, || {
        let p = Process::new(|| {});
        assert_eq!(p.join().unwrap_err().kind(), ErrorKind::InvalidState);
        assert_eq!(p.terminate().unwrap_err().kind(), ErrorKind::InvalidState);
        assert_eq!(
            p.join_timeout(Duration::from_millis(1)).unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        p.start().unwrap();
        let again = p.start().unwrap_err();
        assert_eq!(again.kind(), ErrorKind::InvalidState);
        assert!(again.to_string().contains("twice"), "{again}");
        p.join().unwrap();
    });
}

#[test]
fn a_given_name_is_seen_inside_the_child() {
    in_child(20, || {
        let (tx, rx) = Pipe::<String>::new().unwrap();
        let p = Process::named("ワーカー1", move || {
            tx.send(current_process().name().to_owned()).unwrap();
        });
        p.start().unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "ワーカー1"
        );
        p.join().unwrap();
        assert_eq!(p.name(), "ワーカー1");
    });
}

#[test]
fn par_map_works_inside_a_forked_child() {
    in_child(30, || {
        // Keep the parent's global rayon pool alive and busy while forking.
        let busy =
            std::thread::spawn(|| par_map(|x: u64| (0..20_000u64).sum::<u64>() + x, 0..2000));
        let p = Process::new(|| {
            let v = par_map(|x: u64| x * 2, 0..1000u64).unwrap();
            assert_eq!(v[999], 1998);
        });
        p.start().unwrap();
        assert!(
            p.join_timeout(Duration::from_secs(20)).unwrap(),
            "par_map hung in the child"
        );
        assert_eq!(p.exitcode(), Some(0));
        busy.join().unwrap().unwrap();
    });
}

#[test]
fn affinity_pins_and_rejects_missing_cores() {
    in_child(20, || {
        set_cpu_affinity(&[0]).unwrap();
        assert_eq!(current_cpu().unwrap(), 0);
        let err = set_cpu_affinity(&[machine_cpu_count()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert_eq!(
            set_cpu_affinity(&[]).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    });
}
