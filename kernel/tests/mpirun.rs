//! `%%mpirun -n N`: the cell built as an MPI program and run on N ranks, each rank's lines
//! prefixed like ipyparallel's; the session's variables are not in it; two kernels build
//! their cells at once without mixing them; an interrupt stops the program and keeps the
//! session; a kernel killed mid-program leaves no rank behind. Skipped without Open MPI (`bash scripts/mpi-setup` installs it).

mod common;

use std::time::{Duration, Instant};

use common::{Kernel, TIMEOUT, stream};
use serde_json::{Value, json};

fn have_mpirun() -> bool {
    let found = std::process::Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: no mpirun (bash scripts/mpi-setup installs Open MPI)");
    }
    found
}

fn assert_ok(reply: &Value, msgs: &[Value]) {
    assert_eq!(reply["content"]["status"], "ok", "{reply} {msgs:#?}");
}

/// Sends a `%%mpirun -n RANKS` cell that prints `started` and sleeps for an hour, and
/// returns its msg_id once rank 0's line has arrived on iopub.
async fn start_sleeping_program(k: &mut Kernel, ranks: usize) -> String {
    let code = format!(
        "%%mpirun -n {ranks}\nprintln!(\"started\");\n\
         std::thread::sleep(std::time::Duration::from_secs(3600));"
    );
    let id = k
        .send_shell(
            "execute_request",
            json!({ "code": code, "silent": false, "store_history": true,
                    "user_expressions": {}, "allow_stdin": false, "stop_on_error": true }),
        )
        .await;
    let give_up = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < give_up, "the program never printed");
        if let Some(msg) = k.iopub_msg(Duration::from_secs(1)).await
            && msg["parent_header"]["msg_id"] == id
            && msg["msg_type"] == "stream"
            && msg["content"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("[stdout:0] started"))
        {
            return id;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_runs_on_every_rank_as_a_program() {
    if !have_mpirun() {
        return;
    }
    let mut k = Kernel::start().await;
    let (reply, msgs) = k
        .execute(
            "%%mpirun -n 3\n\
             let pool = cluster.pool()?;\n\
             println!(\"size {} {:?}\", cluster.size(), pool.map(|x: u64| x * x, 0..4)?);",
        )
        .await;
    assert_ok(&reply, &msgs);
    let out = stream(&msgs, "stdout");
    assert!(out.contains("[stdout:0] size 3 [0, 1, 4, 9]\n"), "{out:?}");

    // A program, not a cell: the session's variables are not in scope.
    let (reply, msgs) = k.execute("let session_value = 5u64;").await;
    assert_ok(&reply, &msgs);
    let (reply, _) = k
        .execute("%%mpirun -n 2\nprintln!(\"{}\", session_value);")
        .await;
    assert_eq!(reply["content"]["ename"], "CompileError", "{reply}");
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .unwrap()
            .contains("session_value"),
        "{reply}"
    );
    let (reply, _) = k.execute("session_value + 1").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");

    let (reply, _) = k.execute("%%mpirun -n 0\nprintln!(\"x\");").await;
    assert_eq!(reply["content"]["ename"], "UsageError", "{reply}");
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .unwrap()
            .contains("%%mpirun -n N"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kernels_run_their_own_cells_at_once() {
    if !have_mpirun() {
        return;
    }
    let (mut a, mut b) = tokio::join!(Kernel::start(), Kernel::start());
    let cell = |mark: &str| {
        format!("%%mpirun -n 2\nprintln!(\"cell {mark} on {{}} ranks\", cluster.size());")
    };
    let (cell_a, cell_b) = (cell("alfa"), cell("beta"));
    let ((reply_a, msgs_a), (reply_b, msgs_b)) =
        tokio::join!(a.execute(&cell_a), b.execute(&cell_b));
    assert_ok(&reply_a, &msgs_a);
    assert_ok(&reply_b, &msgs_b);
    assert_eq!(
        stream(&msgs_a, "stdout"),
        "[stdout:0] cell alfa on 2 ranks\n"
    );
    assert_eq!(
        stream(&msgs_b, "stdout"),
        "[stdout:0] cell beta on 2 ranks\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_the_program_and_keeps_the_session() {
    if !have_mpirun() {
        return;
    }
    let mut k = Kernel::start().await;
    let (reply, msgs) = k.execute("let kept = 41u64;").await;
    assert_ok(&reply, &msgs);
    // Interrupt once the program runs (its first line is out); it would sleep for an hour,
    // so a reply at all says the interrupt stopped it.
    let id = start_sleeping_program(&mut k, 2).await;
    k.send_control("interrupt_request", json!({})).await;
    assert_eq!(k.control_reply(TIMEOUT).await["content"]["status"], "ok");
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["content"]["ename"], "KeyboardInterrupt", "{reply}");
    k.iopub_until_idle(&id).await;
    let (reply, msgs) = k.execute("kept + 1").await;
    assert_ok(&reply, &msgs);
}

/// Processes running `exe` (from `/proc/PID/exe`).
fn running(exe: &std::path::Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_kernel_leaves_no_rank_behind() {
    if !have_mpirun() {
        return;
    }
    let mut k = Kernel::start().await;
    let exe = common::shared_cache()
        .join("mpirun-cell/bin")
        .join(format!("cell-{}", k.child.id()));
    start_sleeping_program(&mut k, 3).await;
    assert_eq!(running(&exe).len(), 3, "three ranks of {}", exe.display());
    k.child.kill().unwrap();
    k.child.wait().unwrap();
    // mpirun ends the job when its parent dies; give it the time a job takes to end.
    let give_up = Instant::now() + Duration::from_secs(60);
    while !running(&exe).is_empty() && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(running(&exe), Vec::<u32>::new(), "ranks left running");
}
