//! Start-up of every rank: MPI's init, the executable check, and the task channels.
//!
//! 1. `MPI_Init`; each rank hashes its executable file (SHA-256 of `/proc/self/exe`),
//!    names its host, its pid and its machine (boot id and pid namespace: hosts simulated
//!    with network namespaces share one machine); `MPI_Allgather` gives every rank
//!    everyone's. Rank 0 counts the CPU time of the ranks on its own machine as its
//!    children's, so a timed map over them is not taken for other programs' load.
//! 2. Rank 0 refuses a job whose ranks run different executables (functions cross as
//!    offsets in the file: they only mean the same code in the same file), telling every
//!    rank so with `MPI_Bcast`.
//! 3. Rank 0 listens on a TCP port and broadcasts it with its IPv4 addresses; each worker
//!    connects to the first that answers and says its rank.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use mpi::traits::*;
use sha2::{Digest, Sha256};

use crate::{Error, ErrorKind, Result};

/// Bytes of one rank's record in the all-gather: the hash, its host name, its machine
/// (see [`machine`]), then its pid.
const HASH: usize = 32;
const HOST: usize = 64;
const MACHINE: usize = 64;
const PID: usize = 4;
const RECORD: usize = HASH + HOST + MACHINE + PID;

/// Bytes of rank 0's broadcast: `[u16 port][u8 count][count × 4 address bytes]`.
const ADDRESSES: usize = 3 + 4 * 32;

/// How long rank 0 waits for every worker to connect.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// What every rank knows after the all-gather.
pub(super) struct Job {
    pub(super) universe: mpi::environment::Universe,
    pub(super) rank: usize,
    pub(super) hosts: Vec<String>,
    /// The pids of the other ranks running on rank 0's machine (empty on other ranks).
    pub(super) local_pids: Vec<u32>,
}

