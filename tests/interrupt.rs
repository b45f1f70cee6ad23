//! Interrupts (the stop button, Ctrl-C) stop parallel work between items, as an error.
//!
//! An interrupt reaches every operation of the process, so these tests take turns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use paralelo::prelude::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `work` (which must call the `started` callback once it is under way) while another
/// thread fires `interrupt` as soon as the work has started.
fn interrupted<R>(fire: fn(), work: impl FnOnce(Arc<AtomicBool>) -> R) -> R {
    let started = Arc::new(AtomicBool::new(false));
    let seen = started.clone();
    let stopper = std::thread::spawn(move || {
        while !seen.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        fire();
    });
    let value = work(started);
    stopper.join().unwrap();
    value
}

fn slow(started: &AtomicBool, x: u64) -> u64 {
    started.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1));
    x
}

#[test]
fn par_map_stops_with_an_interrupted_error_and_the_next_call_runs() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let result = interrupted(paralelo::interrupt::interrupt, |started| {
        par_map(|x| slow(&started, x), 0..1_000_000u64)
    });
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert_eq!(par_map(|x: u64| x + 1, 0..3u64).unwrap(), [1, 2, 3]);
}

/// `0..len` in parallel, but an interrupt comes once the work is handed to rayon, before any
/// item is taken: the moment when a stop button press finds no job under way.
struct InterruptedBeforeTheFirstItem(u64);

impl rayon::iter::ParallelIterator for InterruptedBeforeTheFirstItem {
    type Item = u64;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: rayon::iter::plumbing::UnindexedConsumer<u64>,
    {
        paralelo::interrupt::interrupt();
        rayon::iter::IntoParallelIterator::into_par_iter(0..self.0).drive_unindexed(consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        usize::try_from(self.0).ok()
    }
}

#[test]
fn an_interrupt_before_any_item_is_an_interrupted_error_too() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let err = par_map(|x| x, InterruptedBeforeTheFirstItem(1000)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
    let err = par_for_each(drop, InterruptedBeforeTheFirstItem(1000)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
}

#[test]
fn pool_map_and_imap_stop_too() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let pool = Pool::new(2).unwrap();
    let result = interrupted(paralelo::interrupt::interrupt, |started| {
        pool.map(|x| slow(&started, x), 0..1_000_000u64)
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Interrupted);

    let results: Vec<Result<u64>> = interrupted(paralelo::interrupt::interrupt, |started| {
        let s = started.clone();
        pool.imap(move |x| slow(&s, x), 0..1_000_000u64)
            .unwrap()
            .take_while(|r| r.is_ok())
            .collect()
    });
    assert!(results.len() < 1_000_000);
    assert_eq!(pool.map(|x: u64| x * 2, 0..3u64).unwrap(), [0, 2, 4]);
}

#[test]
fn queued_tasks_are_skipped_after_an_interrupt() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let pool = Pool::new(1).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let busy = pool
        .apply_async(move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap()
        })
        .unwrap();
    started.recv().unwrap();
    let queued = pool.apply_async(|| 5).unwrap();
    paralelo::interrupt::interrupt();
    release.send(()).unwrap();
    busy.get().unwrap(); // it was running: it finishes
    assert_eq!(queued.get().unwrap_err().kind(), ErrorKind::Interrupted);
    assert_eq!(pool.apply_async(|| 6).unwrap().get().unwrap(), 6);
}

#[test]
fn sigint_becomes_an_interrupt_instead_of_killing_the_process() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    paralelo::interrupt::on_sigint().unwrap();
    paralelo::interrupt::on_sigint().unwrap(); // idempotent
    fn send_sigint() {
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGINT).unwrap();
    }
    let result = interrupted(send_sigint, |started| {
        par_map(|x| slow(&started, x), 0..1_000_000u64)
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Interrupted);
}
