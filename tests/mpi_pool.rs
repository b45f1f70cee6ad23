//! The MPI pool under `mpirun -n 2` and `-n 4` on this machine: the method set, panics,
//! large values, a rank that dies mid-map, mismatched executables, and one rank alone.
//! Each case runs this test binary under `mpirun` with a deadline (killed if it hangs),
//! and checks that no process of the run is left afterwards.

mod mpi_util;

use std::time::{Duration, Instant};

use mpi_util::{SCENARIO, mpirun, rank_args, run};
use paralelo::mpi::Mpi;
use paralelo::prelude::*;

const LIMIT: Duration = Duration::from_secs(90);

fn factorial(n: u32) -> BigUint {
    (1..=n).map(BigUint::from).product()
}

fn checked_kind(r: Result<u8>, kind: ErrorKind) -> Error {
    let e = r.expect_err("an error");
    assert_eq!(e.kind(), kind, "{e}");
    e
}

/// Every method of the pool, as the other backends' tests use it.
fn method_set(cluster: &paralelo::mpi::Cluster, pool: &Pool<Mpi>) {
    let expected: Vec<BigUint> = (100..160).map(factorial).collect();
    assert_eq!(pool.map(factorial, 100..160).unwrap(), expected);
    assert_eq!(
        pool.map(|x: u64| x * x, Vec::new()).unwrap(),
        Vec::<u64>::new()
    );
    fn multiply(a: i64, b: i64) -> i64 {
        a * b
    }
    assert_eq!(
        pool.starmap(multiply, vec![(1, 2), (3, 4), (5, 6)])
            .unwrap(),
        [2, 12, 30]
    );
    assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42);
    let later: Vec<_> = (0..10u64)
        .map(|_| pool.apply_async(std::process::id).unwrap())
        .collect();
    let pids: Vec<u32> = later.into_iter().map(|r| r.get().unwrap()).collect();
    assert!(
        pids.iter().all(|&p| p != std::process::id()),
        "tasks ran on rank 0"
    );
    let async_map = pool.map_async(|x: u32| x + 1, vec![1, 2, 3]).unwrap();
    assert_eq!(async_map.get().unwrap(), [2, 3, 4]);
    let ordered: Vec<u64> = pool
        .imap(|x: u64| x * 3, 0..)
        .unwrap()
        .take(20)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(ordered, (0..20).map(|x| x * 3).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .imap_unordered(|x: u64| x + 100, 0..25)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    unordered.sort();
    assert_eq!(unordered, (100..125).collect::<Vec<_>>());

    // Every worker rank took part in a map whose tasks last a while.
    let hosts_pids = pool
        .map(
            |_: u32| {
                std::thread::sleep(Duration::from_millis(20));
                std::process::id()
            },
            0..(8 * pool.workers() as u32),
        )
        .unwrap();
    let mut distinct = hosts_pids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        cluster.size() - 1,
        "some rank never got a chunk"
    );

    // A panic fails that task only; the pool goes on.
    let e = checked_kind(
        pool.apply(|| -> u8 { panic!("división por cero") }),
        ErrorKind::TaskPanicked,
    );
    assert!(
        e.to_string().contains("división por cero") && e.to_string().contains("rank"),
        "{e}"
    );
    let e = pool
        .map(|x: u32| if x == 7 { panic!("el siete") } else { x }, 0..40)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskPanicked);
    assert!(e.to_string().contains("el siete"), "{e}");
    let r = pool
        .apply_async(|| -> u8 { panic!("en segundo plano") })
        .unwrap();
    assert_eq!(r.get().unwrap_err().kind(), ErrorKind::TaskPanicked);
    assert_eq!(pool.apply(|| 1 + 1).unwrap(), 2);

    // Large values cross in parts: 24 MiB out and back.
    let big: Vec<u64> = pool.apply(|| (0..3_000_000u64).collect()).unwrap();
    assert_eq!(big.len(), 3_000_000);
    assert_eq!(big[2_999_999], 2_999_999);
    let sums = pool
        .map(|v: Vec<u64>| v.iter().sum::<u64>(), vec![big.clone(), big])
        .unwrap();
    assert_eq!(sums, [4_499_998_500_000, 4_499_998_500_000]);

    // Lifecycle: terminate fails what has not finished, close refuses new work.
    let other = cluster.pool().unwrap();
    let slow = other
        .apply_async(|| std::thread::sleep(Duration::from_secs(2)))
        .unwrap();
    assert!(other.join().is_err(), "join before close must be refused");
    assert!(other.terminate() >= 1);
    assert_eq!(slow.get().unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(
        other.apply(|| 1u8).unwrap_err().kind(),
        ErrorKind::PoolTerminated
    );
    other.join().unwrap();
    let closing = cluster.pool().unwrap();
    let r = closing.apply_async(|| 5u8).unwrap();
    closing.close();
    closing.join().unwrap();
    assert_eq!(r.get().unwrap(), 5);
    assert_eq!(
        closing.apply(|| 1u8).unwrap_err().kind(),
        ErrorKind::PoolClosed
    );
}

