//! Synchronisation between processes (and threads): [`Lock`], [`RLock`], [`Semaphore`],
//! [`Event`], [`Barrier`], all in shared memory mapped before `fork`.

mod barrier;
mod event;
mod lock;
mod monitor;
mod rlock;
mod semaphore;

pub use barrier::Barrier;
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
