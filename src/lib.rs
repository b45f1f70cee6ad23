//! # paralelo
//!
//! Python's `multiprocessing`, the way the course teaches it — `Pool`, `map`, `starmap`,
//! `apply_async`, `%%time` — in Rust: the same names, real parallelism on every core (Rust
//! has no GIL), and errors instead of hangs.
//!
//! ## A first example
//!
//! ```
//! use paralelo::prelude::*;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! // One call, every core, results in input order.
//! assert_eq!(par_map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//!
//! // Python's Pool, with its method set.
//! let pool = Pool::new(4)?;
//! assert_eq!(pool.map(square, 0..5)?, [0, 1, 4, 9, 16]);
//! let later = pool.apply_async(|| square(5))?;
//! assert_eq!(later.get()?, 25);
//! # Ok::<(), paralelo::Error>(())
//! ```
//!
//! ## Threads or processes?
//!
//! In Python, threads cannot run Python code in parallel (the GIL), so CPU-bound work needs
//! processes. In Rust, threads run in parallel: [`par_map`] and [`Pool`] use threads by
//! default, start in microseconds and share memory without copying. Processes (forked
//! workers) are there when you need what only they give: a crash that cannot take the
//! notebook down, a PID of their own, or a faithful reproduction of the course's examples.
//!
//! ## Processes
//!
//! [`Process`] runs a closure in a child made with `fork`: the closure and what it captured
//! are simply there (nothing is pickled). Children talk back through a [`Queue`], a
//! [`Pipe`] or a [`Manager`], share numbers through [`Value`] and [`Array`], and take turns
//! with [`Lock`] and [`Semaphore`]; [`Pool::processes`] gives the pool's methods on forked
//! workers. A child that crashes fails only its own work, with an error naming its exit
//! code or signal; a lock whose holder died is not stuck; no wait is endless.
//!
//! ```
//! use paralelo::prelude::*;
//!
//! let counter = Value::new(0i32)?;
//! let results = Queue::<u32>::new()?;
//! let (c, q) = (counter.clone(), results.clone());
//! let p = Process::new(move || {
//!     c.update(|x| x + 1).unwrap();
//!     q.put(std::process::id()).unwrap();
//! });
//! p.start()?;
//! let child_pid = results.get()?;
//! p.join()?;
//! assert_eq!(counter.get(), 1);
//! assert_ne!(child_pid, std::process::id());
//! # Ok::<(), paralelo::Error>(())
//! ```
//!
//! ### Process pools: which tasks keep a worker
//!
//! On [`Pool::processes`], a task that captures nothing (a function, a `|| …` with no
//! captured variable) runs on a **persistent worker**, as Python's do: its memory stays
//! from task to task. A closure that captures something runs in a **fresh fork** that has
//! the parent's memory as of that moment. Choose instead with
//! [`PoolBuilder::fresh_process_per_task`] or [`PoolBuilder::maxtasksperchild`]. Dropping a
//! pool waits for its queued work; [`Pool::scope`] terminates on the way out, like Python's
//! `with Pool() as pool:`.
//!
//! ## Errors, not hangs
//!
//! Every fallible call returns [`Result`]. A task that panics comes back as that task's
//! [`Error`] (kind [`ErrorKind::TaskPanicked`]) and the pool keeps serving; a result whose
//! task was cancelled by [`Pool::terminate`] fails at once, where Python's `get()` waits
//! forever.
//!
//! ## Past one machine
//!
//! With the cargo feature `mpi`, `paralelo::mpi` gives the same [`Pool`] methods on the
//! ranks of an MPI job (Open MPI): `paralelo::mpi::init()` at the top of `main`, then
//! `cluster.pool()?.map(f, items)` under `mpirun -n 4`. Functions that capture nothing
//! cross ranks, items and results cross with serde, and a dead rank is an error naming
//! it, never a hang.
//!
//! ## Measuring
//!
//! [`time`] prints IPython's `%%time` lines, [`timeit`] follows `%timeit`'s rule, [`Timer`]
//! is the course's `Temporizador`, and [`TimingTable`] puts the variants of one piece of work
//! side by side with their speedup, efficiency and the document's Python figure.
//!
//! ```
//! use paralelo::prelude::*;
//!
//! let mut table = TimingTable::new("Suma de cuadrados");
//! table.row("secuencial").measure(|| (0..1_000_000u64).map(|x| x * x).sum::<u64>());
//! table.row("par_map").workers(cpu_count()).measure(|| par_map(|x: u64| x * x, 0..1_000_000u64));
//! println!("{table}");
//! ```

