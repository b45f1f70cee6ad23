//! What the benchmarks share: the course's workloads, the timing method and the load average.

// Each bench target includes this module and uses only part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use num_bigint::BigUint;

/// The course's factorial loop (document 003), on big integers: one big × small
/// multiplication per factor.
pub(crate) fn factorial_naive(x: u64) -> BigUint {
    let mut f = BigUint::from(1u32);
    for i in 1..=x {
        f *= i;
    }
    f
}

/// The same product, with small factors first multiplied together in a `u64` while they
/// fit, so the big integer is multiplied about five times less often.
pub(crate) fn factorial(x: u64) -> BigUint {
    let mut f = BigUint::from(1u32);
    let mut packed: u64 = 1;
    for i in 1..=x {
        match packed.checked_mul(i) {
            Some(p) => packed = p,
            None => {
                f *= packed;
                packed = i;
            }
        }
    }
    f * packed
}

/// The 1-, 5- and 15-minute load averages: other work on the machine skews every ratio.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Median wall times of each variant, measured in blocks that take turns (a a a, b b b,
/// c c c, a a a, …) so that a machine that slows down mid-run skews every variant alike.
/// Each block starts after a pause and an untimed run: the pause lets the previous
/// variant's pool threads, which spin a while after their work, fall asleep instead of
/// competing for the 2 CPUs, and the first run warms the next variant's pool. Blocks of
/// one run (variants on the same pool) alternate without pause or warm-up.
pub(crate) fn medians<R, const N: usize>(
    blocks: usize,
    per_block: usize,
    mut work: [Box<dyn FnMut() -> R + '_>; N],
) -> [Duration; N] {
    let mut runs = [(); N].map(|()| Vec::with_capacity(blocks * per_block));
    for _ in 0..blocks {
        for (variant, runs) in work.iter_mut().zip(&mut runs) {
            if per_block > 1 {
                std::thread::sleep(Duration::from_millis(20));
                drop(std::hint::black_box(variant()));
            }
            for _ in 0..per_block {
                let start = Instant::now();
                let out = variant();
                runs.push(start.elapsed());
                drop(std::hint::black_box(out));
            }
        }
    }
    runs.map(|mut runs| {
        runs.sort();
        runs[runs.len() / 2]
    })
}
