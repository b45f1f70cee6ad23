//! The kernel over real sockets: message order and content for execute, errors, rich
//! display, is_complete, history, comm_info, kernel_info, heartbeat and shutdown.

mod common;

use std::time::Duration;

use common::{Kernel, TIMEOUT, stream, types};
use serde_json::json;
use zeromq::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_the_wire() {
    let mut k = Kernel::start().await;

    // kernel_info on shell.
    k.send_shell("kernel_info_request", json!({})).await;
    let info = k.shell_reply(TIMEOUT).await;
    assert_eq!(info["msg_type"], "kernel_info_reply");
    let c = &info["content"];
    assert_eq!(c["status"], "ok");
    assert_eq!(c["language_info"]["name"], "rust");
    assert_eq!(c["language_info"]["file_extension"], ".rs");
    assert!(c["protocol_version"].as_str().unwrap().starts_with('5'));
    k.drain_iopub().await;

    // A cell with output and a value: busy → execute_input → stream → execute_result → idle.
    let (reply, msgs) = k.execute("println!(\"hello\");\n40 + 2").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(reply["content"]["execution_count"], 1);
    assert_eq!(
        types(&msgs),
        [
            "status",
            "execute_input",
            "stream",
            "execute_result",
            "status"
        ],
        "{msgs:#?}"
    );
    assert_eq!(msgs[0]["content"]["execution_state"], "busy");
    assert_eq!(msgs[1]["content"]["code"], "println!(\"hello\");\n40 + 2");
    assert_eq!(msgs[1]["content"]["execution_count"], 1);
    assert_eq!(stream(&msgs, "stdout"), "hello\n");
    assert_eq!(msgs[3]["content"]["data"]["text/plain"], "42");
    assert_eq!(msgs[3]["content"]["execution_count"], 1);

    // stderr is a stream of its own.
    let (_, msgs) = k.execute("eprintln!(\"oops\");").await;
    assert_eq!(stream(&msgs, "stderr"), "oops\n");

    // A compile error: exactly one error message, an error reply, the count still moves.
    let (reply, msgs) = k.execute("let x: u32 = \"no\";").await;
    assert_eq!(reply["content"]["status"], "error");
    assert_eq!(reply["content"]["execution_count"], 3);
    assert!(reply["content"]["ename"].is_string() && reply["content"]["evalue"].is_string());
    assert!(reply["content"]["traceback"].is_array());
    assert_eq!(
        types(&msgs).iter().filter(|t| *t == "error").count(),
        1,
        "{msgs:#?}"
    );
    assert_eq!(types(&msgs), ["status", "execute_input", "error", "status"]);

    // A panic is an error too, and the kernel keeps serving with its variables.
    let (_, _) = k.execute("let kept = 5;").await;
    let (reply, msgs) = k.execute("panic!(\"boom\")").await;
    assert_eq!(reply["content"]["status"], "error");
    assert_eq!(reply["content"]["ename"], "Panic");
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .unwrap()
            .contains("boom")
    );
    assert_eq!(types(&msgs).iter().filter(|t| *t == "error").count(), 1);
    let (reply, msgs) = k.execute("kept * 2").await;
    assert_eq!(reply["content"]["status"], "ok");
    let result = msgs
        .iter()
        .find(|m| m["msg_type"] == "execute_result")
        .unwrap();
    assert_eq!(result["content"]["data"]["text/plain"], "10");

    // The preloaded prelude: display, display handles and clear_output.
    let (reply, msgs) = k.execute("display(6 * 7);").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply} {msgs:#?}");
    let shown = msgs
        .iter()
        .find(|m| m["msg_type"] == "display_data")
        .expect("display_data");
    assert_eq!(shown["content"]["data"]["text/plain"], "42");
    let (_, msgs) = k
        .execute("let h = display(\"0%\");\nh.update(\"100%\");\nclear_output(true);")
        .await;
    assert_eq!(
        types(&msgs),
        [
            "status",
            "execute_input",
            "display_data",
            "update_display_data",
            "clear_output",
            "status"
        ]
    );
    let id = &msgs[2]["content"]["transient"]["display_id"];
    assert!(id.is_string());
    assert_eq!(&msgs[3]["content"]["transient"]["display_id"], id);
    assert_eq!(msgs[3]["content"]["data"]["text/plain"], "\"100%\"");
    assert_eq!(msgs[4]["content"]["wait"], true);

    // Silent execution: no execute_input, no outputs, no count.
    let id = k
        .send_shell(
            "execute_request",
            json!({"code": "println!(\"shh\"); 1", "silent": true, "store_history": false}),
        )
        .await;
    let reply = k.shell_reply(TIMEOUT).await;
    let msgs = k.iopub_until_idle(&id).await;
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(types(&msgs), ["status", "status"]);

    // is_complete from the Rust parser.
    for (code, status) in [
        ("let x = 1;", "complete"),
        ("fn f() {", "incomplete"),
        ("fn f() }", "invalid"),
    ] {
        k.send_shell("is_complete_request", json!({ "code": code }))
            .await;
        let reply = k.shell_reply(TIMEOUT).await;
        assert_eq!(reply["content"]["status"], status, "{code}");
    }

    // History of stored cells.
    k.send_shell(
        "history_request",
        json!({"hist_access_type": "tail", "n": 2, "output": false, "raw": true}),
    )
    .await;
    let reply = k.shell_reply(TIMEOUT).await;
    let history = reply["content"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[1][2],
        "let h = display(\"0%\");\nh.update(\"100%\");\nclear_output(true);"
    );
    k.send_shell(
        "history_request",
        json!({"hist_access_type": "search", "pattern": "kept*", "output": false, "raw": true}),
    )
    .await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["content"]["history"].as_array().unwrap().len(), 1);

    // A value whose Debug offers HTML goes out with text/html and text/plain.
    let (reply, msgs) = k
        .execute(
            "struct Tabla;\n\
             impl std::fmt::Debug for Tabla {\n\
                 fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n\
                     paralelo::display::offer_mime(\"| t |\", &[(\"text/html\", \"<table></table>\")]);\n\
                     f.write_str(\"| t |\")\n\
                 }\n\
             }\n\
             display(&Tabla);",
        )
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply} {msgs:#?}");
    let shown = msgs
        .iter()
        .find(|m| m["msg_type"] == "display_data")
        .expect("display_data");
    assert_eq!(shown["content"]["data"]["text/plain"], "| t |");
    assert_eq!(shown["content"]["data"]["text/html"], "<table></table>");

    // `?name` sends the documentation to the pager: a payload of the reply, no output.
    let (reply, msgs) = k.execute("?par_map").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let payload = reply["content"]["payload"].as_array().expect("payload");
    assert_eq!(payload.len(), 1, "{reply}");
    assert_eq!(payload[0]["source"], "page");
    assert_eq!(payload[0]["start"], 0);
    assert!(
        payload[0]["data"]["text/plain"]
            .as_str()
            .unwrap()
            .contains("par_map"),
        "{reply}"
    );
    assert_eq!(types(&msgs), ["status", "execute_input", "status"]);

    // comm_info: no comms.
    k.send_shell("comm_info_request", json!({})).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["content"], json!({"status": "ok", "comms": {}}));

    // Heartbeat echoes.
    k.heartbeat.send("ping".into()).await.unwrap();
    let pong = tokio::time::timeout(TIMEOUT, k.heartbeat.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pong.get(0).unwrap().as_ref(), b"ping");

    // kernel_info on control, then shutdown: a reply, and the process leaves.
    k.send_control("kernel_info_request", json!({})).await;
    assert_eq!(
        k.control_reply(TIMEOUT).await["msg_type"],
        "kernel_info_reply"
    );
    k.send_control("shutdown_request", json!({"restart": false}))
        .await;
    let reply = k.control_reply(TIMEOUT).await;
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(reply["content"]["restart"], false);
    let mut exited = false;
    for _ in 0..600 {
        if k.child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exited, "the kernel must exit after shutdown_request");
}
