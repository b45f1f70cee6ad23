//! Start-up and latency benchmark: prints a table of cold start, warm start and
//! trivial-cell latency, then the latency of small cells as a Jupyter client sees it.
//!
//! 1. Runs `paralelo-kernel run` (the same engine Jupyter gets) on a small notebook, first
//!    with an empty build cache (cold), then again with the cache it left (warm), and reads
//!    the timings the runner prints and the phases `PARALELO_KERNEL_TRACE=1` prints.
//! 2. Starts the kernel as Jupyter does (a connection file, zeromq) on the warm cache, runs
//!    a first `par_map` cell, waits a few seconds (a person types slower than that), then
//!    times `1 + 1`, `let x = 2 * 3;` and `fn f(x: u64) -> u64 { x * 3 } f(3)` from
//!    `execute_request` to the kernel's `idle`, interleaved, and prints their medians.
//! 3. With `--against-stock`, does the same on stock `evcxr_jupyter` 0.22 (crates.io), built
//!    once into `target/stock-evcxr` (`cargo install --locked`, at nice 19; later runs reuse
//!    it), in the same run, and prints the ratios.
//!
//! ```text
//! cargo run -p paralelo-kernel --example startup -- [--against-stock] [--cells N] [COLD [WARM]]
//! ```
//!
//! Defaults: 1 cold and 5 warm runs, 15 timings of each cell. Every figure is a median over
//! the runs of its kind; the load average is printed with every table, since other work on
//! the machine changes everything.

mod client;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TRIVIAL_CELLS: usize = 10;

struct Run {
    wall: f64,
    /// evcxr's context (its runtime process, rust-analyzer's first load, a first compile).
    context: f64,
    /// The preload cell (`:dep paralelo`, `use paralelo::prelude::*`).
    preload: f64,
    engine: f64,
    first_cell: f64,
    trivial: f64,
}

fn kernel_exe() -> PathBuf {
    if let Some(path) = std::env::var_os("PARALELO_KERNEL_EXE") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("own path");
    // target/<profile>/examples/startup → target/<profile>/paralelo-kernel
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("paralelo-kernel"))
        .expect("kernel path")
}

fn notebook(dir: &std::path::Path) -> PathBuf {
    let mut cells = vec![serde_json::json!({
        "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null,
        "source": "let v = par_map(|x: u64| x * x, 0..4u64);\nv.map(|v| v.len()).unwrap_or(0)"
    })];
    for i in 0..TRIVIAL_CELLS {
        cells.push(serde_json::json!({
            "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null,
            "source": format!("{i} + 1")
        }));
    }
    let nb =
        serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells});
    let path = dir.join("bench.ipynb");
    std::fs::write(&path, nb.to_string()).expect("write notebook");
    path
}

/// The number at the start of `rest` (after spaces and an opening parenthesis).
fn number(rest: &str) -> Option<f64> {
    let text: String = rest
        .trim_start_matches(['(', ' '])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    text.parse().ok()
}

fn seconds_after(text: &str, prefix: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(number)
        .collect()
}

fn run(cache: &std::path::Path, nb: &std::path::Path) -> Run {
    let junit = nb.with_extension("junit.xml");
    let started = Instant::now();
    let out = Command::new(kernel_exe())
        .arg("run")
        .arg(nb)
        .arg("--junit")
        .arg(&junit)
        .env("PARALELO_KERNEL_CACHE", cache)
        .env("PARALELO_KERNEL_TRACE", "1")
        .output()
        .expect("run the kernel");
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kernel run failed:\n{stdout}\n{stderr}"
    );
    let engine = seconds_after(&stdout, "--- engine started in ")[0];
    // Each cell's time, from the runner's JUnit report: one `testcase … time="T"` per code
    // cell, in order.
    let report = std::fs::read_to_string(&junit).expect("read the runner's JUnit report");
    let cells: Vec<f64> = report
        .lines()
        .filter(|l| l.trim_start().starts_with("<testcase "))
        .filter_map(|l| l.split_once(" time=\"").map(|(_, t)| t))
        .filter_map(|t| t.split('"').next()?.parse().ok())
        .collect();
    assert!(
        cells.len() >= 2,
        "no cell times in the JUnit report:\n{report}"
    );
    let context = seconds_after(&stderr, "trace: evcxr context in ")
        .first()
        .copied()
        .unwrap_or(f64::NAN);
    // The first "trace: T s total" line is the preload cell's.
    let preload = seconds_after(&stderr, "trace: ")
        .first()
        .copied()
        .unwrap_or(f64::NAN);
    Run {
        wall,
        context,
        preload,
        engine,
        first_cell: cells[0],
        trivial: median(&cells[1..]),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The cells whose latency is measured, by name.
const LATENCY_CELLS: [(&str, &str); 3] = [
    ("1 + 1", "1 + 1"),
    ("let x = 2 * 3;", "let x = 2 * 3;"),
    (
        "fn f(x: u64) -> u64 { x * 3 } f(3)",
        "fn f(x: u64) -> u64 { x * 3 }\nf(3)",
    ),
];

/// How long to wait after the first cell before timing (rust-analyzer primes its caches in
/// the background meanwhile, as it does while a person types).
const SETTLE: Duration = Duration::from_secs(5);

/// Median latency of each of [`LATENCY_CELLS`] on a kernel started by `command`.
fn latencies(
    name: &str,
    command: Command,
    args: &[&str],
    first_cell: &str,
    rounds: usize,
    dir: &Path,
) -> Vec<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let (mut kernel, ready) = client::Client::start(command, args, dir).await;
        let (status, first) = kernel.execute(first_cell).await;
        assert_eq!(status, "ok", "{name}: the first cell failed");
        eprintln!(
            "{name}: kernel_info after {:.2} s, first cell {:.2} s",
            ready.as_secs_f64(),
            first.as_secs_f64()
        );
        tokio::time::sleep(SETTLE).await;
        let mut times = vec![Vec::new(); LATENCY_CELLS.len()];
        for _ in 0..rounds {
            for (i, (label, code)) in LATENCY_CELLS.iter().enumerate() {
                let (status, took) = kernel.execute(code).await;
                assert_eq!(status, "ok", "{name}: {label} failed");
                times[i].push(took.as_secs_f64());
            }
        }
        times.iter().map(|t| median(t)).collect()
    })
}

