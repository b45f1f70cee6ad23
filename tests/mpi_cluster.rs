//! The program that `scripts/cluster-test` runs on simulated hosts (network namespaces):
//! every rank runs `rank_program`, which picks its part from `PARALELO_MPI_SCENARIO`.
//! It prints lines that the script checks; run alone (`cargo test`), it is ignored.

use std::time::{Duration, Instant};

use paralelo::prelude::*;

/// This host's IPv4 addresses other than loopback, from `/proc/net/fib_trie`'s local
/// entries (no extra dependency for a test).
fn own_addresses() -> Vec<String> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let lines: Vec<&str> = trie.lines().collect();
    let mut found: Vec<String> = lines
        .windows(2)
        .filter(|w| w[1].contains("/32 host LOCAL"))
        .filter_map(|w| {
            w[0].trim()
                .trim_start_matches("|-- ")
                .split_whitespace()
                .next()
        })
        .filter(|a| !a.starts_with("127."))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn where_am_i(_: u32) -> (String, Vec<String>, u32) {
    std::thread::sleep(Duration::from_millis(30));
    (
        paralelo::mpi::this_host(),
        own_addresses(),
        std::process::id(),
    )
}

fn slow(x: u32) -> u32 {
    std::thread::sleep(Duration::from_millis(100));
    x
}

#[test]
#[ignore = "run by scripts/cluster-test on every rank, under mpirun across namespaces"]
fn rank_program() {
    let scenario = std::env::var("PARALELO_MPI_SCENARIO").unwrap_or_default();
    let cluster = match paralelo::mpi::init() {
        Ok(c) => c,
        Err(e) => {
            println!("INIT ERROR {:?}: {e}", e.kind());
            return;
        }
    };
    let pool = cluster.pool().unwrap();
    for r in cluster.ranks() {
        println!("RANK {} HOST {} ADDRESS {:?}", r.rank, r.host, r.address);
    }
    match scenario.as_str() {
        "hosts" => {
            let seen = pool
                .map(where_am_i, 0..(6 * pool.workers() as u32))
                .unwrap();
            let mut distinct = seen.clone();
            distinct.sort();
            distinct.dedup();
            for (host, addresses, pid) in distinct {
                println!(
                    "TASK HOST {host} ADDRESSES {} PID {pid}",
                    addresses.join(",")
                );
            }
            let expected: Vec<BigUint> = (1000..1100u32)
                .map(|n| (1..=n).map(BigUint::from).product())
                .collect();
            let got = pool
                .map(
                    |n: u32| (1..=n).map(BigUint::from).product::<BigUint>(),
                    1000..1100,
                )
                .unwrap();
            println!(
                "FACTORIALS {}",
                if got == expected { "OK" } else { "WRONG" }
            );
            let mut times = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                pool.apply(|| 1u8).unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            println!("ROUND TRIP median {:.1} us", times[100].as_secs_f64() * 1e6);
        }
        "fault" => {
            println!("MAP STARTED");
            let start = Instant::now();
            let outcome = pool.map(slow, 0..100_000);
            match outcome {
                Ok(_) => println!("NO ERROR after {:.1} s", start.elapsed().as_secs_f64()),
                Err(e) => println!(
                    "LOST after {:.1} s: {:?}: {e}",
                    start.elapsed().as_secs_f64(),
                    e.kind()
                ),
            }
        }
        other => panic!("unknown scenario {other:?}"),
    }
}
