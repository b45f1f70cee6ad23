//! Start-up benchmark: prints a table of cold start, warm start and trivial-cell latency.
//!
//! Runs `paralelo-kernel run` (the same engine Jupyter gets) on a small notebook, first with
//! an empty build cache (cold), then again with the cache it left (warm), and reads the
//! timings the runner prints and the phases `PARALELO_KERNEL_TRACE=1` prints. Build the
//! kernel first, then:
//!
//! ```text
//! cargo build -p paralelo-kernel --bins --examples
//! target/debug/examples/startup [COLD_RUNS [WARM_RUNS]]     # default 1 cold, 5 warm
//! ```
//!
//! Every figure is a median over the runs of its kind; the load average is printed before
//! and after, since another build on the machine changes everything.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

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
    let started = Instant::now();
    let out = Command::new(kernel_exe())
        .arg("run")
        .arg(nb)
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
    // "--- cell N (T s)": take the number in parentheses.
    let cells: Vec<f64> = stdout
        .lines()
        .filter(|l| l.starts_with("--- cell "))
        .filter_map(|l| l.split_once('(').map(|(_, t)| t))
        .filter_map(|t| t.trim_end_matches(" s)").parse().ok())
        .collect();
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

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let cold_runs = args.next().map_or(1, |n| n.expect("COLD_RUNS is a number"));
    let warm_runs = args.next().map_or(5, |n| n.expect("WARM_RUNS is a number"));
    let dir = std::env::temp_dir().join(format!("paralelo-kernel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let nb = notebook(&dir);
    let load_before = load();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
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
    let _ = std::fs::remove_dir_all(&dir);
}
