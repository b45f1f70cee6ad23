//! Benchmark of the MPI pool (feature `mpi`) against the local pools and against
//! `mpi4py.futures.MPIPoolExecutor`, measured in the same run on the same machine.
//!
//! Run with `cargo bench --features mpi --bench mpi` (mpi4py rows need
//! `bash scripts/mpi-python-setup` first). It prints one table of medians and ratios;
//! the targets come from issue 17. "N ranks" means N worker ranks plus rank 0, which
//! only hands out work (`mpirun -n N+1`), as `MPIPoolExecutor` with N workers.
//!
//! The program runs itself under `mpirun` for the MPI rows: with `OMPI_COMM_WORLD_SIZE`
//! set, it is one rank of such a run and prints its medians as JSON.

use std::process::Command;
use std::time::{Duration, Instant};

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use paralelo::prelude::*;

mod common;

use common::{factorial, load_average};

const REPEAT: usize = 7;
const ROUND_TRIPS: usize = 2000;

fn items() -> std::ops::Range<u64> {
    1000..2000
}

/// Median wall time of `repeat` runs of `work`, after one warm-up run.
fn median<R>(repeat: usize, mut work: impl FnMut() -> R) -> Duration {
    std::hint::black_box(work());
    let mut runs: Vec<Duration> = (0..repeat)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(work());
            start.elapsed()
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Median time of one `apply` round trip, over 5 batches of [`ROUND_TRIPS`].
fn round_trip(mut apply: impl FnMut()) -> Duration {
    apply();
    let mut batches: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                apply();
            }
            start.elapsed() / ROUND_TRIPS as u32
        })
        .collect();
    batches.sort();
    batches[2]
}

/// One rank of an `mpirun` started by the driver below.
fn rank() -> paralelo::Result<()> {
    let cluster = paralelo::mpi::init()?;
    let pool = cluster.pool()?;
    let map = median(REPEAT, || pool.map(factorial, items()).unwrap());
    let round_trip = round_trip(|| {
        pool.apply(|| 1u8).unwrap();
    });
    println!(
        "{}",
        serde_json::json!({
            "workers": pool.workers(),
            "factorial_map": map.as_secs_f64(),
            "apply_round_trip": round_trip.as_secs_f64(),
        })
    );
    Ok(())
}

fn mpirun(ranks: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "--bind-to",
        "none",
    ])
    .args(["--mca", "btl", "self,tcp", "-n"])
    .arg((ranks + 1).to_string());
    c
}

