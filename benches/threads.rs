//! Benchmark of the thread backend: `par_map` and `Pool` against rayon, sequential Rust and
//! CPython's `multiprocessing` (fork), on the course's workloads.
//!
//! Run with `cargo bench --bench threads`. It prints one table of medians and ratios, all
//! measured in this run on this machine; the targets come from issue 2.

use std::process::Command;
use std::time::{Duration, Instant};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use paralelo::prelude::*;
use paralelo::timing::format_time;
use rayon::prelude::*;

mod common;

use common::{factorial, factorial_naive, load_average, medians};

/// CPython's figures for the same workloads, if python3 is here.
fn python_reference() -> Option<serde_json::Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/pool_reference.py"
    );
    let out = Command::new("python3").arg(script).arg("5").output().ok()?;
    if !out.status.success() {
        eprintln!(
            "python3 reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

struct Report {
    table: Table,
}

impl Report {
    fn new() -> Self {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header([
            "Measurement",
            "paralelo",
            "Compared with",
            "Their time",
            "Ratio",
            "Target",
            "Met",
        ]);
        Report { table }
    }

    /// A row comparing `ours` with `theirs`; `ratio` is ours ÷ theirs unless `inverse`.
    fn compare(
        &mut self,
        what: &str,
        ours: Duration,
        against: &str,
        theirs: Duration,
        inverse: bool,
        target: (&str, fn(f64) -> bool),
    ) {
        let ratio = if inverse {
            theirs.as_secs_f64() / ours.as_secs_f64()
        } else {
            ours.as_secs_f64() / theirs.as_secs_f64()
        };
        self.table.add_row([
            what.to_owned(),
            format_time(ours),
            against.to_owned(),
            format_time(theirs),
            format!("{ratio:.2}×"),
            target.0.to_owned(),
            if (target.1)(ratio) { "yes" } else { "NO" }.to_owned(),
        ]);
    }

    fn single(&mut self, what: &str, ours: Duration, target: &str, met: bool) {
        self.table.add_row([
            what.to_owned(),
            format_time(ours),
            "—".to_owned(),
            "—".to_owned(),
            "—".to_owned(),
            target.to_owned(),
            if met { "yes" } else { "NO" }.to_owned(),
        ]);
    }
}

fn main() -> paralelo::Result<()> {
    let workers = cpu_count();
    println!(
        "Thread backend benchmark: {workers} CPUs for this process, medians of repeated runs\n\
         load average at start: {}\n",
        load_average()
    );
    let pool = Pool::new(workers)?;
    let squares: Vec<u64> = (0..1_000_000).collect();
    let mut report = Report::new();

    // 1. One million cheap items. par_map and rayon share rayon's global pool, so their
    // runs alternate one by one (no pool switch between them); the thread Pool and the
    // sequential loop get a block each: cheap memory-bound runs lose more to switching
    // pools than to drift.
    let [rayon_sq, par_sq] = medians(
        301,
        1,
        [
            Box::new(|| squares.par_iter().map(|x| x * x).collect::<Vec<u64>>()),
            Box::new(|| par_map(|x: &u64| x * x, &squares).unwrap()),
        ],
    );
    let [pool_sq, seq_sq] = medians(
        1,
        301,
        [
            Box::new(|| pool.map(|x: &u64| x * x, &squares).unwrap()),
            Box::new(|| squares.iter().map(|x| x * x).collect::<Vec<u64>>()),
        ],
    );
    report.compare(
        "par_map, 1M × (x*x)",
        par_sq,
        "rayon par_iter",
        rayon_sq,
        false,
        ("≤ 1.05×", |r| r <= 1.05),
    );
    report.compare(
        "Pool.map, 1M × (x*x)",
        pool_sq,
        "rayon par_iter",
        rayon_sq,
        false,
        ("≤ 1.2×", |r| r <= 1.2),
    );
    report.single(
        "sequential, 1M × (x*x)",
        seq_sq,
        "(memory-bound: for scale)",
        true,
    );

    // 2. factorial(1000..2000) on big integers.
    assert_eq!(factorial(1500), factorial_naive(1500));
    let [seq_naive, pool_naive] = medians(
        3,
        3,
        [
            Box::new(|| (1000..2000u64).map(factorial_naive).collect::<Vec<_>>()),
            Box::new(|| pool.map(factorial_naive, 1000..2000u64).unwrap()),
        ],
    );
    // par_map and rayon alternate run by run, as in 1.: the same algorithm on the same
    // pool, so only many interleaved runs tell their difference from rayon's splitting luck.
    let [rayon_f, par_f] = medians(
        101,
        1,
        [
            Box::new(|| {
                (1000..2000u64)
                    .into_par_iter()
                    .map(factorial)
                    .collect::<Vec<_>>()
            }),
            Box::new(|| par_map(factorial, 1000..2000u64).unwrap()),
        ],
    );
    let [seq_f, pool_f] = medians(
        5,
        3,
        [
            Box::new(|| (1000..2000u64).map(factorial).collect::<Vec<_>>()),
            Box::new(|| pool.map(factorial, 1000..2000u64).unwrap()),
        ],
    );
    report.compare(
        "par_map, factorial(1000..2000)",
        par_f,
        "rayon par_iter",
        rayon_f,
        false,
        ("≤ 1.05×", |r| r <= 1.05),
    );
    report.compare(
        "Pool.map, factorial(1000..2000)",
        pool_f,
        "rayon par_iter",
        rayon_f,
        false,
        ("≤ 1.2×", |r| r <= 1.2),
    );
    report.compare(
        &format!("Pool({workers}).map speedup, factorial"),
        pool_f,
        "sequential Rust",
        seq_f,
        true,
        ("≥ 1.8×", |r| r >= 1.8),
    );

    report.compare(
        &format!("Pool({workers}).map speedup, naive factorial"),
        pool_naive,
        "sequential Rust",
        seq_naive,
        true,
        ("(for scale)", |_| true),
    );

    // 3. apply round trip: submit, run on a worker, get the value back. First let the idle
    // threads of the pools used above fall asleep: their spinning would steal the 2 cores.
    std::thread::sleep(Duration::from_millis(300));
    let mut trips: Vec<Duration> = (0..20_000u64)
        .map(|i| {
            let start = Instant::now();
            std::hint::black_box(pool.apply(move || i).unwrap());
            start.elapsed()
        })
        .collect();
    trips.sort();
    let apply = trips[trips.len() / 2];
    let mut async_trips: Vec<Duration> = (0..20_000u64)
        .map(|i| {
            let start = Instant::now();
            std::hint::black_box(pool.apply_async(move || i).unwrap().get().unwrap());
            start.elapsed()
        })
        .collect();
    async_trips.sort();
    let apply_async = async_trips[async_trips.len() / 2];
    report.single(
        "Pool.apply round trip",
        apply,
        "≤ 10 µs",
        apply <= Duration::from_micros(10),
    );
    report.single(
        "Pool.apply_async + get round trip",
        apply_async,
        "(for scale)",
        true,
    );

    // 4. CPython's multiprocessing on the same workloads.
    match python_reference() {
        Some(py) => {
            let secs = |key: &str| Duration::from_secs_f64(py[key].as_f64().unwrap_or(f64::NAN));
            let version = py["python"].as_str().unwrap_or("?");
            let against = format!("CPython {version} Pool(2).map");
            report.compare(
                "Pool.map, 1M × (x*x)",
                pool_sq,
                &against,
                secs("squares_map"),
                true,
                ("≥ 10× faster", |r| r >= 10.0),
            );
            report.compare(
                "Pool.map, factorial(1000..2000)",
                pool_f,
                &against,
                secs("factorial_map"),
                true,
                ("≥ 10× faster", |r| r >= 10.0),
            );
            report.compare(
                "Pool.map, naive factorial loop",
                pool_naive,
                &against,
                secs("factorial_map"),
                true,
                ("(same algorithm)", |_| true),
            );
            report.compare(
                "Pool.apply round trip",
                apply,
                &format!("CPython {version} Pool.apply"),
                secs("apply_round_trip"),
                true,
                ("(faster)", |r| r >= 1.0),
            );
            report.compare(
                "sequential naive factorial loop",
                seq_naive,
                &format!("CPython {version} loop"),
                secs("factorial_sequential"),
                true,
                ("(same algorithm)", |_| true),
            );
        }
        None => println!("(python3 not found: no CPython column)"),
    }

    for column in report.table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    println!("{}", report.table);
    println!("load average at end: {}", load_average());
    println!(
        "Ratio: paralelo ÷ other for \"≤\" targets, other ÷ paralelo (times faster) otherwise."
    );
    println!("factorial: small factors packed into a u64 before each big multiplication;");
    println!("naive: the document's loop, one big multiplication per factor, as CPython runs it.");
    Ok(())
}