/// SHA-256 of this process's executable file.
pub(super) fn executable_hash() -> Result<[u8; HASH]> {
    let mut file = std::fs::File::open("/proc/self/exe").map_err(|e| {
        Error::new(
            ErrorKind::Os,
            format!("could not open /proc/self/exe to hash this rank's executable: {e}"),
        )
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// What makes pids comparable: the running kernel's boot id and this process's pid
/// namespace. Two ranks with the same value run on one machine and see each other's
/// `/proc/PID`; empty when `/proc` does not tell (then no rank counts as local).
fn machine() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let namespace = std::fs::read_link("/proc/self/ns/pid").unwrap_or_default();
    if boot.trim().is_empty() || namespace.as_os_str().is_empty() {
        return String::new();
    }
    format!("{} {}", boot.trim(), namespace.display())
}

/// `text` in a zero-padded field of `N` bytes (cut at `N`).
fn put(field: &mut [u8], text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(field.len())];
    field[..bytes.len()].copy_from_slice(bytes);
}

/// The text of a zero-padded field.
fn get(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Step 1 and 2: init, hashes and hosts. On rank 0 a mismatch is an error; on the other
/// ranks it ends the process.
pub(super) fn start() -> Result<Job> {
    let Some(universe) = mpi::initialize() else {
        return Err(Error::new(
            ErrorKind::InvalidState,
            "MPI is already initialised in this process: call paralelo::mpi::init() once, \
             at the top of main",
        ));
    };
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let mut mine = [0u8; RECORD];
    mine[..HASH].copy_from_slice(&executable_hash()?);
    put(&mut mine[HASH..HASH + HOST], &host_name());
    put(&mut mine[HASH + HOST..HASH + HOST + MACHINE], &machine());
    mine[RECORD - PID..].copy_from_slice(&std::process::id().to_le_bytes());
    let mut all = vec![0u8; RECORD * size];
    world.all_gather_into(&mine[..], &mut all[..]);
    let records: Vec<&[u8]> = all.chunks(RECORD).collect();
    let hosts: Vec<String> = records.iter().map(|r| get(&r[HASH..HASH + HOST])).collect();
    let machine_of = |r: usize| get(&records[r][HASH + HOST..HASH + HOST + MACHINE]);
    let local_pids = if rank == 0 && !machine_of(0).is_empty() {
        (1..size)
            .filter(|&r| machine_of(r) == machine_of(0))
            .map(|r| {
                let pid = &records[r][RECORD - PID..];
                u32::from_le_bytes([pid[0], pid[1], pid[2], pid[3]])
            })
            .collect()
    } else {
        Vec::new()
    };
    let others: Vec<String> = (1..size)
        .filter(|&r| records[r][..HASH] != records[0][..HASH])
        .map(|r| format!("rank {r} on host {}", hosts[r]))
        .collect();
    if !others.is_empty() {
        let message = format!(
            "paralelo::mpi::init: the ranks do not run the same executable: {} differ from \
             rank 0's ({}). Functions cross ranks by their place in the executable, so every \
             rank must run the very same file: build once and start that file on every host \
             (copy it to the same path, or use a shared directory)",
            others.join(", "),
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        drop(universe);
        if rank == 0 {
            return Err(Error::new(ErrorKind::InvalidState, message));
        }
        eprintln!("{message}");
        std::process::exit(1);
    }
    Ok(Job {
        universe,
        rank,
        hosts,
        local_pids,
    })
}

/// This host's IPv4 addresses, loopback last.
fn own_addresses() -> Vec<Ipv4Addr> {
    let mut addresses: Vec<Ipv4Addr> = nix::ifaddrs::getifaddrs()
        .map(|list| {
            list.filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
                .collect()
        })
        .unwrap_or_default();
    addresses.sort_by_key(|a| a.is_loopback());
    addresses.dedup();
    addresses.truncate(32);
    if addresses.is_empty() {
        addresses.push(Ipv4Addr::LOCALHOST);
    }
    addresses
}

/// Step 3 on rank 0: the streams of every worker, `(rank, host, stream)` in rank order.
pub(super) fn accept_workers(job: &Job) -> Result<Vec<(usize, String, TcpStream)>> {
    let world = job.universe.world();
    let size = job.hosts.len();
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    let port = listener.local_addr()?.port();
    let addresses = own_addresses();
    let mut buf = [0u8; ADDRESSES];
    buf[..2].copy_from_slice(&port.to_le_bytes());
    buf[2] = addresses.len() as u8;
    for (i, a) in addresses.iter().enumerate() {
        buf[3 + 4 * i..7 + 4 * i].copy_from_slice(&a.octets());
    }
    world.process_at_rank(0).broadcast_into(&mut buf[..]);

    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + CONNECT_LIMIT;
    let mut streams: Vec<Option<TcpStream>> = (0..size).map(|_| None).collect();
    while streams[1..].iter().any(Option::is_none) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut hello = [0u8; 4];
                if stream.read_exact(&mut hello).is_ok() {
                    let rank = u32::from_le_bytes(hello) as usize;
                    if (1..size).contains(&rank) {
                        streams[rank] = Some(stream);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = (1..size)
                        .filter(|&r| streams[r].is_none())
                        .map(|r| format!("rank {r} on host {}", job.hosts[r]))
                        .collect();
                    return Err(Error::new(
                        ErrorKind::Disconnected,
                        format!(
                            "paralelo::mpi::init: {} did not connect to rank 0 (port {port} \
                             on {addresses:?}) within {} s: a firewall, or no route between \
                             the hosts",
                            missing.join(", "),
                            CONNECT_LIMIT.as_secs()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(streams
        .into_iter()
        .enumerate()
        .skip(1)
        .map(|(rank, s)| (rank, job.hosts[rank].clone(), s.expect("all connected")))
        .collect())
}

/// Step 3 on a worker: the stream to rank 0.
pub(super) fn connect_to_rank0(job: &Job) -> Result<TcpStream> {
    let world = job.universe.world();
    let mut buf = [0u8; ADDRESSES];
    world.process_at_rank(0).broadcast_into(&mut buf[..]);
    let port = u16::from_le_bytes([buf[0], buf[1]]);
    let count = buf[2] as usize;
    let candidates: Vec<SocketAddr> = (0..count.min(32))
        .map(|i| {
            let o = &buf[3 + 4 * i..7 + 4 * i];
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])), port)
        })
        .collect();
    let mut tried = Vec::new();
    for address in &candidates {
        match TcpStream::connect_timeout(address, Duration::from_secs(1)) {
            Ok(mut stream) => {
                stream.write_all(&(job.rank as u32).to_le_bytes())?;
                return Ok(stream);
            }
            Err(e) => tried.push(format!("{address}: {e}")),
        }
    }
    Err(Error::new(
        ErrorKind::Disconnected,
        format!(
            "rank {} could not reach rank 0 on host {}: {}",
            job.rank,
            job.hosts[0],
            tried.join("; ")
        ),
    ))
}
