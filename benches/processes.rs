//! Benchmark of the process primitives against CPython's `multiprocessing` (fork start
//! method), measured in the same run on the same machine.
//!
//! Run with `cargo bench --bench processes`. It prints one table of medians and ratios;
//! the targets come from issue 3.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use nix::sys::resource::{UsageWho, getrusage};
use paralelo::prelude::*;

mod common;

use common::{factorial, factorial_naive, load_average, medians};

const MESSAGES: u64 = 100_000;

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
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

fn python_reference() -> Option<serde_json::Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/processes_reference.py"
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

fn secs(py: &Option<serde_json::Value>, key: &str) -> Option<Duration> {
    py.as_ref()?.get(key)?.as_f64().map(Duration::from_secs_f64)
}

struct Report {
    table: Table,
}

impl Report {
    fn row(
        &mut self,
        what: &str,
        ours: String,
        theirs: String,
        ratio: String,
        target: &str,
        met: Option<bool>,
    ) {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "—",
        };
        self.table
            .add_row([what, &ours, &theirs, &ratio, target, met]);
    }

    /// ours ÷ theirs for latencies (smaller is better), theirs ÷ ours for throughputs.
    fn time_vs_python(
        &mut self,
        what: &str,
        ours: Duration,
        theirs: Option<Duration>,
        target: &str,
        ok: fn(f64) -> bool,
    ) {
        match theirs {
            Some(theirs) => {
                let speedup = theirs.as_secs_f64() / ours.as_secs_f64();
                self.row(
                    what,
                    fmt(ours),
                    fmt(theirs),
                    format!("{speedup:.1}× faster"),
                    target,
                    Some(ok(speedup)),
                );
            }
            None => self.row(what, fmt(ours), "—".into(), "—".into(), target, None),
        }
    }
}

/// Peak resident set of this process so far, in KiB.
fn peak_rss_kib(who: UsageWho) -> i64 {
    getrusage(who).map(|u| u.max_rss()).unwrap_or(0)
}

/// A `/proc/self/status` field in KiB (`VmRSS:` now, `VmHWM:` the peak so far).
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// A worker's RSS when it started (each forked worker has its own copy of this static).
static WORKER_START_KIB: AtomicU64 = AtomicU64::new(0);

/// Runs `work` in a fresh child and returns (peak RSS of the child, peak RSS of the
/// child's own children), in KiB.
fn peak_rss_of(work: impl FnOnce() + Send + 'static) -> Result<(i64, i64)> {
    let (rx, tx) = Pipe::<(i64, i64)>::one_way()?;
    let p = Process::new(move || {
        work();
        let _ = tx.send((
            peak_rss_kib(UsageWho::RUSAGE_SELF),
            peak_rss_kib(UsageWho::RUSAGE_CHILDREN),
        ));
    });
    p.start()?;
    let got = rx.recv_timeout(Duration::from_secs(300))?;
    p.join()?;
    Ok(got)
}

/// Encode + decode time of serde_json and bincode on the payloads that cross processes:
/// how the codec was chosen.
fn codec_table() {
    let small: Vec<u64> = (0..MESSAGES).collect();
    let bigs: Vec<BigUint> = (1000..1100u64).map(factorial_naive).collect();
    let json_small = median(5, || {
        for x in &small {
            let b = serde_json::to_vec(x).unwrap();
            std::hint::black_box(serde_json::from_slice::<u64>(&b).unwrap());
        }
    });
    let bin_small = median(5, || {
        for x in &small {
            let b = bincode::serialize(x).unwrap();
            std::hint::black_box(bincode::deserialize::<u64>(&b).unwrap());
        }
    });
    let json_big = median(5, || {
        let b = serde_json::to_vec(&bigs).unwrap();
        std::hint::black_box(serde_json::from_slice::<Vec<BigUint>>(&b).unwrap());
    });
    let bin_big = median(5, || {
        let b = bincode::serialize(&bigs).unwrap();
        std::hint::black_box(bincode::deserialize::<Vec<BigUint>>(&b).unwrap());
    });
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "Codec (encode + decode)",
        "serde_json",
        "bincode",
        "bincode speedup",
    ]);
    for (what, j, b) in [
        ("100,000 u64 messages, one by one", json_small, bin_small),
        ("100 factorials (BigUint) in one Vec", json_big, bin_big),
    ] {
        t.add_row([
            what.to_owned(),
            fmt(j),
            fmt(b),
            format!("{:.1}×", j.as_secs_f64() / b.as_secs_f64()),
        ]);
    }
    println!("{t}\n");
}

