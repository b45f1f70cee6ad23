//! `%time`, `%%time`, `%timeit` and `%%timeit` take any cell a user can run without them:
//! `?` ends the cell as it would without the magic, items stay defined, `%%time` keeps the
//! `let` bindings (`%%timeit` does not, as IPython), a value as the last expression is the
//! cell's value, and compile errors point at the user's lines, never at generated code.

mod common;

use common::{Kernel, result_text, stream};
use serde_json::Value;

fn timed(msgs: &[Value]) -> bool {
    stream(msgs, "stdout").contains("Wall time: ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_magics_take_any_cell() {
    let mut k = Kernel::start().await;

    // The first example: `?` in %time.
    let (reply, msgs) = k.execute("%time par_map(|x: u64| x + 1, 0..10u64)?").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(timed(&msgs), "{msgs:#?}");
    assert_eq!(
        result_text(&msgs).as_deref(),
        Some("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")
    );

    // %%time with an item, `?`, bindings and a value.
    let (reply, msgs) = k
        .execute(
            "%%time\nfn triple(x: u64) -> u64 { x * 3 }\nlet v = par_map(triple, 0..4u64)?;\n\
             let total: u64 = v.iter().sum();\ntotal",
        )
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(timed(&msgs), "{msgs:#?}");
    assert_eq!(result_text(&msgs).as_deref(), Some("18"));
    let (reply, msgs) = k.execute("triple(2) + total + v.len() as u64").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&msgs).as_deref(), Some("28"));

    // A variable shown as the value of a %%time cell is not moved.
    let (_, msgs) = k
        .execute("%%time\nlet name = String::from(\"ana\");\nname")
        .await;
    assert_eq!(result_text(&msgs).as_deref(), Some("\"ana\""));
    let (_, msgs) = k.execute("name.len()").await;
    assert_eq!(result_text(&msgs).as_deref(), Some("3"));

    // A `?` error ends the cell as without the magic: same status, same error, no times.
    let plain_cell = "let n: u32 = \"x\".parse()?;\nn";
    let (plain, plain_msgs) = k.execute(plain_cell).await;
    let (reply, msgs) = k.execute(&format!("%%time\n{plain_cell}")).await;
    assert_eq!(
        reply["content"]["status"], plain["content"]["status"],
        "{reply}"
    );
    assert_eq!(stream(&msgs, "stderr"), stream(&plain_msgs, "stderr"));
    assert_eq!(reply["content"]["evalue"], plain["content"]["evalue"]);
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .is_some_and(|e| e.contains("invalid digit")),
        "{reply}"
    );
    assert!(!timed(&msgs), "IPython prints no times for a failed cell");
    assert_eq!(result_text(&msgs), result_text(&plain_msgs));
    let (reply, _) = k.execute("n").await;
    assert_eq!(
        reply["content"]["status"], "error",
        "n must not exist: {reply}"
    );

    // %%timeit: `?`, items; bindings do not survive.
    let (reply, msgs) = k
        .execute("%%timeit -n 2 -r 2\nfn sq(x: u64) -> u64 { x * x }\nlet k: u64 = \"7\".parse()?;\nsq(k)")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(
        stream(&msgs, "stdout").contains("per loop (mean ± std. dev. of 2 runs, 2 loops each)"),
        "{msgs:#?}"
    );
    assert_eq!(result_text(&msgs), None);
    let (_, msgs) = k.execute("sq(4)").await;
    assert_eq!(result_text(&msgs).as_deref(), Some("16"));
    let (reply, _) = k.execute("k").await;
    assert_eq!(
        reply["content"]["status"], "error",
        "%%timeit leaked k: {reply}"
    );

    // A `?` error in %timeit stops the measurement, shows what the plain cell shows.
    let (plain, plain_msgs) = k.execute("\"x\".parse::<u32>()?;").await;
    let (reply, msgs) = k.execute("%timeit -n 5 \"x\".parse::<u32>()?").await;
    assert_eq!(reply["content"]["status"], plain["content"]["status"]);
    assert_eq!(stream(&msgs, "stderr"), stream(&plain_msgs, "stderr"));
    assert_eq!(reply["content"]["evalue"], plain["content"]["evalue"]);
    assert!(!stream(&msgs, "stdout").contains("per loop"), "{msgs:#?}");

    // %timeit over a `?` that succeeds, on the line form.
    let (reply, msgs) = k
        .execute("%timeit -n 1 -r 1 par_map(|x: u64| x, 0..3u64)?")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(stream(&msgs, "stdout").contains("per loop"), "{msgs:#?}");

    // Compile errors name the user's line, never the wrappers.
    let (reply, _) = k
        .execute("%%time\nlet a = 1;\nlet b: u32 = \"no\";\na")
        .await;
    assert_eq!(reply["content"]["status"], "error");
    let traceback = reply["content"]["traceback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(traceback.contains("--> cell:3:"), "{traceback}");
    assert!(traceback.contains("let b: u32 = \"no\";"), "{traceback}");
    for generated in ["__paralelo", "src/lib.rs", "timing::"] {
        assert!(!traceback.contains(generated), "{generated} in {traceback}");
    }
    let (reply, _) = k.execute("%timeit -n 1 -r 1 undefined_name + 1").await;
    let traceback = reply["content"]["traceback"].to_string();
    assert!(traceback.contains("cell:1:"), "{traceback}");
    assert!(
        !traceback.contains("__paralelo") && !traceback.contains("src/lib.rs"),
        "{traceback}"
    );
}
