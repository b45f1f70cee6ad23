//! A mutex, a condition variable and a few counters in shared memory: the common core of
//! `Semaphore`, `Event` and `Barrier`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::Result;
use crate::sys::{RawCondvar, RawMutex, SharedRegion};

const FIELDS: usize = 128;

/// How long a wait sleeps before looking for an interrupt.
const SLICE: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
pub(crate) struct Monitor {
    region: Arc<SharedRegion>,
    mutex: RawMutex,
    cond: RawCondvar,
}

/// The monitor's mutex, held; released on drop.
pub(crate) struct Held<'a>(&'a Monitor);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.mutex.unlock();
    }
}

impl Monitor {
    pub(crate) fn new(initial: &[u64]) -> Result<Self> {
        let region = Arc::new(SharedRegion::new(FIELDS + 8 * initial.len())?);
        for (i, v) in initial.iter().enumerate() {
            region.u64_at(FIELDS + 8 * i).store(*v, Relaxed);
        }
        Ok(Monitor {
            mutex: RawMutex::init(region.clone(), 0, false)?,
            cond: RawCondvar::init(region.clone(), 64)?,
            region,
        })
    }

    pub(crate) fn lock(&self) -> Result<Held<'_>> {
        self.mutex.lock(None)?;
        Ok(Held(self))
    }

    fn field(&self, i: usize) -> &AtomicU64 {
        self.region.u64_at(FIELDS + 8 * i)
    }

    /// Reads counter `i` (hold the lock for a consistent view).
    pub(crate) fn get(&self, _held: &Held<'_>, i: usize) -> u64 {
        self.field(i).load(Relaxed)
    }

    /// Reads counter `i` without the lock: a snapshot.
    pub(crate) fn peek(&self, i: usize) -> u64 {
        self.field(i).load(Relaxed)
    }

    pub(crate) fn set(&self, _held: &Held<'_>, i: usize, v: u64) {
        self.field(i).store(v, Relaxed);
    }

    /// Waits for a notification until `deadline`. True when the deadline passed.
    ///
    /// The wait is cut in slices so that an interrupt after `epoch` (the notebook's stop
    /// button, see [`crate::interrupt`]) ends it with an `Interrupted` error; between
    /// slices it returns `Ok(false)` like a spurious wake-up, and callers check again.
    pub(crate) fn wait(
        &self,
        _held: &Held<'_>,
        deadline: Option<Instant>,
        epoch: u64,
    ) -> Result<bool> {
        let slice = Instant::now() + SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        if !self.cond.wait(&self.mutex, Some(until))? {
            return Ok(false);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(true);
        }
        if crate::interrupt::happened_since(epoch) {
            return Err(crate::interrupt::error());
        }
        Ok(false)
    }

    pub(crate) fn notify_all(&self) {
        self.cond.notify_all();
    }
}
