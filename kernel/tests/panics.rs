//! A panicking cell sends exactly one output, an `error` carrying the panic message and its
//! location in the cell (ipykernel's convention; `jupyter_kernel_test`'s `test_error`), and
//! nothing on stderr for it.

mod common;

use common::{Kernel, types};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_one_error_output() {
    let mut k = Kernel::start().await;
    let (reply, _) = k.execute("let a = 1;").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    for (code, line) in [
        ("panic!(\"boom\");", 1),
        ("let b = 1;\npanic!(\"boom\")", 2),
        (
            "%%time\nlet v: Vec<u8> = Vec::new();\nlet _ = v[3];\npanic!(\"boom\");",
            3,
        ),
    ] {
        let (reply, msgs) = k.execute(code).await;
        assert_eq!(reply["content"]["status"], "error", "{code}: {reply}");
        assert_eq!(reply["content"]["ename"], "Panic", "{code}: {reply}");
        let outputs: Vec<String> = types(&msgs)
            .into_iter()
            .filter(|t| !["status", "execute_input"].contains(&t.as_str()))
            .collect();
        assert_eq!(
            outputs,
            ["error"],
            "{code}: stderr {:?}",
            common::stream(&msgs, "stderr")
        );
        let error = msgs.iter().find(|m| m["msg_type"] == "error").unwrap();
        let evalue = error["content"]["evalue"].as_str().unwrap();
        let traceback = error["content"]["traceback"].to_string();
        if code.contains("v[3]") {
            assert!(evalue.contains("index out of bounds"), "{evalue}");
        } else {
            assert!(evalue.contains("boom"), "{evalue}");
        }
        assert!(
            traceback.contains(&format!("cell:{line}:")),
            "{code}: {traceback}"
        );
        assert!(!traceback.contains("src/lib.rs"), "{traceback}");
    }
    // The kernel goes on, and so do the variables.
    let (reply, _) = k.execute("a + 1").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
}
