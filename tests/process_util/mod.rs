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
