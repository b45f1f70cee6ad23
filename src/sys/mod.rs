//! The one home of `unsafe` OS code: `fork`, `waitpid`, signals, CPU affinity, shared
//! memory, process-shared mutexes, futexes, and calling a stateless closure by address in
//! a persistent worker.
//!
//! Everything outside this module is safe code built on these few wrappers. Each `unsafe`
//! block says why it is sound in a `// SAFETY:` comment.
//!
//! # Fork pitfalls these wrappers handle
//!
//! - `fork` copies only the calling thread. Any lock another thread held at that instant
//!   stays locked forever in the child, so the child touches no lock-protected state of the
//!   parent that it does not own: it marks itself as a forked child (so `par_map` builds a
//!   fresh rayon pool), runs the task and leaves with `_exit`, never returning into the
//!   caller's code and never running the parent's destructors or `atexit` handlers.
//! - Buffered output would be printed twice (once by each process): stdout and stderr are
//!   flushed right before `fork`, and the child flushes its own before `_exit`.
//! - `PR_SET_PDEATHSIG` fires when the *thread* that forked exits, not the process: forks
//!   are made from long-lived threads (the caller's, or a pool's supervisor).

mod affinity;
mod event_count;
mod fork;
mod futex;
mod hangup;
mod leaked;
mod loaded;
mod mailbox;
mod per_process;
mod plain_call;
mod pmutex;
#[cfg(feature = "mpi")]
mod rank_call;
mod shm;
mod wait;
mod zst_call;

pub(crate) use affinity::{current_cpu, set_affinity};
pub(crate) use event_count::EventCount;
pub(crate) use fork::{close_inherited_fds, fork_run, fork_run_detached, kill, trim_heap};
pub(crate) use hangup::peer_closed;
pub(crate) use leaked::Leaked;
pub(crate) use mailbox::{Doorbell, ITEM_CAPACITY, Mailbox, spin_until};
pub(crate) use per_process::{PerProcess, current_pid, forget_pid};
pub(crate) use plain_call::{EncodeResults, PlainCall, plain_bytes};
pub(crate) use pmutex::{RawCondvar, RawMutex, Relock};
#[cfg(feature = "mpi")]
pub(crate) use rank_call::{RankCall, RankFinish, run_rank_call};
pub(crate) use shm::SharedRegion;
pub(crate) use wait::{CHECK_EVERY, ChildWatch, ExitStatus, alive, wait_exit_event};
pub(crate) use zst_call::{Finish, ZstCall};