fn main() -> Result<()> {
    println!("load average at start: {}\n", load_average());
    codec_table();
    println!(
        "Process primitives vs CPython multiprocessing (fork); {} CPUs\n",
        cpu_count()
    );
    let py = python_reference();
    if let Some(v) = py.as_ref().and_then(|p| p.get("python")) {
        println!("CPython {v}, medians from the same run\n");
    }
    let mut report = Report {
        table: Table::new(),
    };
    report.table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "Measurement",
        "paralelo",
        "CPython / reference",
        "Ratio",
        "Target",
        "Met",
    ]);

    // Process start + join.
    let start_join = median(200, || {
        let p = Process::new(|| {});
        p.start().unwrap();
        p.join().unwrap();
    });
    report.time_vs_python(
        "Process start+join",
        start_join,
        secs(&py, "start_join"),
        "≥ 10× faster",
        |r| r >= 10.0,
    );

    // Pool.apply round trip: a stateless closure runs on a persistent worker.
    let pool = Pool::processes(1)?;
    let apply = median(300, || pool.apply(|| 1u32).unwrap());
    assert!(pool.fast_path_runs() >= 300, "apply took the fork path");
    report.time_vs_python(
        "Pool.apply round trip",
        apply,
        secs(&py, "apply_round_trip"),
        "≥ 10× faster",
        |r| r >= 10.0,
    );
    // A capturing closure is forked for (Python cannot send one at all).
    let one = std::hint::black_box(1u32);
    let forked = median(100, || pool.apply(move || one).unwrap());
    report.row(
        "Pool.apply, capturing closure (fork per task)",
        fmt(forked),
        secs(&py, "apply_round_trip").map_or("—".into(), fmt),
        secs(&py, "apply_round_trip").map_or("—".into(), |py| {
            format!("{:.1}× faster", py.as_secs_f64() / forked.as_secs_f64())
        }),
        "(no target: Python cannot send a closure)",
        None,
    );
    drop(pool);

    // Pipe: 100,000 small messages one way.
    let pipe = median(5, || {
        let (rx, tx) = Pipe::<u64>::one_way().unwrap();
        let p = Process::new(move || {
            for i in 0..MESSAGES {
                tx.send(i).unwrap();
            }
        });
        p.start().unwrap();
        for _ in 0..MESSAGES {
            rx.recv().unwrap();
        }
        p.join().unwrap();
    });
    report.time_vs_python(
        "Pipe: 100,000 messages",
        pipe,
        secs(&py, "pipe_100k"),
        "≥ 10× faster",
        |r| r >= 10.0,
    );

    // Queue: 100,000 small messages one way.
    let queue = median(5, || {
        let q = Queue::<u64>::new().unwrap();
        let tx = q.clone();
        let p = Process::new(move || {
            for i in 0..MESSAGES {
                tx.put(i).unwrap();
            }
        });
        p.start().unwrap();
        for _ in 0..MESSAGES {
            q.get().unwrap();
        }
        p.join().unwrap();
    });
    report.time_vs_python(
        "Queue: 100,000 messages",
        queue,
        secs(&py, "queue_100k"),
        "≥ 10× faster",
        |r| r >= 10.0,
    );

    // Pool(2).map over factorial(1000..2000).
    assert_eq!(factorial(1500), factorial_naive(1500));
    // The three variants take turns in blocks (see `medians`), as in the threads bench:
    // measured one after the other, each ratio drifted with the machine's load.
    let pool = Pool::processes(2)?;
    let threads = Pool::new(2)?;
    let [sequential, parallel, threaded] = medians(
        5,
        3,
        [
            Box::new(|| (1000..2000u64).map(factorial).collect::<Vec<_>>()),
            Box::new(|| pool.map(factorial, 1000..2000u64).unwrap()),
            Box::new(|| threads.map(factorial, 1000..2000u64).unwrap()),
        ],
    );
    drop((pool, threads));
    let speedup = sequential.as_secs_f64() / parallel.as_secs_f64();
    report.row(
        "Pool(2).map factorial vs sequential Rust",
        fmt(parallel),
        format!("{} (sequential)", fmt(sequential)),
        format!("{speedup:.2}× speedup"),
        "≥ 1.8×",
        Some(speedup >= 1.8),
    );
    // Control: what two threads get on this machine right now (other load on the cores
    // lowers both speedups alike).
    let control = sequential.as_secs_f64() / threaded.as_secs_f64();
    report.row(
        "Control: thread Pool(2).map factorial",
        fmt(threaded),
        format!("{} (sequential)", fmt(sequential)),
        format!("{control:.2}× speedup"),
        "(reference)",
        None,
    );
    report.time_vs_python(
        "Pool(2).map factorial vs CPython",
        parallel,
        secs(&py, "factorial_pool2"),
        "≥ 10× faster",
        |r| r >= 10.0,
    );

    // Peak RSS: 2-worker pools mapping 1,000,000 squares.
    let (threads_rss, _) = peak_rss_of(|| {
        let pool = Pool::new(2).unwrap();
        std::hint::black_box(pool.map(|x: u64| x * x, 0..1_000_000u64).unwrap());
    })?;
    // Each worker starts as a copy of its parent: its RSS counts the pages it shares
    // with the parent (copy-on-write) too. What a worker adds is its own peak (VmHWM)
    // minus its RSS when it started (noted by the pool's initializer), sampled while it
    // maps; the largest of these goes to shared memory.
    let worker_growth = Value::new(0u64)?;
    let recorder = worker_growth.clone();
    let (owner_rss, _) = peak_rss_of(move || {
        let pool = Pool::builder()
            .workers(2)
            .initializer(|| WORKER_START_KIB.store(proc_status_kib("VmRSS:"), Ordering::Relaxed))
            .build_processes()
            .unwrap();
        let squares = pool.map(
            move |x: u64| {
                if x % 4096 == 0 {
                    let grown = proc_status_kib("VmHWM:")
                        .saturating_sub(WORKER_START_KIB.load(Ordering::Relaxed));
                    let _ = recorder.update(|m| m.max(grown));
                }
                x * x
            },
            0..1_000_000u64,
        );
        std::hint::black_box(squares.unwrap());
    })?;
    let worker_own = worker_growth.get() as i64;
    let total = owner_rss + 2 * worker_own;
    let ratio = total as f64 / threads_rss as f64;
    report.row(
        "Peak RSS, map of 1,000,000 squares",
        format!(
            "{:.1} MiB owner + 2 × {:.1} MiB own per worker",
            owner_rss as f64 / 1024.0,
            worker_own as f64 / 1024.0,
        ),
        format!("{:.1} MiB (thread pool)", threads_rss as f64 / 1024.0),
        format!("{ratio:.2}× the thread pool"),
        "≤ 2×",
        Some(ratio <= 2.0),
    );

    println!("{}", report.table);
    println!("load average at end: {}", load_average());
    println!("factorial: small factors packed into a u64 before each big multiplication;");
    println!("CPython runs the course's own loop (benches/python/processes_reference.py).");
    Ok(())
}
