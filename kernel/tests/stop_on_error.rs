//! A failing cell aborts the execute requests queued behind it (`stop_on_error`).

mod common;

use common::{Kernel, TIMEOUT};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_cells_are_aborted_after_an_error() {
    let mut k = Kernel::start().await;
    let request = |code: &str| json!({"code": code, "silent": false, "store_history": true, "stop_on_error": true});
    let first = k
        .send_shell("execute_request", request("let x: u8 = \"bad\";"))
        .await;
    let second = k.send_shell("execute_request", request("1 + 1")).await;
    let third = k.send_shell("execute_request", request("2 + 2")).await;
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(k.shell_reply(TIMEOUT).await);
    }
    let status_of = |id: &str| {
        replies
            .iter()
            .find(|r| r["parent_header"]["msg_id"] == id)
            .map(|r| r["content"]["status"].clone())
            .unwrap()
    };
    assert_eq!(status_of(&first), "error");
    assert_eq!(status_of(&second), "aborted");
    assert_eq!(status_of(&third), "aborted");

    // Afterwards the kernel runs cells again.
    let (reply, _) = k.execute("3 + 3").await;
    assert_eq!(reply["content"]["status"], "ok");
}
