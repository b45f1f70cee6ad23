//! The shared-memory mailbox between a pool and one persistent worker process.
//!
//! One `MAP_SHARED` region per worker, mapped before the worker is forked: a state word
//! (the futex both sides wait on), the posted call's address, and the result's bytes. A
//! result bigger than the inline buffer travels in parts, each acknowledged by the pool.
//! Both sides spin briefly, then sleep on the futex with a timeout, so an idle worker
//! costs no CPU and a waiting side can check on the other (is the worker alive? is the
//! pool's process?).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::futex;
use super::loaded::LoadedCode;
use super::shm::SharedRegion;
use super::zst_call::{PostedCall, Trampoline};
use crate::Result;

/// Mailbox states.
const IDLE: u32 = 0;
/// The pool posted a call.
const TASK: u32 = 1;
/// The worker wrote a part of a result; more follows once the pool says `MORE`.
const PART: u32 = 2;
/// The pool took the part.
const MORE: u32 = 3;
/// The worker wrote the (last part of the) result.
const DONE: u32 = 4;
/// The worker is to leave.
const STOP: u32 = 5;

const STATE: usize = 0;
const SLEEPERS: usize = 4;
const ADDR: usize = 8;
const TAG: usize = 16;
const PART_LEN: usize = 24;
const DATA: usize = 64;
/// The region's size; results up to `SIZE - DATA` bytes go in one piece.
const SIZE: usize = 64 * 1024;
const CAPACITY: usize = SIZE - DATA;

/// Spins before the waiting side starts yielding its CPU at each check.
const PURE_SPINS: u32 = 256;
/// How long the worker spins for its next call before sleeping.
const WORKER_SPIN: Duration = Duration::from_micros(50);
/// How long the worker sleeps at a time before checking that its parent lives.
const WORKER_NAP: Duration = Duration::from_secs(1);

/// One worker's mailbox, with the code that was loaded when it was made (the worker is
/// forked right after, so it has at least that code).
#[derive(Debug)]
pub(crate) struct TaskSlot {
    region: SharedRegion,
    code: LoadedCode,
}

impl TaskSlot {
    /// A fresh mailbox. Fork the worker right after: the snapshot of loaded code is now.
    pub(crate) fn new() -> Result<Self> {
        Ok(TaskSlot {
            region: SharedRegion::new(SIZE)?,
            code: LoadedCode::now(),
        })
    }

    fn state(&self) -> &AtomicU32 {
        self.region.u32_at(STATE)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.region.u32_at(SLEEPERS)
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        self.region.u64_at(offset)
    }

    /// True when the worker has the code at `addr`.
    pub(crate) fn can_run(&self, addr: usize) -> bool {
        self.code.contains(addr)
    }

    fn set_state(&self, state: u32) {
        // SeqCst pairs with the waiter's SeqCst increment of `sleepers` then load of
        // `state`: either the waiter sees the new state or this side sees the sleeper.
        self.state().store(state, Ordering::SeqCst);
        if self.sleepers().load(Ordering::SeqCst) > 0 {
            futex::wake_all(self.state());
        }
    }

    /// Waits until `done(state)`: spins for `spin`, then sleeps on the futex until
    /// `deadline`. The state that satisfied `done`, or `None` at the deadline.
    fn wait_for(
        &self,
        done: impl Fn(u32) -> bool,
        spin: Duration,
        deadline: Instant,
    ) -> Option<u32> {
        let state = self.state();
        let start = Instant::now();
        let mut i = 0u32;
        loop {
            let s = state.load(Ordering::Acquire);
            if done(s) {
                return Some(s);
            }
            i = i.wrapping_add(1);
            if i % 16 == 0 && start.elapsed() >= spin {
                break;
            }
            if i < PURE_SPINS {
                std::hint::spin_loop();
            } else {
                // The other side may be waiting for this very CPU (a busy machine, or one
                // core): let it run rather than burn the rest of the window.
                std::thread::yield_now();
            }
        }
        self.sleepers().fetch_add(1, Ordering::SeqCst);
        let found = loop {
            let s = state.load(Ordering::SeqCst);
            if done(s) {
                break Some(s);
            }
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            futex::wait(state, s, deadline - now);
        };
        self.sleepers().fetch_sub(1, Ordering::SeqCst);
        found
    }

