//! Start-up benchmark: prints a table of cold start, warm start and trivial-cell latency.
//!
//! Runs `paralelo-kernel run` (the same engine Jupyter gets) on a small notebook, first with
//! an empty build cache (cold), then again with the cache it left (warm), and reads the
//! timings the runner prints. Build the kernel first, then:
//!
//! ```text
//! cargo build -p paralelo-kernel --examples
//! target/debug/examples/startup
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const TRIVIAL_CELLS: usize = 10;

struct Run {
    wall: f64,
    engine: f64,
    first_cell: f64,
    trivial: Vec<f64>,
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

fn seconds_after(text: &str, prefix: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|rest| {
            let number: String = rest
                .trim_start_matches(['(', ' '])
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            number.parse().ok()
        })
        .collect()
}

fn run(cache: &std::path::Path, nb: &std::path::Path) -> Run {
    let started = Instant::now();
    let out = Command::new(kernel_exe())
        .arg("run")
        .arg(nb)
        .env("PARALELO_KERNEL_CACHE", cache)
        .output()
        .expect("run the kernel");
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kernel run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let engine = seconds_after(&stdout, "--- engine started in ")[0];
    // "--- cell N (T s)": take the number in parentheses.
    let cells: Vec<f64> = stdout
        .lines()
        .filter(|l| l.starts_with("--- cell "))
        .filter_map(|l| l.split_once('(').map(|(_, t)| t))
        .filter_map(|t| t.trim_end_matches(" s)").parse().ok())
        .collect();
    Run {
        wall,
        engine,
        first_cell: cells[0],
        trivial: cells[1..].to_vec(),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("paralelo-kernel-bench-{}", std::process::id()));
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).expect("temp dir");
    let nb = notebook(&dir);
    let cold = run(&cache, &nb);
    let warm = run(&cache, &nb);
    let warm2 = run(&cache, &nb);
    println!(
        "paralelo-kernel start-up ({} trivial cells per run)",
        TRIVIAL_CELLS
    );
    println!(
        "| run    | process wall | engine start | first cell (par_map) | start → first result | trivial cell (median) |"
    );
    println!(
        "|--------|-------------:|-------------:|---------------------:|---------------------:|----------------------:|"
    );
    for (name, r) in [("cold", &cold), ("warm", &warm), ("warm 2", &warm2)] {
        println!(
            "| {name:<6} | {:>10.2} s | {:>10.2} s | {:>18.2} s | {:>18.2} s | {:>19.3} s |",
            r.wall,
            r.engine,
            r.first_cell,
            r.engine + r.first_cell,
            median(&r.trivial)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
