//! Magic output formats: `%%time` and `%time` print IPython's lines and keep the value and
//! the variables; `%timeit` prints IPython's line and `-o` returns the result; `%lsmagic`
//! lists the registry; an unknown magic names the known ones; evcxr's `:` commands work.

mod common;

use common::{Kernel, result_text, stream};

/// `CPU times: user X, sys: Y, total: Z` then `Wall time: W`, IPython's units.
fn assert_time_lines(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    let cpu = lines
        .iter()
        .position(|l| l.starts_with("CPU times: user "))
        .unwrap_or_else(|| panic!("no CPU times line in {out:?}"));
    let line = lines[cpu];
    assert!(
        line.contains(", sys: ") && line.contains(", total: "),
        "{line}"
    );
    let wall = lines
        .iter()
        .find(|l| l.starts_with("Wall time: "))
        .unwrap_or_else(|| panic!("no Wall time line in {out:?}"));
    let unit = wall.rsplit(' ').next().unwrap();
    assert!(["s", "ms", "µs", "ns"].contains(&unit), "{wall}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magics_print_what_ipython_prints() {
    let mut k = Kernel::start().await;

    let (reply, msgs) = k
        .execute("%%time\nlet total: u64 = (1..=100u64).sum();\ntotal")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_time_lines(&stream(&msgs, "stdout"));
    assert_eq!(result_text(&msgs).as_deref(), Some("5050"));
    // The cell's variables survive %%time.
    let (_, msgs) = k.execute("total + 1").await;
    assert_eq!(result_text(&msgs).as_deref(), Some("5051"));

    let (reply, msgs) = k.execute("%time 6 * 7").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_time_lines(&stream(&msgs, "stdout"));
    assert_eq!(result_text(&msgs).as_deref(), Some("42"));

    let (reply, msgs) = k
        .execute("%timeit -n 3 -r 2 (1..100u64).sum::<u64>()")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let out = stream(&msgs, "stdout");
    assert!(
        out.contains(" ± ") && out.contains(" per loop (mean ± std. dev. of 2 runs, 3 loops each)"),
        "{out:?}"
    );
    assert_eq!(
        result_text(&msgs),
        None,
        "%timeit without -o returns nothing"
    );

    let (reply, msgs) = k
        .execute("%%timeit -n 2 -r 2 -q -o\nlet v = vec![1u8; 10];\nv.len()")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(stream(&msgs, "stdout"), "", "-q prints nothing");
    assert!(result_text(&msgs).is_some(), "-o returns the TimeitResult");

    // The setup on the magic's line runs once, untimed; the body sees its bindings, and they
    // do not outlive the measurement (as in IPython).
    let (reply, msgs) = k
        .execute("%%timeit -n 2 -r 2 let datos: Vec<u64> = (0..100).collect();\ndatos.iter().sum::<u64>()")
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let out = stream(&msgs, "stdout");
    assert!(
        out.contains(" per loop (mean ± std. dev. of 2 runs, 2 loops each)"),
        "{out:?}"
    );
    let (reply, _) = k.execute("datos.len()").await;
    assert_eq!(reply["content"]["status"], "error", "setup leaked: {reply}");

    let (_, msgs) = k.execute("%lsmagic").await;
    let out = stream(&msgs, "stdout");
    for name in [
        "%lsmagic", "%pinfo", "%time", "%%time", "%timeit", "%%timeit",
    ] {
        assert!(out.contains(name), "{name} missing from {out}");
    }

    let (reply, msgs) = k.execute("%nosuchmagic 1").await;
    assert_eq!(reply["content"]["status"], "error");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    assert!(
        evalue.contains("%nosuchmagic") && evalue.contains("%%timeit"),
        "{evalue}"
    );
    assert_eq!(msgs.iter().filter(|m| m["msg_type"] == "error").count(), 1);

    let (reply, msgs) = k.execute(":vars").await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let shown = format!(
        "{}{}",
        stream(&msgs, "stdout"),
        result_text(&msgs).unwrap_or_default()
    );
    assert!(shown.contains("total"), "{shown}");
}
