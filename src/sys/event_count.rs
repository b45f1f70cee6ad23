//! An event count in shared memory: how one side of a ring sleeps until the other side
//! changes something, without a system call per change while nobody sleeps.
//!
//! Two 32-bit words: `seq` (the futex word) and `sleepers` (how many wait, or are about
//! to). A waiter announces itself, then re-checks its condition, then sleeps on `seq`; a
//! notifier first publishes its change, then wakes only if it sees a sleeper.
//!
//! Why no wake-up is lost: both sides put a `SeqCst` fence between their store and their
//! load (waiter: `sleepers += 1`, fence, read the condition; notifier: write the condition,
//! fence, read `sleepers`). Two `SeqCst` fences are ordered one way or the other, so either
//! the waiter's check sees the change (it does not sleep) or the notifier sees the sleeper
//! (it bumps `seq` and wakes). A waiter that read `seq` before the bump has `FUTEX_WAIT`
//! fail at once (the kernel compares the word under the futex's lock, the same lock wake
//! takes); one that read it after the bump also sees the change, because the bump comes
//! after the notifier's fence and the waiter reads `seq` with `Acquire` before its check.
//!
//! A process killed while it sleeps here leaves `sleepers` one too high for good: every
//! later notify then pays a `FUTEX_WAKE` it did not need. Slower, never wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Instant;

use super::futex;
use super::shm::SharedRegion;

/// The event count's two words at `offset` (8 bytes) of a shared region.
#[derive(Clone, Debug)]
pub(crate) struct EventCount {
    region: Arc<SharedRegion>,
    offset: usize,
}

impl EventCount {
    /// The event count at `offset` (a multiple of 4, zeroed: nobody sleeps).
    pub(crate) fn new(region: Arc<SharedRegion>, offset: usize) -> Self {
        // Checks bounds and alignment once, here.
        let _ = region.u32_at(offset);
        let _ = region.u32_at(offset + 4);
        EventCount { region, offset }
    }

    fn seq(&self) -> &AtomicU32 {
        self.region.u32_at(self.offset)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.region.u32_at(self.offset + 4)
    }

    /// Call after publishing a change a waiter may be waiting for: wakes the waiters, if
    /// any. Costs a fence and a load when nobody sleeps.
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers().load(Ordering::Relaxed) != 0 {
            self.wake();
        }
    }

    /// Wakes every waiter, sleeping or not (for rare events such as `close`).
    pub(crate) fn notify_always(&self) {
        fence(Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        self.seq().fetch_add(1, Ordering::SeqCst);
        futex::wake_all(self.seq());
    }

    /// Sleeps until `ready()` or `deadline`: true when ready. Call it after a spin found
    /// the condition false; it checks again before sleeping (spurious wake-ups are
    /// handled here).
    pub(crate) fn wait(&self, ready: impl Fn() -> bool, deadline: Instant) -> bool {
        let sleepers = self.sleepers();
        let seq = self.seq();
        sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let found = loop {
            let s = seq.load(Ordering::Acquire);
            if ready() {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            futex::wait(seq, s, deadline - now);
        };
        sleepers.fetch_sub(1, Ordering::Relaxed);
        found
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::{EventCount, SharedRegion};

    /// Two threads take turns through the sleeping path only (no spin, no timeout to fall
    /// back on): a single lost wake-up leaves both asleep, which the bound turns into a
    /// failure.
    #[test]
    fn no_wake_up_is_lost_in_a_ping_pong() {
        const ROUNDS: u64 = 20_000;
        let region = Arc::new(SharedRegion::new(128).unwrap());
        let event = EventCount::new(region.clone(), 0);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let far = || Instant::now() + Duration::from_secs(3600);
        let side = |odd: bool| {
            let region = region.clone();
            let event = event.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let turn = region.u64_at(64);
                for round in 0..ROUNDS {
                    let mine = 2 * round + u64::from(odd);
                    assert!(event.wait(|| turn.load(Ordering::Acquire) == mine, far()));
                    turn.store(mine + 1, Ordering::Release);
                    event.notify();
                }
                done.send(()).unwrap();
            })
        };
        let a = side(false);
        let b = side(true);
        for _ in 0..2 {
            done_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("a wake-up was lost: both sides sleep");
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(region.u64_at(64).load(Ordering::Relaxed), 2 * ROUNDS);
    }
}