fn json_of(mut command: Command, what: &str) -> Option<serde_json::Value> {
    let out = command.output().ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    match line.and_then(|l| serde_json::from_str(l).ok()) {
        Some(v) => Some(v),
        None => {
            eprintln!(
                "{what} failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
    }
}

fn secs(v: &Option<serde_json::Value>, key: &str) -> Option<Duration> {
    v.as_ref()?.get(key)?.as_f64().map(Duration::from_secs_f64)
}

fn mpi4py_python() -> Option<String> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
    let python = format!("{target}/mpi4py-venv/bin/python");
    std::path::Path::new(&python).exists().then_some(python)
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() {
        if let Err(e) = rank() {
            eprintln!("benches/mpi: {e}");
            std::process::exit(1);
        }
        return;
    }
    let load_before = load_average();
    let exe = std::env::current_exe().expect("this benchmark's path");
    let sequential = median(REPEAT, || items().map(factorial).collect::<Vec<_>>());
    let threads = Pool::new(2).unwrap();
    let threads_map = median(REPEAT, || threads.map(factorial, items()).unwrap());
    let threads_rt = round_trip(|| {
        threads.apply(|| 1u8).unwrap();
    });
    drop(threads);
    let processes = Pool::processes(2).unwrap();
    let processes_map = median(REPEAT, || processes.map(factorial, items()).unwrap());
    let processes_rt = round_trip(|| {
        processes.apply(|| 1u8).unwrap();
    });
    drop(processes);

    let ours: Vec<(usize, Option<serde_json::Value>)> = [2, 4]
        .into_iter()
        .map(|n| {
            let mut c = mpirun(n);
            c.arg(&exe);
            (n, json_of(c, &format!("paralelo::mpi on {n} ranks")))
        })
        .collect();
    let python = mpi4py_python();
    if python.is_none() {
        eprintln!("no mpi4py venv: run `bash scripts/mpi-python-setup` for the mpi4py rows");
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/mpi_reference.py"
    );
    let theirs: Vec<(usize, Option<serde_json::Value>)> = [2, 4]
        .into_iter()
        .map(|n| {
            let value = python.as_ref().and_then(|python| {
                let mut c = mpirun(n);
                c.args([python, "-m", "mpi4py.futures", script, &REPEAT.to_string()]);
                json_of(c, &format!("mpi4py.futures on {n} ranks"))
            });
            (n, value)
        })
        .collect();
    let load_after = load_average();

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "variant",
        "workers",
        "factorial(1000..2000) map",
        "speedup vs sequential",
        "apply round trip",
    ]);
    let speedup =
        |d: Duration, base: Duration| format!("{:.2}×", base.as_secs_f64() / d.as_secs_f64());
    table.add_row([
        "sequential Rust".into(),
        "1".into(),
        fmt(sequential),
        "1.00×".into(),
        "—".into(),
    ]);
    table.add_row([
        "Pool::new(2) (threads)".into(),
        "2".into(),
        fmt(threads_map),
        speedup(threads_map, sequential),
        fmt(threads_rt),
    ]);
    table.add_row([
        "Pool::processes(2)".into(),
        "2".into(),
        fmt(processes_map),
        speedup(processes_map, sequential),
        fmt(processes_rt),
    ]);
    for (n, v) in &ours {
        match (secs(v, "factorial_map"), secs(v, "apply_round_trip")) {
            (Some(map), Some(rt)) => table.add_row([
                format!("paralelo::mpi, {n} ranks"),
                n.to_string(),
                fmt(map),
                speedup(map, sequential),
                fmt(rt),
            ]),
            _ => table.add_row([
                format!("paralelo::mpi, {n} ranks"),
                n.to_string(),
                "failed".into(),
                "—".into(),
                "—".into(),
            ]),
        };
    }
    for (n, v) in &theirs {
        let py_seq = secs(v, "factorial_sequential");
        match (
            secs(v, "factorial_map"),
            secs(v, "apply_round_trip"),
            py_seq,
        ) {
            (Some(map), Some(rt), Some(seq)) => table.add_row([
                format!("mpi4py.futures, {n} ranks (Python)"),
                n.to_string(),
                fmt(map),
                format!("{} (vs Python's {})", speedup(map, seq), fmt(seq)),
                fmt(rt),
            ]),
            _ => table.add_row([
                format!("mpi4py.futures, {n} ranks"),
                n.to_string(),
                "not measured".into(),
                "—".into(),
                "—".into(),
            ]),
        };
    }
    println!(
        "paralelo::mpi benchmark (medians; {REPEAT} runs per map, {ROUND_TRIPS} round trips × 5)"
    );
    println!("{table}");

    let ours2 = &ours[0].1;
    let theirs2 = &theirs[0].1;
    if let (Some(rt), Some(py_rt)) = (
        secs(ours2, "apply_round_trip"),
        secs(theirs2, "apply_round_trip"),
    ) {
        let ratio = py_rt.as_secs_f64() / rt.as_secs_f64();
        println!(
            "round trip on 2 ranks: {} vs mpi4py.futures {}: {ratio:.1}× faster (target ≥ 10×: {})",
            fmt(rt),
            fmt(py_rt),
            if ratio >= 10.0 { "met" } else { "NOT met" }
        );
    }
    if let Some(map) = secs(ours2, "factorial_map") {
        let ours_speedup = sequential.as_secs_f64() / map.as_secs_f64();
        let local = sequential.as_secs_f64() / processes_map.as_secs_f64();
        let share = 100.0 * ours_speedup / local;
        println!(
            "map on 2 ranks: speedup {ours_speedup:.2}× = {share:.0} % of Pool::processes(2)'s {local:.2}× (target ≥ 90 %: {})",
            if share >= 90.0 { "met" } else { "NOT met" }
        );
    }
    println!(
        "load average (1, 5, 15 min): {load_before} before, {load_after} after; 2 CPUs shared with other work"
    );
}