// `unsafe` lives in `sys` only (its wrappers say why each use is sound); the compiler
// holds the rest of the crate to that.
#![deny(unsafe_code)]

pub mod display;
mod error;
pub mod interrupt;
mod ipc;
mod manager;
mod map_items;
#[cfg(feature = "mpi")]
pub mod mpi;
mod par;
mod pool;
mod process;
pub mod progress;
mod runtime;
mod shared;
mod star;
mod sync;
#[allow(unsafe_code)]
mod sys;
mod table;
pub mod timing;

pub use error::{Error, ErrorKind, Result};
pub use ipc::{Connection, IntoMessage, JoinableQueue, Pipe, Queue};
pub use manager::{DictProxy, ListProxy, Manager};
pub use map_items::MapItems;
pub use par::{par_for_each, par_map, par_starmap};
pub use pool::{
    AsyncResult, Imap, ImapUnordered, Pool, PoolBuilder, ProcessImap, Processes, Threads,
};
pub use process::{
    ExitOutcome, Process, ProcessInfo, cpu_count, current_cpu, current_process, log_to_stderr,
    machine_cpu_count, physical_cpu_count, set_cpu_affinity,
};
pub use shared::{Array, Scalar, Value};
pub use star::StarFn;
pub use sync::{Barrier, Event, Lock, LockGuard, RLock, RLockGuard, Semaphore, SemaphoreGuard};
pub use table::{RowBuilder, TIMING_ATTRIBUTE, TimingPlot, TimingRow, TimingTable};
pub use timing::{Temporizador, Timer, time, timeit};

/// Big integers for the course's factorials (`num-bigint`'s `BigUint`), re-exported so a
/// notebook needs no extra dependency.
pub use num_bigint::{BigInt, BigUint};

/// The `log` facade (`info!`, `warn!`, …), re-exported for [`log_to_stderr`].
pub use log;

/// Everything a notebook or a program needs: `use paralelo::prelude::*;`.
///
/// It also names the types that its functions return (`Pool<Processes>`, `ListProxy<T>`,
/// …), so that a notebook can write them, and so can the kernel when it stores a cell's
/// variables for the next cells.
pub mod prelude {
    pub use crate::display::{
        DisplayHandle, clear_output, display, display_mime, input, input_password,
    };
    pub use crate::progress::{Progress, ProgressIterator, progress};
    pub use crate::timing::{Measurement, TimeitOptions, TimeitResult, measure, timeit_with};
    pub use crate::{
        Array, Barrier, Connection, Event, JoinableQueue, Lock, Manager, Pipe, Process, Queue,
        RLock, Semaphore, Value, current_cpu, log_to_stderr, set_cpu_affinity,
    };
    pub use crate::{
        AsyncResult, BigInt, BigUint, Error, ErrorKind, Pool, PoolBuilder, Result, StarFn,
        Temporizador, Timer, TimingPlot, TimingTable, cpu_count, current_process,
        machine_cpu_count, par_for_each, par_map, par_starmap, time, timeit,
    };
    pub use crate::{
        DictProxy, Imap, ImapUnordered, ListProxy, ProcessImap, ProcessInfo, Processes, Threads,
    };
}
