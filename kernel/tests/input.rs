//! A cell that reads stdin sends `input_request` and gets the frontend's `input_reply`.

mod common;

use common::{Kernel, TIMEOUT, types};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_reads_a_line_from_the_frontend() {
    let mut k = Kernel::start().await;
    let code = "let name = input(\"Name? \");\nformat!(\"hola {name}\")";
    let id = k
        .send_shell(
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true, "allow_stdin": true}),
        )
        .await;
    let ask = k.stdin_msg(TIMEOUT).await;
    assert_eq!(ask["msg_type"], "input_request");
    assert_eq!(ask["content"]["prompt"], "Name? ");
    assert_eq!(ask["parent_header"]["msg_id"], id);
    k.send_stdin("input_reply", json!({"value": "Ada"})).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let msgs = k.iopub_until_idle(&id).await;
    let result = msgs
        .iter()
        .find(|m| m["msg_type"] == "execute_result")
        .unwrap_or_else(|| panic!("{:?}", types(&msgs)));
    assert_eq!(result["content"]["data"]["text/plain"], "\"hola Ada\"");
}
