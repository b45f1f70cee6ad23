//! What the timing helpers print, to the character, and what they return.

use std::time::Duration;

use paralelo::prelude::*;
use paralelo::timing::{CpuTimes, MachineLoad, format_time};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn measurement_prints_ipythons_time_lines() {
    let m = Measurement {
        wall: ms(640),
        cpu: CpuTimes {
            user: Duration::from_micros(1_210_000),
            system: Duration::from_micros(8_200),
            ..Default::default()
        },
        machine: None,
    };
    // IPython's two lines, unchanged, then ours: CPU ÷ wall.
    assert_eq!(
        m.to_string(),
        "CPU times: user 1.21 s, sys: 8.2 ms, total: 1.22 s\nWall time: 640 ms\n\
         CPUs busy on average: 1.90 (CPU time ÷ wall time, child processes included)\n"
    );
}

#[test]
fn a_busy_machine_gets_a_note_under_the_time_lines() {
    let m = Measurement {
        wall: ms(1000),
        cpu: CpuTimes {
            user: ms(900),
            ..Default::default()
        },
        // 2 CPUs for 1 s; 1.86 s busy, 0.9 s of it ours: others took 48 %.
        machine: Some(MachineLoad {
            busy: ms(1860),
            capacity: ms(2000),
        }),
    };
    assert_eq!(m.busy_share(), Some(0.48));
    let text = m.to_string();
    assert!(
        text.ends_with(
            "Wall time: 1 s\nCPUs busy on average: 0.90 (CPU time ÷ wall time, child processes included)\n\
             Busy machine: other programs used 48 % of the CPUs meanwhile; times are longer than on an idle machine.\n"
        ),
        "{text}"
    );
    // An idle machine's few % say nothing.
    let idle = Measurement {
        machine: Some(MachineLoad {
            busy: ms(960),
            capacity: ms(2000),
        }),
        ..m
    };
    assert_eq!(idle.busy_share(), None);
    assert!(!idle.to_string().contains("Busy"));
}

#[test]
fn tiny_measurements_have_no_average_line() {
    let m = Measurement {
        wall: Duration::from_micros(3),
        ..Default::default()
    };
    assert_eq!(
        m.to_string(),
        "CPU times: user 0 ns, sys: 0 ns, total: 0 ns\nWall time: 3 µs\n"
    );
}

#[test]
fn child_process_cpu_gets_its_own_line() {
    let m = Measurement {
        wall: ms(500),
        cpu: CpuTimes {
            user: ms(1),
            system: ms(2),
            children_user: ms(900),
            children_system: ms(10),
        },
        machine: None,
    };
    assert_eq!(
        m.to_string(),
        "CPU times: user 1 ms, sys: 2 ms, total: 3 ms\n\
         CPU times (child processes): user 900 ms, sys: 10 ms, total: 910 ms\n\
         Wall time: 500 ms\n\
         CPUs busy on average: 1.83 (CPU time ÷ wall time, child processes included)\n"
    );
}

#[test]
fn parallel_work_shows_cpu_of_every_thread() {
    // Busy work on two threads: CPU time counts both (it is the whole process's).
    let ((), m) = measure(|| {
        let spin = || {
            let start = std::time::Instant::now();
            while start.elapsed() < ms(100) {
                std::hint::black_box(0);
            }
        };
        std::thread::scope(|s| {
            s.spawn(spin);
            s.spawn(spin);
        });
    });
    assert!(m.wall >= ms(100));
    assert!(m.cpu.own() > Duration::ZERO);
}

#[test]
fn time_returns_the_value() {
    assert_eq!(time(|| 6 * 7), 42);
}

#[test]
fn timeit_with_fixed_loops_runs_exactly_that_many() {
    let mut calls = 0u64;
    let opts = TimeitOptions {
        loops: Some(25),
        repeat: 4,
        quiet: true,
        ..Default::default()
    };
    let r = timeit_with(&opts, || calls += 1);
    assert_eq!(calls, 100);
    assert_eq!((r.loops, r.repeat, r.all_runs.len()), (25, 4, 4));
}

#[test]
fn timeit_grows_loops_tenfold_until_a_run_takes_a_fifth_of_a_second() {
    let opts = TimeitOptions {
        repeat: 2,
        quiet: true,
        ..Default::default()
    };
    let r = timeit_with(&opts, || std::thread::sleep(ms(30)));
    // 1 loop of ≥ 30 ms is under 0.2 s unless the machine stalled; 10 loops are ≥ 0.3 s.
    assert!(r.loops == 10 || r.loops == 1, "loops = {}", r.loops);
    assert!(r.all_runs.iter().all(|run| *run >= ms(30) * r.loops as u32));
    assert!(
        r.to_string()
            .contains("per loop (mean ± std. dev. of 2 runs")
    );
}

#[test]
fn timer_is_the_documents_temporizador() {
    let mut temp = Temporizador::start();
    std::thread::sleep(ms(20));
    let m = temp.stop();
    std::thread::sleep(ms(20));
    assert_eq!(temp.elapsed(), m.wall, "a stopped timer is frozen");
    assert!(temp.ver_tiempo() >= 0.020);
    let (v, t) = Timer::run(|| "hecho");
    assert_eq!(v, "hecho");
    assert!(t.secs() >= 0.0);
}

#[test]
fn format_time_uses_ipythons_units() {
    assert_eq!(format_time(Duration::from_secs_f64(0.3721)), "372 ms");
    assert_eq!(format_time(Duration::from_secs_f64(5.0057)), "5.01 s");
    assert_eq!(format_time(Duration::from_secs_f64(90.659429)), "1min 30s");
    assert_eq!(format_time(Duration::from_nanos(250)), "250 ns");
}
