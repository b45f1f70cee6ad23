//! Rank 0's side of the task channels: one link per worker rank, a reader thread per
//! link that hands each result to whoever waits for it, and a keeper thread that sends
//! heartbeats and declares a silent rank lost.
//!
//! Every task sent is entered in one table (`pending`) with its completion, and leaves it
//! exactly once: with its result, or with the error of its rank's loss. So nothing that
//! waits on a task can wait for ever on a rank that is gone.

use std::collections::HashMap;
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::wire::{self, Receiver, Sender, Silence};
use crate::{Error, ErrorKind, Result};

/// A task's outcome as it arrives: the result tag and bytes, or the error that ended it.
pub(super) type Outcome = Result<(u8, Vec<u8>)>;

/// Called once with a task's outcome, on the thread that learnt it.
pub(super) type Completion = Box<dyn FnOnce(Outcome) + Send>;

/// One worker rank as rank 0 sees it.
pub(super) struct Link {
    pub(super) rank: usize,
    pub(super) host: String,
    pub(super) address: IpAddr,
    sender: Sender,
    /// Tasks sent and not finished.
    pub(super) in_flight: AtomicUsize,
    /// Why the rank was lost, once it is.
    lost: Mutex<Option<String>>,
    is_lost: AtomicBool,
}

impl Link {
    /// "rank 2 on host h2 (10.77.0.3)": how errors name a rank.
    pub(super) fn name(&self) -> String {
        format!(
            "rank {} on host {} ({})",
            self.rank, self.host, self.address
        )
    }

    pub(super) fn is_lost(&self) -> bool {
        self.is_lost.load(Ordering::Acquire)
    }

    /// The error that a task of this lost rank ends with.
    pub(super) fn lost_error(&self) -> Error {
        let reason = lock(&self.lost).clone().unwrap_or_default();
        Error::new(
            ErrorKind::WorkerDied,
            format!(
                "{} was lost: {reason}; its tasks cannot finish (later calls run on the \
                 ranks left; at the end rank 0 stops the job with MPI_Abort)",
                self.name()
            ),
        )
    }
}

struct Pending {
    rank: usize,
    done: Completion,
}

