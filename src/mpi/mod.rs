//! Past one machine: the same [`Pool`](crate::Pool) on the ranks of an MPI job (Open MPI),
//! with feature `mpi`.
//!
//! A program calls [`init`] first thing in `main` and runs under `mpirun` (or `srun`).
//! Every rank runs the same `main`; on rank 0 `init` returns a [`Cluster`], on the other
//! ranks it serves tasks until rank 0 is done and then exits. `cluster.pool()` is a
//! [`Pool<Mpi>`](crate::Pool) with the methods of the other pools (`map`, `starmap`,
//! `imap`, `imap_unordered`, `apply`, `apply_async`, `map_async`, `close`, `join`,
//! `terminate`) and the same error kinds. Python's counterpart is
//! `mpi4py.futures.MPIPoolExecutor` under `mpiexec -n N python -m mpi4py.futures`.
//!
//! ```no_run
//! use paralelo::prelude::*;
//!
//! fn factorial(n: u32) -> BigUint {
//!     (1..=n).map(BigUint::from).product()
//! }
//!
//! fn main() -> paralelo::Result<()> {
//!     let cluster = paralelo::mpi::init()?;
//!     let pool = cluster.pool()?;
//!     let results = pool.map(factorial, 1000..2000)?;
//!     println!("{} factorials on {} ranks", results.len(), cluster.size());
//!     Ok(())
//! }
//! ```
//!
//! ```text
//! cargo build --release --features mpi
//! mpirun --mca orte_enable_recovery 1 -n 4 target/release/prog
//! ```
//!
//! ## What crosses, and how
//!
//! - **Functions that capture nothing**: every rank runs the same executable (checked at
//!   `init` with a SHA-256 of the file: mismatched binaries are refused with an error
//!   naming the ranks), so a function is sent as its distance from a fixed point of the
//!   file, plus a hash of its type id that the worker checks before running it. A
//!   capturing closure is refused at compile time.
//!
//!   ```compile_fail
//!   let cluster = paralelo::mpi::init()?;
//!   let offset = 10u64;
//!   // error: paralelo::mpi runs only functions that capture nothing
//!   let shifted = cluster.pool()?.map(move |x: u64| x + offset, 0..4)?;
//!   # Ok::<(), paralelo::Error>(())
//!   ```
//!
//! - **Items and results** with serde (bincode), in parts of 1 MiB: values of any size.
//! - **Scheduling**: guided chunks, large first and small last; a rank gets the next one
//!   as soon as it has finished one.
//!
//! ## How the ranks talk
//!
//! MPI starts the ranks, numbers them, gathers their hosts and executable hashes, and
//! ends the job (`MPI_Finalize`, or `MPI_Abort` after a loss). The tasks travel on one
//! TCP stream per worker rank, opened at `init` to an address rank 0 broadcasts over MPI:
//! Debian's Open MPI 4.1 has no fault tolerance (no ULFM), and a dead peer makes its TCP
//! transport abort or block the survivors, where a stream of our own gives an error at
//! once when a process dies and a measurable silence (heartbeats every 0.3 s, lost after
//! 3 s) when a host goes away.
//!
//! ## Faults
//!
//! - A task that panics fails that task with its message and the rank that ran it.
//! - A rank that dies, or whose host is lost, fails the call that needed it with an
//!   [`ErrorKind::WorkerDied`](crate::ErrorKind::WorkerDied) naming the rank and its host
//!   (at once, or within about 3 s). Later calls run on the ranks left; dropping the
//!   `Cluster` then ends the job with `MPI_Abort` (a lost rank cannot take part in
//!   `MPI_Finalize`), so `mpirun` stops every rank and daemon. Run with `mpirun --mca
//!   orte_enable_recovery 1` for that: by default `mpirun` stops the whole job, rank 0
//!   included, the moment one rank dies (no hang either, but no error value). With
//!   recovery on, `mpirun` exits with status 0 even after `MPI_Abort`: a script should
//!   read rank 0's own report.
//! - A worker that loses rank 0 exits at once (status 1).
//!
//! ## One rank, or no `mpirun`
//!
//! Started without `mpirun`, or with `mpirun -n 1`, the job has one rank: `init` returns
//! a `Cluster` of size 1 and its pool runs every task on rank 0 itself (`map` in the
//! calling thread, `*_async` on a thread of its own), with the same results and errors.

mod boot;
mod cluster;
mod dispatch;
mod imap;
mod links;
mod pool;
mod task;
mod wire;
mod worker;

pub use cluster::{Cluster, RankInfo, init, this_host};
pub use imap::MpiImap;
pub use pool::Mpi;
