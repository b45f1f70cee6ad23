//! Interrupts: a long `par_map` stops cooperatively and the session's variables survive; a
//! cell that never checks is stopped by restarting the runtime, and its error says so.

mod common;

use common::{Kernel, TIMEOUT, result_text, stream};
use serde_json::json;

async fn start_cell(k: &mut Kernel, code: &str) -> String {
    let id = k
        .send_shell(
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true}),
        )
        .await;
    // Wait until the cell runs (not compiles): it prints "started" first.
    loop {
        let msg = k
            .iopub_msg(TIMEOUT)
            .await
            .expect("iopub while waiting for the cell");
        if msg["parent_header"]["msg_id"] == id.as_str()
            && msg["msg_type"] == "stream"
            && msg["content"]["text"]
                .as_str()
                .unwrap_or("")
                .contains("started")
        {
            return id;
        }
    }
}

async fn interrupt(k: &mut Kernel) {
    k.send_control("interrupt_request", json!({})).await;
    let reply = k.control_reply(TIMEOUT).await;
    assert_eq!(reply["msg_type"], "interrupt_reply");
    assert_eq!(reply["content"]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupts_stop_parallel_work_and_keep_variables() {
    let mut k = Kernel::start().await;
    let (reply, _) = k.execute("let kept = 7u32;").await;
    assert_eq!(reply["content"]["status"], "ok");

    // Cooperative: par_map stops between tasks and returns an Interrupted error.
    let code = "println!(\"started\");\n\
        let r = par_map(|x: u64| { std::thread::sleep(std::time::Duration::from_millis(20)); x }, 0..1_000_000u64);\n\
        format!(\"{:?}\", r.map(|v| v.len()).map_err(|e| e.kind()))";
    let id = start_cell(&mut k, code).await;
    interrupt(&mut k).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["parent_header"]["msg_id"], id.as_str());
    let msgs = k.iopub_until_idle(&id).await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(
        result_text(&msgs)
            .unwrap_or_default()
            .contains("Interrupted"),
        "{msgs:#?}"
    );
    let (_, msgs) = k.execute("kept + 1").await;
    assert_eq!(
        result_text(&msgs).unwrap_or_default(),
        "8",
        "variables survive a cooperative interrupt"
    );

    // A cell that never checks: the runtime is restarted and the error says so.
    let id = start_cell(
        &mut k,
        "println!(\"started\");\nloop { std::thread::sleep(std::time::Duration::from_millis(10)); }",
    )
    .await;
    interrupt(&mut k).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["parent_header"]["msg_id"], id.as_str());
    let msgs = k.iopub_until_idle(&id).await;
    assert_eq!(reply["content"]["status"], "error", "{reply}");
    assert_eq!(reply["content"]["ename"], "Interrupted");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    assert!(
        evalue.contains("restarted") && evalue.contains("variables were lost"),
        "{evalue}"
    );
    assert_eq!(msgs.iter().filter(|m| m["msg_type"] == "error").count(), 1);
    // paralelo is still loaded after the restart.
    let (reply, msgs) = k
        .execute("par_map(|x: u32| x + 1, 0..3u32).map(|v| v.len())")
        .await;
    assert_eq!(
        reply["content"]["status"],
        "ok",
        "{reply} {}",
        stream(&msgs, "stderr")
    );
    assert_eq!(result_text(&msgs).unwrap_or_default(), "Ok(3)");
}

/// How many of `pid`'s descendants are `rustc`.
fn compilers_under(pid: u32) -> usize {
    let mut parent_of = std::collections::HashMap::new();
    let mut rustc = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        if stat[..close].ends_with("(rustc") {
            rustc.push(p);
        }
        if let Some(ppid) = stat[close + 1..].split_whitespace().nth(1) {
            parent_of.insert(p, ppid.parse::<u32>().unwrap_or(0));
        }
    }
    rustc
        .into_iter()
        .filter(|&p| {
            let mut at = p;
            while let Some(&up) = parent_of.get(&at) {
                if up == pid {
                    return true;
                }
                at = up;
            }
            false
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_a_compile_stops_the_build_and_keeps_the_session() {
    let mut k = Kernel::start().await;
    let (reply, _) = k.execute("let kept = 7u32;").await;
    assert_eq!(reply["content"]["status"], "ok");
    // A constant rustc takes ~30 s to evaluate: the compile is what lasts, not the run.
    let code = "#[allow(long_running_const_eval)]\n\
        const SLOW: u64 = { let mut i = 0u64; let mut s = 0u64; \
        while i < 10_000_000 { s = s.wrapping_add(i ^ (s >> 3)); i += 1; } s };\n\
        SLOW";
    let id = k
        .send_shell(
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true}),
        )
        .await;
    let kernel = k.child.id();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while compilers_under(kernel) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the cell never compiled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Past the type probe's short compile, into the long one.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    interrupt(&mut k).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["parent_header"]["msg_id"], id.as_str());
    let msgs = k.iopub_until_idle(&id).await;
    assert_eq!(reply["content"]["status"], "error", "{reply}");
    assert_eq!(reply["content"]["ename"], "KeyboardInterrupt", "{reply}");
    assert_eq!(msgs.iter().filter(|m| m["msg_type"] == "error").count(), 1);
    assert_eq!(compilers_under(kernel), 0, "the build was left running");
    // Nothing was restarted: the session's variables are there.
    let (reply, msgs) = k.execute("kept + 1").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&msgs).unwrap_or_default(), "8");
}
