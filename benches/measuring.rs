//! What measuring costs: `progress` on a 1,000,000-item `imap` over cheap work (target:
//! ≤ 2 % slower), on a plain iterator (the worst case: nothing else to hide the counter),
//! and busy-machine detection (two reads of `/proc/stat` per measurement).
//!
//! Run with `cargo bench --bench measuring`. It prints one table of medians and ratios,
//! measured in this run on this machine, with the load average: other programs skew every
//! ratio. Run it with standard error not a terminal (the bars then print one line each at
//! the end) or with `PARALELO_KERNEL_DISPLAY=1` (the bars then emit display markers at 10/s).

use std::hint::black_box;
use std::time::{Duration, Instant};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use paralelo::prelude::*;
use paralelo::timing::{CpuTimes, format_time};

mod common;

use common::{load_average, medians};

const ITEMS: u64 = 1_000_000;

/// Cheap work: a few multiplications.
fn cheap(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x
}

fn main() -> paralelo::Result<()> {
    let load_before = load_average();
    let pool = Pool::new(2)?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "Measurement",
        "without",
        "with",
        "with ÷ without",
        "Target",
    ]);

    let [plain_imap, imap_bar] = medians(
        4,
        3,
        [
            Box::new(|| {
                pool.imap(cheap, 0..ITEMS)
                    .expect("imap")
                    .map(|r| r.expect("task"))
                    .fold(0u64, u64::wrapping_add)
            }),
            Box::new(|| {
                pool.imap(cheap, 0..ITEMS)
                    .expect("imap")
                    .progress()
                    .total(ITEMS)
                    .desc("imap")
                    .map(|r| r.expect("task"))
                    .fold(0u64, u64::wrapping_add)
            }),
        ],
    );
    row(
        &mut table,
        "imap, 1,000,000 items, 2 threads: + .progress()",
        plain_imap,
        imap_bar,
        "≤ 1.02",
    );

    let [plain_iter, iter_bar] = medians(
        4,
        3,
        [
            Box::new(|| (0..ITEMS).map(cheap).fold(0u64, u64::wrapping_add)),
            Box::new(|| {
                progress(0..ITEMS)
                    .desc("iter")
                    .map(cheap)
                    .fold(0u64, u64::wrapping_add)
            }),
        ],
    );
    row(
        &mut table,
        "plain iterator, 1,000,000 items: + progress()",
        plain_iter,
        iter_bar,
        "(worst case)",
    );

    // Busy-machine detection: a measurement reads CpuTimes twice either way; detection adds
    // two reads of /proc/stat.
    let reads = 2_000;
    let start = Instant::now();
    for _ in 0..reads {
        black_box(std::fs::read_to_string("/proc/stat").ok());
    }
    let stat_read = start.elapsed() / reads;
    let start = Instant::now();
    for _ in 0..reads {
        black_box(CpuTimes::now());
    }
    let cpu_read = start.elapsed() / reads;
    let start = Instant::now();
    for _ in 0..reads {
        black_box(measure(|| ()));
    }
    let whole = start.elapsed() / reads;
    table.add_row(vec![
        "measure(|| ()): CpuTimes × 2, then + /proc/stat × 2".to_owned(),
        format_time(cpu_read * 2),
        format_time(whole),
        format!("+{}", format_time(stat_read * 2)),
        "—".to_owned(),
    ]);
    let row_time = Duration::from_millis(200);
    table.add_row(vec![
        "busy detection on a 0.2 s table row (≥ 1 run)".to_owned(),
        format_time(row_time),
        format_time(row_time + stat_read * 2),
        format!(
            "{:.5}",
            1.0 + (stat_read * 2).as_secs_f64() / row_time.as_secs_f64()
        ),
        "≤ 1.02".to_owned(),
    ]);
    for column in table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    println!(
        "Measuring overhead, medians of 12 runs each (load average before: {load_before}, after: {})",
        load_average()
    );
    println!("{table}");
    Ok(())
}

fn row(table: &mut Table, what: &str, without: Duration, with: Duration, target: &str) {
    table.add_row(vec![
        what.to_owned(),
        format_time(without),
        format_time(with),
        format!("{:.3}", with.as_secs_f64() / without.as_secs_f64()),
        target.to_owned(),
    ]);
}
