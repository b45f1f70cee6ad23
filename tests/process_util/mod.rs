//! Helpers for tests that fork: run a body in a child process with a deadline, so that a
//! hang or a crash fails the test instead of freezing or killing the suite.

#![allow(dead_code)]

use std::time::Duration;

use paralelo::Process;

/// Runs `body` in a forked child and fails the test unless it returns within `secs`
/// seconds (a panic in the child, an abort or a signal fail it too).
pub(crate) fn in_child(secs: u64, body: impl FnOnce() + Send + 'static) {
    let p = Process::named("test-child", body);
    p.start().expect("fork the test child");
    let ended = p
        .join_timeout(Duration::from_secs(secs))
        .expect("wait for the test child");
    if !ended {
        p.kill().expect("kill the hung test child");
        p.join().expect("reap the hung test child");
        panic!("the test body hung: still running after {secs} s (killed)");
    }
    assert_eq!(
        p.exitcode(),
        Some(0),
        "the test body failed in its child process"
    );
}

/// True while `pid` exists and is not a zombie.
pub(crate) fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            state != Some('Z') && state != Some('X')
        }
        Err(_) => false,
    }
}

/// True when `pid` no longer exists at all: it ended and was reaped (no zombie left).
pub(crate) fn gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits up to 10 s for `done`, checking every 50 ms; fails the test naming `what`.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("still not true after 10 s: {what}");
}
