//! `Pool`: Python's `multiprocessing.Pool` method set, over threads (default) or processes;
//! the MPI backend (`src/mpi/`, feature `mpi`) shares its lifecycle (`lifecycle.rs`).

mod async_result;
mod builder;
mod callbacks;
mod chunking;
mod imap;
// The MPI backend (src/mpi/) keeps the same ledger and lifecycle rules.
pub(crate) mod lifecycle;
mod process;
mod processes;
mod scope;
mod threads;

pub use async_result::AsyncResult;
// The MPI backend (src/mpi/) finishes its results in the same slots.
#[cfg(feature = "mpi")]
pub(crate) use async_result::Slot;
pub use builder::PoolBuilder;
pub use imap::{Imap, ImapUnordered};
pub use process::ProcessImap;
pub use processes::Processes;
pub use threads::Threads;

/// A pool of workers with Python's method set: `map`, `starmap`, `imap`,
/// `imap_unordered`, `apply`, `apply_async`, `map_async`, `close`, `join`, `terminate`.
///
/// The backend `B` says what the workers are. [`Threads`] (the default, from
/// [`Pool::new`]) runs tasks on threads of this process: no GIL in Rust, so they run in
/// parallel. The process backend (forked workers) has the same methods.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = Pool::new(4)?;
/// assert_eq!(pool.map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
///
/// let later = pool.apply_async(|| square(5))?;
/// assert_eq!(later.get()?, 25);
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Processes: persistent workers or a fresh fork?
///
/// On [`Pool::processes`], *what the closure captures* decides where a task runs:
///
/// | task | runs on | memory between tasks |
/// |---|---|---|
/// | a function, or a closure that captures nothing (`apply`, `apply_async`, and `map` over numbers) | a persistent worker, forked once and kept (as in Python) | kept: what one task leaves, the next on that worker sees |
/// | a closure that captures anything, `imap`, pools with an initializer or pinned cores | a process forked for the task (for `map`: per call) | fresh: the parent's memory as of the fork |
///
/// To choose instead of letting the closure decide:
/// [`PoolBuilder::fresh_process_per_task`] (never a persistent worker, Python's
/// `maxtasksperchild=1`) or [`PoolBuilder::maxtasksperchild`]. Details in [`Processes`].
///
/// # Dropping a pool, or terminating it
///
/// Dropping a pool closes it and **waits** for the tasks already queued, so no submitted
/// work is lost — also while a panic unwinds through the caller. Python's `with Pool() as
/// pool:` **terminates** instead and silently drops them: for that, use
/// [`Pool::scope`](Pool::scope), which terminates on the way out (also on a panic), or call
/// [`terminate`](Pool::terminate) yourself. Tasks cancelled so have their
/// [`AsyncResult::get`] return an error at once, where Python hangs.
#[derive(Debug)]
pub struct Pool<B = Threads> {
    pub(crate) backend: B,
}
