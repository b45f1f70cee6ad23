//! `init()` and [`Cluster`]: rank 0's handle on the job.

use std::net::IpAddr;
use std::sync::Arc;

use super::boot::{self, Job};
use super::links::Links;
use super::pool::Mpi;
use super::worker;
use crate::{Pool, Result};

/// One rank of the job, as rank 0 knows it.
///
/// # Examples
///
/// ```no_run
/// let cluster = paralelo::mpi::init()?;
/// for rank in cluster.ranks() {
///     println!("rank {} on {} ({:?})", rank.rank, rank.host, rank.address);
/// }
/// # Ok::<(), paralelo::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankInfo {
    /// The rank's number in `MPI_COMM_WORLD` (0 is the one that runs `main`).
    pub rank: usize,
    /// The host name the rank runs on.
    pub host: String,
    /// The address its task channel comes from (`None` for rank 0 itself).
    pub address: Option<IpAddr>,
}

/// Rank 0's handle on the MPI job: its ranks, and [`pool`](Cluster::pool)s that run tasks
/// on them. Returned by [`init`](crate::mpi::init).
///
/// Dropping it ends the job: the workers are told to stop and every rank calls
/// `MPI_Finalize`; when a rank was lost, rank 0 calls `MPI_Abort` instead (a lost rank
/// cannot take part in `MPI_Finalize`, which would then wait for ever), so `mpirun` stops
/// what is left and exits with an error. Keep it alive for as long as `main` uses a pool.
pub struct Cluster {
    job: Option<Job>,
    links: Arc<Links>,
    ranks: Vec<RankInfo>,
}

/// Starts MPI in this process and splits the program by rank (SPMD).
///
/// Call it first thing in `main`, on every rank (every rank runs the same `main`):
///
/// - on **rank 0** it returns the [`Cluster`], whose [`pool`](Cluster::pool) runs tasks on
///   the other ranks;
/// - on **every other rank** it never returns: the rank serves tasks until rank 0 drops its
///   `Cluster` (then it calls `MPI_Finalize` and exits with status 0), or until rank 0 is
///   lost (it exits with status 1).
///
/// Without `mpirun` (or under `mpirun -n 1`) the job has one rank: the pool then runs
/// every task on rank 0 itself, in the calling thread, with the same results and errors.
///
/// # Examples
///
/// ```no_run
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> paralelo::Result<()> {
///     let cluster = paralelo::mpi::init()?; // other ranks serve tasks in here
///     let pool = cluster.pool()?;
///     assert_eq!(pool.map(square, 0..10u64)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the ranks do not run
/// the same executable file (checked with a SHA-256 of it: functions cross ranks by their
/// place in the file), or when MPI was already initialised;
/// [`ErrorKind::Disconnected`](crate::ErrorKind::Disconnected) when a worker rank could
/// not open its task channel to rank 0 (a firewall, no route between the hosts).
pub fn init() -> Result<Cluster> {
    let job = boot::start()?;
    if job.rank != 0 {
        let stream = boot::connect_to_rank0(&job);
        match stream {
            Ok(stream) => worker::serve(job, stream),
            Err(e) => {
                eprintln!("paralelo::mpi: {e}");
                std::process::exit(1)
            }
        }
    }
    let streams = boot::accept_workers(&job)?;
    crate::timing::count_also(job.local_pids.iter().copied());
    let mut ranks = vec![RankInfo {
        rank: 0,
        host: job.hosts[0].clone(),
        address: None,
    }];
    let links = Links::start(streams)?;
    ranks.extend(links.links.iter().map(|l| RankInfo {
        rank: l.rank,
        host: l.host.clone(),
        address: Some(l.address),
    }));
    Ok(Cluster {
        job: Some(job),
        links,
        ranks,
    })
}

impl Cluster {
    /// The number of ranks in the job, rank 0 included (`mpirun -n N` gives N).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// println!("{} ranks, {} of them run tasks", cluster.size(), cluster.pool()?.workers());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.ranks.len()
    }

    /// Every rank: its number, host and address.
    pub fn ranks(&self) -> &[RankInfo] {
        &self.ranks
    }

    /// The host name of `rank`, if there is such a rank.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// println!("rank 0 runs on {}", cluster.host(0).unwrap());
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    pub fn host(&self, rank: usize) -> Option<&str> {
        self.ranks.get(rank).map(|r| r.host.as_str())
    }

    /// True when `mpirun` keeps the job going after a rank dies (`--mca
    /// orte_enable_recovery 1`): then a lost rank comes back as an error of the call that
    /// needed it. Without it, `mpirun` itself stops every rank, rank 0 included, the
    /// moment one dies (no hang either, but no error value: `mpirun` prints which rank).
    pub fn survives_lost_ranks(&self) -> bool {
        std::env::var("OMPI_MCA_orte_enable_recovery")
            .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
            .unwrap_or(false)
    }

    /// A [`Pool`] whose workers are the other ranks (one task at a time each), with the
    /// method set of the other pools. With one rank only, it runs tasks on rank 0.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let cluster = paralelo::mpi::init()?;
    /// let pool = cluster.pool()?;
    /// let hosts = pool.map(|_: u32| paralelo::mpi::this_host(), 0..8)?;
    /// println!("{hosts:?}");
    /// # Ok::<(), paralelo::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today; a `Result` like the other pools' constructors.
    pub fn pool(&self) -> Result<Pool<Mpi>> {
        Ok(Pool {
            backend: Mpi::new(self.links.clone()),
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        if let Some(lost) = self.links.first_lost() {
            eprintln!("paralelo::mpi: ending the job with MPI_Abort: {lost}");
            use mpi::traits::Communicator;
            job.universe.world().abort(1);
        }
        self.links.stop_all();
        drop(job); // MPI_Finalize, with every worker
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("ranks", &self.ranks)
            .finish()
    }
}

/// The host name of the rank this runs on: handy in tasks, to see where they ran.
///
/// # Examples
///
/// ```
/// assert!(!paralelo::mpi::this_host().is_empty());
/// ```
pub fn this_host() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".to_owned())
}
