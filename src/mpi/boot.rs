//! Start-up of every rank: MPI's init, the executable check, and the task channels.
//!
//! 1. `MPI_Init`; each rank hashes its executable file (SHA-256 of `/proc/self/exe`) and
//!    names its host; `MPI_Allgather` gives every rank everyone's.
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

/// Bytes of one rank's record in the all-gather: the hash, then its host name.
const HASH: usize = 32;
const HOST: usize = 64;
const RECORD: usize = HASH + HOST;

/// Bytes of rank 0's broadcast: `[u16 port][u8 count][count × 4 address bytes]`.
const ADDRESSES: usize = 3 + 4 * 32;

/// How long rank 0 waits for every worker to connect.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// What every rank knows after the all-gather.
pub(super) struct Job {
    pub(super) universe: mpi::environment::Universe,
    pub(super) rank: usize,
    pub(super) hosts: Vec<String>,
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
    let host = host_name();
    let host_bytes = &host.as_bytes()[..host.len().min(HOST)];
    mine[HASH..HASH + host_bytes.len()].copy_from_slice(host_bytes);
    let mut all = vec![0u8; RECORD * size];
    world.all_gather_into(&mine[..], &mut all[..]);
    let records: Vec<&[u8]> = all.chunks(RECORD).collect();
    let hosts: Vec<String> = records
        .iter()
        .map(|r| {
            let name = &r[HASH..];
            let end = name.iter().position(|&b| b == 0).unwrap_or(HOST);
            String::from_utf8_lossy(&name[..end]).into_owned()
        })
        .collect();
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
