//! Which rayon pool serves `par_map` in this process.
//!
//! rayon's global pool is made of threads, and `fork` copies only the thread that called it:
//! in a forked child the global pool's bookkeeping says its workers exist, but they do not,
//! and the first job sent there would wait forever. So `par_map` uses the global pool only
//! in the process that is known not to be a forked copy, and a private pool, built on first
//! use, in each forked child.

use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::Leaked;

/// Set in a forked child (see [`after_fork_in_child`]): from then on the global pool is off limits.
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// The private pool of a forked child. An atomic pointer, not a mutex: a mutex copied by
/// `fork` while another thread held it would stay locked forever in the child.
static CHILD_POOL: Leaked<rayon::ThreadPool> = Leaked::new();

/// Which copy of this crate's code is running: a program has one. evcxr links each notebook
/// cell's library with its own copy of every dependency, statics and thread-locals included,
/// so a value built by one cell's copy (a thread `Pool`) can be used by code of another
/// copy, whose rayon does not know that pool's threads as workers.
pub(crate) fn code_copy() -> usize {
    static MARK: u8 = 0;
    ptr::addr_of!(MARK) as usize
}

/// Runs `op` on the rayon pool that may be used by this thread of this process.
pub(crate) fn install<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() || !IN_FORKED_CHILD.load(Ordering::Acquire) {
        // Inside a worker of a live pool (workers are never copied by fork, so it is a
        // pool of this process), or in a process that is not a forked copy: rayon picks
        // the right pool by itself.
        return op();
    }
    child_pool().install(op)
}

/// The forked child's own pool, built the first time it is needed.
fn child_pool() -> &'static rayon::ThreadPool {
    CHILD_POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("paralelo-child-{i}"))
            .build()
            .expect("paralelo: could not start threads in a forked child")
    })
}

/// Marks this process as a forked child. The process backend calls it right after `fork`,
/// before any user code runs in the child.
#[allow(dead_code)] // used by the process backend
pub(crate) fn after_fork_in_child() {
    IN_FORKED_CHILD.store(true, Ordering::Release);
    // A pool inherited from the parent (a grandchild's case) has no threads here. It is
    // forgotten, never dropped: dropping would signal threads that do not exist.
    CHILD_POOL.forget();
}
