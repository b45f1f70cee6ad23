//! A short tour of `paralelo` on the course's examples, printing a timing table.
//!
//! `cargo run --release --example tour`

use std::time::Duration;

use paralelo::prelude::*;

fn square(x: u64) -> u64 {
    x * x
}

fn multiply(a: i32, b: i32) -> i32 {
    a * b
}

/// The course's factorial (document 003), on big integers.
fn factorial(x: u64) -> BigUint {
    let mut f = BigUint::from(1u32);
    for i in 1..=x {
        f *= i;
    }
    f
}

fn main() -> paralelo::Result<()> {
    println!("{} ({} CPUs)", current_process().name(), cpu_count());

    let pool = Pool::new(4)?;
    println!(
        "S1-5  Pool(4).map(square, 0..10) = {:?}",
        pool.map(square, 0..10)?
    );
    println!(
        "S1-6  Pool(4).starmap(multiply, …) = {:?}",
        pool.starmap(multiply, vec![(1, 2), (3, 4), (5, 6), (7, 8)])?
    );
    let v = pool.apply_async(|| {
        std::thread::sleep(Duration::from_millis(200));
        5 * 5
    })?;
    println!("S3-19 apply_async(…).get() = {}", v.get()?);

    println!("\nS3-3, S3-4, S3-11: factorial of 1000..2000");
    let mut table = TimingTable::new("factorial(1000..2000)");
    table.reference_label("Python (documento)");
    let sequential = table
        .row("un hilo")
        .reference_secs(0.3721)
        .measure(|| (1000..2000u64).map(factorial).collect::<Vec<_>>());
    let threads = Pool::new(2)?;
    let parallel = table
        .row("Pool(2).map, hilos")
        .workers(2)
        .reference_secs(0.2990)
        .measure(|| threads.map(factorial, 1000..2000u64))?;
    let everywhere = table
        .row("par_map")
        .workers(cpu_count())
        .measure(|| par_map(factorial, 1000..2000u64))?;
    assert!(
        sequential == parallel && parallel == everywhere,
        "S3-5: the results differ"
    );
    println!("{table}");
    println!("S3-5  los resultados coinciden elemento a elemento");

    println!("\n%%time of par_map over 1..=1,000,000 (S2-3):");
    let resultados = time(|| par_map(|x: u64| x * x, 1..=1_000_000u64))?;
    println!("resultados[..5] = {:?}", &resultados[..5]);
    Ok(())
}
