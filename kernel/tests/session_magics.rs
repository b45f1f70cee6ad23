//! IPython's magics that fit Rust: `%%capture`, `%env`, `%who`/`%whos`, `%history`,
//! `%%writefile`, `%%bash`/`%%sh`, `!command`, `%pwd`/`%cd`, each listed by `%lsmagic`,
//! and an unknown option is an error naming the magic's usage.

mod common;

use common::{Kernel, TempDir, result_text, stream, types};
use serde_json::Value;

fn assert_ok(reply: &Value, msgs: &[Value]) {
    assert_eq!(reply["content"]["status"], "ok", "{reply} {msgs:#?}");
}

/// The cell fails with a UsageError that names `usage`.
async fn assert_usage_error(k: &mut Kernel, code: &str, usage: &str) {
    let (reply, _) = k.execute(code).await;
    assert_eq!(reply["content"]["status"], "error", "{code}: {reply}");
    assert_eq!(reply["content"]["ename"], "UsageError", "{code}: {reply}");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    assert!(evalue.contains(usage), "{code}: {evalue:?} lacks {usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_keeps_outputs_for_show() {
    let mut k = Kernel::start().await;
    let (reply, msgs) = k
        .execute("%%capture out\nprintln!(\"hidden\");\neprintln!(\"also hidden\");\ndisplay(7);\n40 + 2")
        .await;
    assert_ok(&reply, &msgs);
    assert_eq!(
        types(&msgs),
        ["status", "execute_input", "status"],
        "{msgs:#?}"
    );
    let (reply, msgs) = k.execute("out.show();").await;
    assert_ok(&reply, &msgs);
    assert_eq!(stream(&msgs, "stdout"), "hidden\n");
    assert_eq!(stream(&msgs, "stderr"), "also hidden\n");
    let shown: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["msg_type"] == "display_data")
        .map(|m| &m["content"]["data"]["text/plain"])
        .collect();
    assert_eq!(shown, ["7", "42"]);
    let (_, msgs) = k.execute("out.stdout.clone()").await;
    assert_eq!(result_text(&msgs).as_deref(), Some("\"hidden\\n\""));
    // --no-stdout lets stdout through.
    let (_, msgs) = k
        .execute("%%capture --no-stdout\nprintln!(\"seen\");\neprintln!(\"kept\");")
        .await;
    assert_eq!(stream(&msgs, "stdout"), "seen\n");
    assert_eq!(stream(&msgs, "stderr"), "");
    assert_usage_error(
        &mut k,
        "%%capture --bogus\n1",
        "%%capture [--no-stdout] [--no-stderr] [--no-display] [NAME]",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_who_history() {
    let mut k = Kernel::start().await;
    let (reply, msgs) = k.execute("%env PARALELO_TEST_VAR=abc").await;
    assert_ok(&reply, &msgs);
    assert_eq!(stream(&msgs, "stdout"), "env: PARALELO_TEST_VAR=abc\n");
    let (_, msgs) = k
        .execute("std::env::var(\"PARALELO_TEST_VAR\").unwrap()")
        .await;
    assert_eq!(result_text(&msgs).as_deref(), Some("\"abc\""));
    let (_, msgs) = k.execute("%env PARALELO_TEST_VAR").await;
    assert_eq!(stream(&msgs, "stdout"), "abc\n");
    let (_, msgs) = k.execute("%env").await;
    assert!(
        stream(&msgs, "stdout").contains("PARALELO_TEST_VAR=abc\n"),
        "{msgs:#?}"
    );
    let (_, msgs) = k.execute("!echo \"[$PARALELO_TEST_VAR]\"").await;
    assert_eq!(stream(&msgs, "stdout"), "[abc]\n");
    assert_usage_error(&mut k, "%env -x", "%env [NAME[=VALUE]]").await;

    let (reply, msgs) = k
        .execute("let alpha: u64 = 1;\nlet beta = String::from(\"b\");")
        .await;
    assert_ok(&reply, &msgs);
    let (_, msgs) = k.execute("%who").await;
    assert_eq!(stream(&msgs, "stdout"), "alpha\tbeta\t\n");
    let (_, msgs) = k.execute("%who u64").await;
    assert_eq!(stream(&msgs, "stdout"), "alpha\t\n");
    let (_, msgs) = k.execute("%whos").await;
    let table = stream(&msgs, "stdout");
    assert!(table.starts_with("Variable"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("alpha") && l.trim_end().ends_with("u64")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("beta") && l.trim_end().ends_with("String")),
        "{table}"
    );
    assert_usage_error(&mut k, "%whos -l", "%whos [TYPE...]").await;

    // Inputs 1..: the %env cells, ..., and this %history itself.
    let (_, msgs) = k.execute("%history -n 1-2").await;
    assert_eq!(
        stream(&msgs, "stdout"),
        "   1: %env PARALELO_TEST_VAR=abc\n   2: std::env::var(\"PARALELO_TEST_VAR\").unwrap()\n"
    );
    let (_, msgs) = k.execute("%history 1").await;
    assert_eq!(stream(&msgs, "stdout"), "%env PARALELO_TEST_VAR=abc\n");
    assert_usage_error(&mut k, "%history -z", "%history [-n] [RANGE...]").await;
    assert_usage_error(&mut k, "%history x-y", "%history [-n] [RANGE...]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_shell_and_directories() {
    let mut k = Kernel::start().await;
    let dir = TempDir::new("magics");
    let path = dir.0.canonicalize().unwrap().display().to_string();
    let (reply, msgs) = k.execute(&format!("%cd {path}")).await;
    assert_ok(&reply, &msgs);
    assert_eq!(stream(&msgs, "stdout"), format!("{path}\n"));
    let (_, msgs) = k.execute("%pwd").await;
    assert_eq!(result_text(&msgs), Some(format!("{path:?}")));
    let (_, msgs) = k
        .execute("std::env::current_dir().unwrap().display().to_string()")
        .await;
    assert_eq!(
        result_text(&msgs),
        Some(format!("{path:?}")),
        "cells see %cd"
    );

    let (_, msgs) = k.execute("%%writefile notas.txt\nhola\n").await;
    assert_eq!(stream(&msgs, "stdout"), "Writing notas.txt\n");
    let (_, msgs) = k.execute("%%writefile -a notas.txt\nadiós\n").await;
    assert_eq!(stream(&msgs, "stdout"), "Appending to notas.txt\n");
    assert_eq!(
        std::fs::read_to_string(dir.0.join("notas.txt")).unwrap(),
        "hola\nadiós\n"
    );
    let (_, msgs) = k.execute("%%writefile notas.txt\nuna\n").await;
    assert_eq!(stream(&msgs, "stdout"), "Overwriting notas.txt\n");
    assert_usage_error(&mut k, "%%writefile -x f\n1", "%%writefile [-a] FILE").await;
    assert_usage_error(&mut k, "%%writefile\n1", "%%writefile [-a] FILE").await;

    // %%bash: streamed output, a non-zero exit status is an error.
    let (reply, msgs) = k
        .execute("%%bash\necho uno\necho dos >&2\nls\nexit 3")
        .await;
    assert_eq!(reply["content"]["status"], "error", "{reply}");
    assert_eq!(reply["content"]["ename"], "CalledProcessError");
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .unwrap()
            .contains("exit status 3")
    );
    assert_eq!(stream(&msgs, "stdout"), "uno\nnotas.txt\n");
    assert_eq!(stream(&msgs, "stderr"), "dos\n");
    let (reply, msgs) = k
        .execute("%%sh\nprintf 'a\\n'; sleep 0.3; printf 'b\\n'")
        .await;
    assert_ok(&reply, &msgs);
    let chunks: Vec<&str> = msgs
        .iter()
        .filter(|m| m["msg_type"] == "stream")
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(chunks, ["a\n", "b\n"], "line by line, as it comes");
    assert_usage_error(&mut k, "%%bash -x\necho", "%%bash").await;

    // `!` lines between Rust lines; a failure is reported and the cell goes on.
    let (reply, msgs) = k.execute("let a = 1;\n!echo hola\n!exit 4\na + 1").await;
    assert_ok(&reply, &msgs);
    assert_eq!(stream(&msgs, "stdout"), "hola\n");
    assert!(
        stream(&msgs, "stderr").contains("exit status 4"),
        "{msgs:#?}"
    );
    assert_eq!(result_text(&msgs).as_deref(), Some("2"));

    let (_, msgs) = k.execute("%cd -").await;
    assert!(!stream(&msgs, "stdout").contains(&path), "{msgs:#?}");
    assert_usage_error(&mut k, "%cd -q", "%cd [DIR | -]").await;
    assert_usage_error(&mut k, "%pwd x", "%pwd").await;

    let (_, msgs) = k.execute("%lsmagic").await;
    let listing = stream(&msgs, "stdout");
    for name in [
        "%%capture",
        "%env",
        "%who",
        "%whos",
        "%history",
        "%%writefile",
        "%%bash",
        "%%sh",
        "%pwd",
        "%cd",
        "%time",
        "%%timeit",
        "!COMMAND",
    ] {
        assert!(listing.contains(name), "{name} missing from {listing}");
    }
}
