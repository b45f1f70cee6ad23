//! A worker rank's life: run what rank 0 sends, one task at a time, until rank 0 says
//! stop (then `MPI_Finalize` and exit 0) or is lost (then exit 1 at once: rank 0 is gone,
//! or its host is unreachable, and the job cannot go on).

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc;

use super::boot::Job;
use super::wire::{self, Receiver, Sender, Silence};
use crate::sys::run_rank_call;

/// Serves rank 0 until it is done, then ends the process. Never returns.
pub(super) fn serve(job: Job, stream: TcpStream) -> ! {
    let rank = job.rank;
    let rank0 = format!("rank 0 on host {}", job.hosts[0]);
    match serve_until_stop(rank, &rank0, stream) {
        Ok(()) => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            drop(job); // MPI_Finalize, with rank 0 and the other workers
            std::process::exit(0)
        }
        Err(reason) => {
            eprintln!("paralelo::mpi: rank {rank} stops: {rank0} {reason}");
            std::process::exit(1)
        }
    }
}

enum Order {
    Task { id: u64, offset: i64, input: Vec<u8> },
    Stop,
}

fn serve_until_stop(rank: usize, rank0: &str, stream: TcpStream) -> Result<(), String> {
    let _ = rank;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut receiver = Receiver::new(stream.try_clone().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let sender = Arc::new(Sender::new(stream));
    let (orders, next) = mpsc::channel::<Result<Order, String>>();

    // Reads while a task runs, so that a lost rank 0 ends this rank even mid-task.
    std::thread::Builder::new()
        .name("paralelo-mpi-orders".into())
        .spawn(move || {
            loop {
                let order = match receiver.next_message() {
                    Ok(m) if m.first() == Some(&wire::TASK) && m.len() >= 17 => Ok(Order::Task {
                        id: u64::from_le_bytes(m[1..9].try_into().expect("8 bytes")),
                        offset: i64::from_le_bytes(m[9..17].try_into().expect("8 bytes")),
                        input: m[17..].to_vec(),
                    }),
                    Ok(m) if m.first() == Some(&wire::STOP) => Ok(Order::Stop),
                    Ok(m) => Err(format!("sent a message this rank does not know ({:?})", m.first())),
                    Err(Silence::Closed(e)) => Err(format!("closed its connection ({e})")),
                    Err(Silence::Silent(q)) => Err(format!(
                        "sent nothing for {:.1} s (its host is unreachable or it is stuck)",
                        q.as_secs_f64()
                    )),
                };
                let last = !matches!(order, Ok(Order::Task { .. }));
                if let Err(reason) = &order {
                    // The task that may be running cannot report to anyone: leave now.
                    eprintln!("paralelo::mpi: this worker rank stops: rank 0 {reason}");
                    std::process::exit(1);
                }
                if orders.send(order).is_err() || last {
                    return;
                }
            }
        })
        .map_err(|e| e.to_string())?;

    let beats = sender.clone();
    std::thread::Builder::new()
        .name("paralelo-mpi-heartbeat".into())
        .spawn(move || {
            while beats.heartbeat().is_ok() {
                std::thread::sleep(wire::HEARTBEAT_EVERY);
            }
        })
        .map_err(|e| e.to_string())?;

    let mut out = Vec::new();
    loop {
        match next.recv() {
            Ok(Ok(Order::Task { id, offset, input })) => {
                out.clear();
                let tag = run_rank_call(offset, &input, &mut out);
                let mut head = Vec::with_capacity(10);
                head.push(wire::RESULT);
                head.extend_from_slice(&id.to_le_bytes());
                head.push(tag);
                sender
                    .send(&head, &out)
                    .map_err(|e| format!("could not be sent a result ({e})"))?;
            }
            Ok(Ok(Order::Stop)) => return Ok(()),
            Ok(Err(reason)) => return Err(reason),
            Err(_) => return Err(format!("({rank0}) went away")),
        }
    }
}
