//! Progress bars: the items pass through unchanged, and each place gets the drawing it can
//! show — display updates at most ~10 a second under `paralelo-kernel`, the final state once
//! under stock evcxr and in logs. Each drawing is checked in a child process (this test
//! binary again) whose output is captured.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paralelo::display::{KERNEL_ENV, MARKER};
use paralelo::prelude::*;

/// What the child does, by the value of this variable.
const CHILD: &str = "PARALELO_PROGRESS_TEST_CHILD";

/// The child's side: runs a bar when asked to, else does nothing.
#[test]
fn child_entry() {
    match std::env::var(CHILD).as_deref() {
        // 100 items of 10 ms: about a second.
        Ok("slow") => {
            let started = Instant::now();
            let n = progress(0..100u32)
                .desc("lento")
                .inspect(|_| std::thread::sleep(Duration::from_millis(10)))
                .count();
            assert_eq!(n, 100);
            println!("elapsed={}", started.elapsed().as_secs_f64());
        }
        Ok("break") => {
            for i in progress(0..10u32).desc("corto") {
                if i == 2 {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Runs [`child_entry`] with `mode` and the environment `env`, returns (stdout, stderr).
fn child(mode: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env_remove(KERNEL_ENV)
        .env_remove("EVCXR_IS_RUNTIME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut process = command.spawn().expect("spawn the child");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if process.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = process.kill();
            let _ = process.wait();
            panic!("the progress child hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut out, mut err) = (String::new(), String::new());
    process
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    process
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        process.wait().unwrap().success(),
        "child failed:\n{out}\n{err}"
    );
    (out, err)
}

fn markers(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        // The test harness may write its "test child_entry ... " before the first marker.
        .filter_map(|l| l.find(MARKER).map(|at| &l[at + MARKER.len()..]))
        .map(|json| serde_json::from_str(json).expect("a marker is JSON"))
        .collect()
}

#[test]
fn items_pass_through_and_the_total_comes_from_the_iterator() {
    let v: Vec<u32> = progress(vec![3, 1, 2]).collect();
    assert_eq!(v, [3, 1, 2]);
    let mut p = (0..5u8).progress();
    assert_eq!(p.size_hint(), (5, Some(5)));
    p.next();
    assert_eq!(p.count_so_far(), 1);
    let pool = Pool::new(2).unwrap();
    let squares: Vec<u64> = pool
        .imap(|x: u64| x * x, 0..100u64)
        .unwrap()
        .progress()
        .total(100)
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(squares[99], 9801);
}

#[test]
fn under_paralelo_kernel_one_output_is_updated_at_most_ten_times_a_second() {
    let (out, _) = child("slow", &[(KERNEL_ENV, "1")]);
    let all = markers(&out);
    let displays: Vec<_> = all.iter().filter(|m| m["op"] == "display").collect();
    let updates: Vec<_> = all.iter().filter(|m| m["op"] == "update").collect();
    assert_eq!(displays.len(), 1, "{out}");
    let id = &displays[0]["display_id"];
    assert!(updates.iter().all(|u| &u["display_id"] == id), "{out}");
    // At most 10 redraws a second, plus the final state.
    let elapsed: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("elapsed="))
        .and_then(|e| e.parse().ok())
        .expect("the child's time");
    assert!(
        updates.len() as f64 <= 10.0 * elapsed + 2.0,
        "{} updates in {elapsed:.2} s",
        updates.len()
    );
    assert!(updates.len() >= 2, "{out}");
    let last = updates.last().unwrap();
    let text = last["data"]["text/plain"].as_str().unwrap();
    assert!(
        text.starts_with("lento: 100%|") && text.contains("100/100"),
        "{text}"
    );
    assert!(
        last["data"]["text/html"]
            .as_str()
            .unwrap()
            .contains("<progress value=\"100\" max=\"100\"")
    );
}

#[test]
fn under_stock_evcxr_the_final_state_is_shown_once() {
    // evcxr's content protocol, one block per type, once: no private markers.
    let (out, err) = child("slow", &[("EVCXR_IS_RUNTIME", "1")]);
    assert!(markers(&out).is_empty(), "{out}");
    assert_eq!(
        out.matches("EVCXR_BEGIN_CONTENT text/html").count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches("EVCXR_BEGIN_CONTENT text/plain").count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("100/100").count(), 2, "{out}");
    assert!(out.contains("<progress value=\"100\" max=\"100\""), "{out}");
    assert!(!err.contains("lento"), "{err}");
}

#[test]
fn in_a_log_the_final_state_is_one_line() {
    let (out, err) = child("slow", &[]);
    assert!(markers(&out).is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("lento")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("lento: 100%|") && lines[0].contains("100/100"),
        "{err}"
    );
    assert!(!err.contains('\r'), "no redraws in a log");
}

#[test]
fn a_loop_left_early_shows_how_far_it_got() {
    let (_, err) = child("break", &[]);
    let line = err
        .lines()
        .find(|l| l.contains("corto"))
        .expect("a final line");
    assert!(line.contains(" 30%|") && line.contains("3/10"), "{line}");
}
