//! What both benchmarks share: the course's workloads and the machine's load.

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