    // ----- the pool's side -----

    /// Posts `call` to the worker. False (nothing posted) when the worker does not have
    /// the call's code.
    pub(crate) fn post(&self, call: PostedCall) -> bool {
        if !self.code.contains(call.addr) {
            return false;
        }
        self.word(ADDR).store(call.addr as u64, Ordering::Relaxed);
        self.set_state(TASK);
        true
    }

    /// Waits for the posted call's result, spinning for `spin` first and giving up at
    /// `deadline`; appends its bytes to `out` and returns its tag. Parts of a big result
    /// are taken (and acknowledged) as they come, so call again after `None` with the
    /// same `out`.
    pub(crate) fn wait_result(
        &self,
        out: &mut Vec<u8>,
        spin: Duration,
        deadline: Instant,
    ) -> Option<u8> {
        loop {
            let s = self.wait_for(|s| s == PART || s == DONE, spin, deadline)?;
            let len = (self.word(PART_LEN).load(Ordering::Relaxed) as usize).min(CAPACITY);
            let start = out.len();
            out.resize(start + len, 0);
            self.region.read_bytes(DATA, &mut out[start..]);
            if s == DONE {
                self.set_state(IDLE);
                return Some(self.word(TAG).load(Ordering::Relaxed) as u8);
            }
            self.set_state(MORE);
        }
    }

    /// Asks the worker to leave (it does between calls).
    pub(crate) fn stop(&self) {
        self.set_state(STOP);
    }

    // ----- the worker's side -----

    /// The worker's loop: runs posted calls until told to stop or until `parent` (the
    /// pool's process) is gone. Returns the worker's exit code.
    pub(crate) fn serve(&self, parent: u32) -> i32 {
        let mut out = Vec::new();
        loop {
            let s = match self.worker_wait(parent, |s| s == TASK || s == STOP) {
                Some(s) => s,
                None => return 1, // orphaned
            };
            if s == STOP {
                return 0;
            }
            let addr = self.word(ADDR).load(Ordering::Relaxed) as usize;
            // SAFETY: only `post` writes ADDR, and only the address of a `ZstCall`
            // trampoline (a `Trampoline`) whose code was loaded when this process was
            // forked and is still loaded (`LoadedCode::contains`, checked by `post`).
            let call: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(addr) };
            out.clear();
            let tag = call(&mut out);
            super::fork::flush_output();
            self.word(TAG).store(tag as u64, Ordering::Relaxed);
            let mut sent = 0;
            loop {
                let n = (out.len() - sent).min(CAPACITY);
                self.region.write_bytes(DATA, &out[sent..sent + n]);
                self.word(PART_LEN).store(n as u64, Ordering::Relaxed);
                sent += n;
                if sent == out.len() {
                    self.set_state(DONE);
                    break;
                }
                self.set_state(PART);
                match self.worker_wait(parent, |s| s == MORE || s == STOP) {
                    Some(MORE) => {}
                    Some(_) => return 0,
                    None => return 1,
                }
            }
            if out.capacity() > 4 * SIZE {
                out = Vec::new(); // do not keep a big result's buffer for ever
            }
        }
    }

    /// Waits (spin, then naps) until `done`; `None` when the parent is gone.
    fn worker_wait(&self, parent: u32, done: impl Fn(u32) -> bool + Copy) -> Option<u32> {
        let mut spin = WORKER_SPIN;
        loop {
            if let Some(s) = self.wait_for(done, spin, Instant::now() + WORKER_NAP) {
                return Some(s);
            }
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return None;
            }
            spin = Duration::ZERO;
        }
    }
}