/// The links to every worker rank and the tasks in flight on them.
pub(super) struct Links {
    pub(super) links: Vec<Link>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is one map operation or assignment: a poisoned lock holds valid data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Links {
    /// Takes over the connected streams (`(rank, host, stream)` for each worker) and
    /// starts their reader threads and the keeper.
    pub(super) fn start(streams: Vec<(usize, String, TcpStream)>) -> Result<Arc<Self>> {
        let mut links = Vec::new();
        let mut receivers = Vec::new();
        for (rank, host, stream) in streams {
            stream.set_nodelay(true)?;
            let address = stream.peer_addr()?.ip();
            receivers.push(Receiver::new(stream.try_clone()?)?);
            links.push(Link {
                rank,
                host,
                address,
                sender: Sender::new(stream),
                in_flight: AtomicUsize::new(0),
                lost: Mutex::new(None),
                is_lost: AtomicBool::new(false),
            });
        }
        let links = Arc::new(Links {
            links,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        for (index, receiver) in receivers.into_iter().enumerate() {
            let weak = Arc::downgrade(&links);
            std::thread::Builder::new()
                .name(format!("paralelo-mpi-rank{}", links.links[index].rank))
                .spawn(move || read_results(weak, index, receiver))?;
        }
        let weak = Arc::downgrade(&links);
        std::thread::Builder::new()
            .name("paralelo-mpi-keeper".into())
            .spawn(move || keep(weak))?;
        Ok(links)
    }

    /// The live link with the fewest tasks in flight.
    pub(super) fn least_busy(&self) -> Option<usize> {
        (0..self.links.len())
            .filter(|&i| !self.links[i].is_lost())
            .min_by_key(|&i| self.links[i].in_flight.load(Ordering::Relaxed))
    }

    /// The error when no worker rank is left.
    pub(super) fn all_lost(&self) -> Error {
        let names: Vec<String> = self.links.iter().map(Link::name).collect();
        match self.links.first() {
            Some(first) => Error::new(
                ErrorKind::WorkerDied,
                format!(
                    "every worker rank was lost ({}); the first: {}",
                    names.join(", "),
                    first.lost_error()
                ),
            ),
            None => Error::new(ErrorKind::InvalidState, "there are no worker ranks"),
        }
    }

    /// The first lost rank's error, if any rank was lost.
    pub(super) fn first_lost(&self) -> Option<Error> {
        self.links
            .iter()
            .find(|l| l.is_lost())
            .map(Link::lost_error)
    }

    /// A fresh task id.
    pub(super) fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends the call (`offset`, `input`) as task `id` (from [`new_id`](Self::new_id)) to
    /// the worker at `index`; `done` gets its outcome, exactly once.
    pub(super) fn submit(
        &self,
        index: usize,
        id: u64,
        offset: i64,
        input: &[u8],
        done: Completion,
    ) {
        let link = &self.links[index];
        link.in_flight.fetch_add(1, Ordering::Relaxed);
        lock(&self.pending).insert(
            id,
            Pending {
                rank: link.rank,
                done,
            },
        );
        if link.is_lost() {
            self.lose(index, String::new());
            return;
        }
        let mut head = Vec::with_capacity(17);
        head.push(wire::TASK);
        head.extend_from_slice(&id.to_le_bytes());
        head.extend_from_slice(&offset.to_le_bytes());
        if let Err(e) = link.sender.send(&head, input) {
            self.lose(index, format!("sending a task to it failed ({e})"));
        }
    }

    /// Fails the task `id` with `error` if it has not finished. True when it had not.
    pub(super) fn cancel(&self, id: u64, error: Error) -> bool {
        let Some(pending) = lock(&self.pending).remove(&id) else {
            return false;
        };
        if let Some(link) = self.links.iter().find(|l| l.rank == pending.rank) {
            link.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        (pending.done)(Err(error));
        true
    }

    fn finish(&self, index: usize, id: u64, outcome: Outcome) {
        let pending = lock(&self.pending).remove(&id);
        if let Some(pending) = pending {
            self.links[index].in_flight.fetch_sub(1, Ordering::Relaxed);
            (pending.done)(outcome);
        }
    }

    /// Marks the worker at `index` lost (the first reason stays) and fails its tasks.
    pub(super) fn lose(&self, index: usize, reason: String) {
        let link = &self.links[index];
        {
            let mut lost = lock(&link.lost);
            if lost.is_none() && !self.stopping.load(Ordering::Acquire) {
                log::warn!("paralelo::mpi: {} was lost: {reason}", link.name());
            }
            lost.get_or_insert(reason);
        }
        link.is_lost.store(true, Ordering::Release);
        link.sender.shut_down();
        let failed: Vec<(u64, Pending)> = {
            let mut pending = lock(&self.pending);
            let ids: Vec<u64> = pending
                .iter()
                .filter(|(_, p)| p.rank == link.rank)
                .map(|(&id, _)| id)
                .collect();
            ids.into_iter()
                .filter_map(|id| pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        for (_, pending) in failed {
            link.in_flight.fetch_sub(1, Ordering::Relaxed);
            (pending.done)(Err(link.lost_error()));
        }
    }

    /// Tells every live worker to stop serving (rank 0 is done).
    pub(super) fn stop_all(&self) {
        self.stopping.store(true, Ordering::Release);
        for link in self.links.iter().filter(|l| !l.is_lost()) {
            let _ = link.sender.send(&[wire::STOP], &[]);
        }
    }
}

/// A reader thread: results of one worker, until its stream ends.
fn read_results(links: Weak<Links>, index: usize, mut receiver: Receiver) {
    loop {
        let message = receiver.next_message();
        let Some(links) = links.upgrade() else {
            return;
        };
        match message {
            Ok(message) if message.first() == Some(&wire::RESULT) && message.len() >= 10 => {
                let id = u64::from_le_bytes(message[1..9].try_into().expect("8 bytes"));
                let tag = message[9];
                links.finish(index, id, Ok((tag, message[10..].to_vec())));
            }
            Ok(message) => {
                let kind = message.first().copied();
                links.lose(
                    index,
                    format!("it sent a message rank 0 does not know ({kind:?})"),
                );
                return;
            }
            Err(silence) => {
                let reason = match silence {
                    Silence::Closed(e) => format!(
                        "its connection closed ({e}): the process died (killed, crashed or \
                         exited)"
                    ),
                    Silence::Silent(quiet) => format!(
                        "nothing came from it for {:.1} s: its process is stuck or its host \
                         is unreachable",
                        quiet.as_secs_f64()
                    ),
                };
                if !links.stopping.load(Ordering::Acquire) || !links.links[index].is_lost() {
                    links.lose(index, reason);
                }
                return;
            }
        }
    }
}

/// The keeper thread: heartbeats to every live worker while the links exist.
fn keep(links: Weak<Links>) {
    loop {
        std::thread::sleep(wire::HEARTBEAT_EVERY);
        let Some(links) = links.upgrade() else {
            return;
        };
        if links.stopping.load(Ordering::Acquire) {
            return;
        }
        for (index, link) in links.links.iter().enumerate() {
            if !link.is_lost() {
                if let Err(e) = link.sender.heartbeat() {
                    links.lose(index, format!("sending to it failed ({e})"));
                }
            }
        }
    }
}
