//! A worker rank's life: run what rank 0 sends, one task at a time, until rank 0 says
//! stop (then `MPI_Finalize` and exit 0) or is lost (then exit 1 at once: rank 0 is gone,
//! or its host is unreachable, and the job cannot go on).
//!
//! The main thread reads each task and runs it (no hand-over between threads on the way:
//! the round trip is the point). A heartbeat thread writes to rank 0 every 0.3 s, also
//! while a long task runs; with `TCP_USER_TIMEOUT` a write that rank 0's host does not
//! acknowledge within the silence limit fails, so a lost rank 0 ends this rank within
//! seconds whether it is reading or running a task.

use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;

use super::boot::Job;
use super::wire::{self, Receiver, Sender, Silence};
use crate::sys::run_rank_call;

/// Serves rank 0 until it is done, then ends the process. Never returns.
pub(super) fn serve(job: Job, stream: TcpStream) -> ! {
    let rank0 = format!("rank 0 on host {}", job.hosts[0]);
    match serve_until_stop(stream) {
        Ok(()) => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            drop(job); // MPI_Finalize, with rank 0 and the other workers
            std::process::exit(0)
        }
        Err(reason) => lost(&rank0, &reason),
    }
}

fn lost(rank0: &str, reason: &str) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("paralelo::mpi: this worker rank stops: {rank0} {reason}");
    std::process::exit(1)
}

fn serve_until_stop(stream: TcpStream) -> Result<(), String> {
    let text = |e: std::io::Error| e.to_string();
    stream.set_nodelay(true).map_err(text)?;
    let limit = wire::SILENT_LIMIT.as_millis() as u32;
    nix::sys::socket::setsockopt(
        &stream.as_fd(),
        nix::sys::socket::sockopt::TcpUserTimeout,
        &limit,
    )
    .map_err(|e| e.to_string())?;
    let mut receiver = Receiver::new(stream.try_clone().map_err(text)?).map_err(text)?;
    let sender = Arc::new(Sender::new(stream));

    let beats = sender.clone();
    std::thread::Builder::new()
        .name("paralelo-mpi-heartbeat".into())
        .spawn(move || {
            loop {
                if let Err(e) = beats.heartbeat() {
                    lost("rank 0", &format!("cannot be reached ({e})"));
                }
                std::thread::sleep(wire::HEARTBEAT_EVERY);
            }
        })
        .map_err(text)?;

    let mut out = Vec::new();
    loop {
        let message = match receiver.next_message() {
            Ok(m) => m,
            Err(Silence::Closed(e)) => return Err(format!("closed its connection ({e})")),
            Err(Silence::Silent(q)) => {
                return Err(format!(
                    "sent nothing for {:.1} s (its host is unreachable or it is stuck)",
                    q.as_secs_f64()
                ));
            }
        };
        match message.first() {
            Some(&wire::TASK) if message.len() >= 17 => {
                let id = u64::from_le_bytes(message[1..9].try_into().expect("8 bytes"));
                let offset = i64::from_le_bytes(message[9..17].try_into().expect("8 bytes"));
                out.clear();
                let tag = run_rank_call(offset, &message[17..], &mut out);
                let mut head = Vec::with_capacity(10);
                head.push(wire::RESULT);
                head.extend_from_slice(&id.to_le_bytes());
                head.push(tag);
                sender
                    .send(&head, &out)
                    .map_err(|e| format!("could not be sent a result ({e})"))?;
            }
            Some(&wire::STOP) => return Ok(()),
            other => {
                return Err(format!(
                    "sent a message this rank does not know ({other:?})"
                ));
            }
        }
    }
}