/// The program every rank runs, picked by the scenario's name.
#[test]
#[ignore = "run on every rank by the tests below, under mpirun"]
fn rank_program() {
    let scenario = std::env::var(SCENARIO).unwrap_or_default();
    let cluster = match paralelo::mpi::init() {
        Ok(c) => c,
        Err(e) => {
            println!("INIT ERROR {:?}: {e}", e.kind());
            return;
        }
    };
    let pool = cluster.pool().unwrap();
    let hosts: Vec<&str> = cluster.ranks().iter().map(|r| r.host.as_str()).collect();
    println!("SIZE {} HOSTS {hosts:?}", cluster.size());
    match scenario.as_str() {
        "methods" => {
            method_set(&cluster, &pool);
            println!("SCENARIO OK");
        }
        "one-rank" => {
            assert_eq!(cluster.size(), 1);
            assert_eq!(pool.workers(), 1);
            assert_eq!(pool.apply(std::process::id).unwrap(), std::process::id());
            assert_eq!(pool.map(|x: u32| x * 2, 0..4).unwrap(), [0, 2, 4, 6]);
            let e = pool.apply(|| -> u8 { panic!("solo") }).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TaskPanicked);
            assert_eq!(
                pool.map_async(|x: u8| x, vec![1]).unwrap().get().unwrap(),
                [1]
            );
            let v: Vec<u8> = pool
                .imap(|x: u8| x + 1, 0..3)
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(v, [1, 2, 3]);
            println!("SCENARIO OK");
        }
        "rank-dies" => {
            let start = Instant::now();
            // Rank 1's process aborts in the middle of a map whose tasks take a while.
            let e = pool
                .map(
                    |x: u32| {
                        std::thread::sleep(Duration::from_millis(50));
                        if x == 10 {
                            std::process::abort();
                        }
                        x
                    },
                    0..200,
                )
                .unwrap_err();
            println!(
                "LOST after {:.1} s: {:?}: {e}",
                start.elapsed().as_secs_f64(),
                e.kind()
            );
            let again = pool.apply(|| 1u8);
            println!("AFTER {:?}", again.map_err(|e| e.kind()));
            // Dropping the cluster ends the job with MPI_Abort.
        }
        "measured" => {
            // Each task burns 200 ms of its rank's CPU; rank 0 must count the ranks on its
            // machine as its own work, not as other programs' load.
            fn burn(x: u32) -> u32 {
                let start = paralelo::timing::CpuTimes::now().own();
                while paralelo::timing::CpuTimes::now().own() - start < Duration::from_millis(200) {
                    std::hint::black_box(x);
                }
                x
            }
            let before = paralelo::timing::CpuTimes::now();
            assert_eq!(pool.map(burn, 0..4).unwrap(), [0, 1, 2, 3]);
            let used = paralelo::timing::CpuTimes::now().since(&before);
            println!("RANKS CPU {:.3}", used.children().as_secs_f64());
            println!("SCENARIO OK");
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

fn exe() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

fn skip() -> bool {
    if !mpi_util::have_mpirun() {
        eprintln!("skipped: no mpirun (bash scripts/mpi-setup installs Open MPI)");
        return true;
    }
    false
}

#[test]
fn every_method_on_2_and_4_ranks() {
    if skip() {
        return;
    }
    for n in [2, 4] {
        let run = run(&mpirun(n, &exe(), "rank_program"), "methods", LIMIT);
        assert!(
            run.stdout.contains("SCENARIO OK"),
            "{n} ranks:\n{}",
            run.show()
        );
        assert!(run.stdout.contains(&format!("SIZE {n} ")), "{}", run.show());
        assert_eq!(run.status, Some(0), "{}", run.show());
        assert!(run.left.is_empty(), "processes left: {:?}", run.left);
    }
}

#[test]
fn rank_0_counts_the_cpu_of_the_ranks_on_its_machine() {
    if skip() {
        return;
    }
    let run = run(&mpirun(3, &exe(), "rank_program"), "measured", LIMIT);
    assert!(run.stdout.contains("SCENARIO OK"), "{}", run.show());
    let cpu: f64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("RANKS CPU "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RANKS CPU line:\n{}", run.show()));
    // Four tasks of 200 ms each ran on ranks 1 and 2, on this machine.
    assert!(
        cpu >= 0.7,
        "rank 0 counted {cpu} s of its ranks' CPU, not 0.8 s"
    );
    assert!(run.left.is_empty(), "processes left: {:?}", run.left);
}

#[test]
fn a_rank_that_dies_fails_the_map_naming_it_and_ends_the_job() {
    if skip() {
        return;
    }
    let run = run(&mpirun(3, &exe(), "rank_program"), "rank-dies", LIMIT);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("LOST"))
        .unwrap_or_else(|| panic!("rank 0 got no error:\n{}", run.show()));
    assert!(line.contains("WorkerDied"), "{line}");
    assert!(
        line.contains("rank ") && line.contains("on host "),
        "{line}"
    );
    // The ranks left go on serving until rank 0 is done.
    assert!(run.stdout.contains("AFTER Ok(1)"), "{}", run.show());
    // (mpirun exits with status 0 after an MPI_Abort when recovery is on: not checked.)
    assert!(
        run.stderr.contains("ending the job with MPI_Abort"),
        "{}",
        run.show()
    );
    assert!(run.left.is_empty(), "processes left: {:?}", run.left);
}

#[test]
fn mismatched_executables_are_refused_at_init() {
    if skip() {
        return;
    }
    let copy = std::env::temp_dir().join(format!("paralelo-mpi-other-{}", std::process::id()));
    let mut bytes = std::fs::read(exe()).unwrap();
    bytes.extend_from_slice(b"another build");
    std::fs::write(&copy, bytes).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut program = mpirun(1, &exe(), "rank_program");
    program.push(":".into());
    program.extend(["-n".to_string(), "1".to_string()]);
    program.extend(rank_args(&copy.display().to_string(), "rank_program"));
    let run = run(&program, "methods", LIMIT);
    let _ = std::fs::remove_file(&copy);
    assert!(
        run.stdout.contains("INIT ERROR InvalidState"),
        "{}",
        run.show()
    );
    assert!(
        run.stdout.contains("do not run the same executable"),
        "{}",
        run.show()
    );
    assert!(run.stdout.contains("rank 1 on host"), "{}", run.show());
    assert!(!run.stdout.contains("SCENARIO OK"), "{}", run.show());
    assert!(run.left.is_empty(), "processes left: {:?}", run.left);
}

#[test]
fn without_mpirun_one_rank_runs_everything_on_rank_0() {
    if skip() {
        return;
    }
    let run = run(&rank_args(&exe(), "rank_program"), "one-rank", LIMIT);
    assert!(run.stdout.contains("SCENARIO OK"), "{}", run.show());
    assert!(run.stdout.contains("SIZE 1 "), "{}", run.show());
    assert!(run.left.is_empty(), "processes left: {:?}", run.left);
}