/// Stock `evcxr_jupyter` 0.22 under `target/stock-evcxr`, built there once.
fn stock_evcxr(target: &Path) -> PathBuf {
    let root = target.join("stock-evcxr");
    let exe = root.join("bin").join("evcxr_jupyter");
    if !exe.exists() {
        eprintln!(
            "building stock evcxr_jupyter 0.22.0 into {} (once; minutes)",
            root.display()
        );
        let status = Command::new("nice")
            .args(["-n", "19", "cargo", "install", "--locked", "--root"])
            .arg(&root)
            .arg("evcxr_jupyter@0.22.0")
            .env("CARGO_TARGET_DIR", root.join("build"))
            .status()
            .expect("run cargo install");
        assert!(status.success(), "cargo install evcxr_jupyter failed");
    }
    exe
}

fn main() {
    let mut against_stock = false;
    let mut rounds = 15;
    let mut numbers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--against-stock" => against_stock = true,
            "--cells" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--cells N: a number");
            }
            other => numbers.push(
                other
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("unknown argument {other:?}; usage: startup [--against-stock] [--cells N] [COLD [WARM]]")),
            ),
        }
    }
    let cold_runs = numbers.first().copied().unwrap_or(1);
    let warm_runs = numbers.get(1).copied().unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("paralelo-kernel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let nb = notebook(&dir);
    let load_before = load();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let warm_cache = dir.join("cache-0");
    for i in 0..cold_runs.max(1) {
        let cache = dir.join(format!("cache-{i}"));
        std::fs::create_dir_all(&cache).expect("cache dir");
        cold.push(run(&cache, &nb));
        if i == 0 {
            for _ in 0..warm_runs {
                warm.push(run(&cache, &nb));
            }
        }
    }
    println!(
        "paralelo-kernel start-up: medians of {} cold and {} warm runs, {TRIVIAL_CELLS} trivial cells per run",
        cold.len(),
        warm.len()
    );
    println!(
        "load average (1, 5, 15 min): before {load_before}, after {}",
        load()
    );
    println!(
        "| run  | process wall | evcxr context | preload cell | engine start | first cell (par_map) | start → first result | trivial cell |"
    );
    println!(
        "|------|-------------:|--------------:|-------------:|-------------:|---------------------:|---------------------:|-------------:|"
    );
    for (name, runs) in [("cold", &cold), ("warm", &warm)] {
        if runs.is_empty() {
            continue;
        }
        let m = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        println!(
            "| {name:<4} | {:>10.2} s | {:>11.2} s | {:>10.2} s | {:>10.2} s | {:>18.2} s | {:>18.2} s | {:>10.3} s |",
            m(|r| r.wall),
            m(|r| r.context),
            m(|r| r.preload),
            m(|r| r.engine),
            m(|r| r.first_cell),
            m(|r| r.engine + r.first_cell),
            m(|r| r.trivial),
        );
    }

    // Latency through the Jupyter protocol, on the warm cache.
    let load_before = load();
    let mut ours_command = Command::new(kernel_exe());
    ours_command.env("PARALELO_KERNEL_CACHE", &warm_cache);
    let ours = latencies(
        "paralelo-kernel",
        ours_command,
        &["--connection-file", "{connection_file}"],
        "let v = par_map(|x: u64| x * x, 0..4u64)?;\nv.len()",
        rounds,
        &dir,
    );
    let stock = against_stock.then(|| {
        let target = kernel_exe()
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .to_path_buf();
        let exe = stock_evcxr(&target);
        let mut command = Command::new(exe);
        let config = dir.join("stock-evcxr-config");
        std::fs::create_dir_all(&config).expect("config dir");
        command
            .env("EVCXR_CONFIG_DIR", &config)
            .env_remove("EVCXR_TMPDIR");
        latencies(
            "evcxr_jupyter 0.22",
            command,
            &["--control_file", "{connection_file}"],
            "let v: Vec<u64> = (0..4u64).map(|x| x * x).collect();\nv.len()",
            rounds,
            &dir,
        )
    });
    println!();
    println!(
        "cell latency through Jupyter (execute_request → idle), medians of {rounds} interleaved runs, after the first cell and {} s",
        SETTLE.as_secs()
    );
    println!(
        "load average (1, 5, 15 min): before {load_before}, after {}",
        load()
    );
    match &stock {
        Some(stock) => {
            println!("| cell | paralelo-kernel | evcxr_jupyter 0.22 | ours / stock |");
            println!("|---|--:|--:|--:|");
            for (i, (label, _)) in LATENCY_CELLS.iter().enumerate() {
                println!(
                    "| `{label}` | {:.3} s | {:.3} s | {:.2} |",
                    ours[i],
                    stock[i],
                    ours[i] / stock[i]
                );
            }
        }
        None => {
            println!("| cell | paralelo-kernel |");
            println!("|---|--:|");
            for (i, (label, _)) in LATENCY_CELLS.iter().enumerate() {
                println!("| `{label}` | {:.3} s |", ours[i]);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
