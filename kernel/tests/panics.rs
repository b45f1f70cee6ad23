//! A failing cell sends exactly one output, an `error` (ipykernel's convention;
//! `jupyter_kernel_test`'s `test_error`), and nothing on stderr for it: a panic carries its
//! message and its location in the cell, a `?` the error it returned. A cell whose value is
//! `()` shows nothing, as IPython shows nothing for `None`.

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

/// The outputs of a cell, without `status` and `execute_input`.
fn outputs(msgs: &[serde_json::Value]) -> Vec<String> {
    types(msgs)
        .into_iter()
        .filter(|t| !["status", "execute_input"].contains(&t.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_mark_error_is_one_error_output() {
    let mut k = Kernel::start().await;
    let (reply, _) = k.execute("let a = 1;").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    for (code, expected) in [
        (
            "let n: u32 = \"x1\".parse()?;\nn",
            vec!["invalid digit found in string"],
        ),
        // Every line of a multi-line error, in the error, none on stderr.
        (
            "Err::<(), _>(std::io::Error::other(\"first line\\nsecond line\"))?;",
            vec!["first line", "second line"],
        ),
        (
            "%%time\nlet n: u32 = \"x2\".parse()?;\nn",
            vec!["invalid digit found in string"],
        ),
    ] {
        let (reply, msgs) = k.execute(code).await;
        assert_eq!(reply["content"]["status"], "error", "{code}: {reply}");
        assert_eq!(reply["content"]["ename"], "Error", "{code}: {reply}");
        let stderr = common::stream(&msgs, "stderr");
        assert!(stderr.is_empty(), "{code}: stderr {stderr:?}");
        let mut outputs = outputs(&msgs);
        if code.starts_with("%%time") {
            // IPython's %%time may print its times (stdout) before the error.
            outputs.retain(|t| t != "stream");
        }
        assert_eq!(outputs, ["error"], "{code}: {msgs:#?}");
        let error = msgs.iter().find(|m| m["msg_type"] == "error").unwrap();
        let evalue = error["content"]["evalue"].as_str().unwrap();
        for line in expected {
            assert!(evalue.contains(line), "{code}: {evalue}");
        }
    }
    let (reply, msgs) = k.execute("a + 1").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(outputs(&msgs), ["execute_result"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_value_shows_nothing() {
    let mut k = Kernel::start().await;
    for code in [
        "for i in 0..3 { println!(\"{i}\") }",
        "println!(\"hola\")",
        "let v = vec![1]; if v.is_empty() { println!(\"empty\") }",
    ] {
        let (reply, msgs) = k.execute(code).await;
        assert_eq!(reply["content"]["status"], "ok", "{code}: {reply}");
        assert!(
            !outputs(&msgs).contains(&"execute_result".to_owned()),
            "{code}: {msgs:#?}"
        );
    }
    // A value that is not `()` still shows.
    let (_, msgs) = k.execute("(1, ())").await;
    assert_eq!(outputs(&msgs), ["execute_result"]);
}
