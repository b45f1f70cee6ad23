//! S1-10: logging through the `log` facade names the process that logged.

use paralelo::prelude::*;

/// Run by `log_lines_name_their_process` in a fresh copy of this test binary, whose
/// stderr it reads.
#[test]
fn logging_helper() {
    if std::env::var_os("PARALELO_LOG_HELPER").is_none() {
        return;
    }
    log_to_stderr(paralelo::log::LevelFilter::Info).unwrap();
    paralelo::log::info!("empieza");
    let p = Process::named("ワーカー1", || {
        paralelo::log::info!("プロセス {} が開始されました", current_process().name());
        paralelo::log::debug!("no se ve: por debajo del nivel");
    });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn log_lines_name_their_process() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "logging_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PARALELO_LOG_HELPER", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("[INFO/MainProcess] empieza").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("[INFO/ワーカー1] プロセス ワーカー1 が開始されました")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("no se ve"), "{stderr}");
}

#[test]
fn a_second_logger_is_refused() {
    // In this process no logger was installed by another test (the helper runs elsewhere).
    if log_to_stderr(paralelo::log::LevelFilter::Warn).is_ok() {
        let err = log_to_stderr(paralelo::log::LevelFilter::Warn).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
    }
}
