//! Sending a call's chunks to the worker ranks as they free up (dynamic scheduling), and
//! receiving their outcomes in the order they finish; every task sent is in the pool's
//! ledger until it finishes, so that `terminate` can fail it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};

use serde::de::DeserializeOwned;

use super::links::{Links, Outcome};
use super::task;
use crate::Result;
use crate::pool::lifecycle::{self, Queue};

/// The MPI pool's queue in its [`lifecycle::Ledger`]: the ids of the tasks sent and not
/// finished (waiting on their rank or running there), which `terminate` fails.
#[derive(Default)]
pub(super) struct Sent(HashSet<u64>);

impl Queue for Sent {
    type Task = u64;

    fn drain(&mut self) -> Vec<u64> {
        self.0.drain().collect()
    }
}

/// The MPI pool's ledger: its phase, its calls in flight and its [`Sent`] tasks.
pub(super) type Ledger = lifecycle::Ledger<Sent>;

/// Sends the call (`offset`, `input`) to the worker at `index` as a new task, kept in
/// `ledger` until it finishes; `done` gets its outcome, exactly once. A task of a call
/// that `terminate` overtook (a map sending its next chunks) is never sent, or, when
/// `terminate` came while it was being sent, failed like the others it failed.
pub(super) fn submit(
    links: &Links,
    ledger: &Arc<Ledger>,
    index: usize,
    offset: i64,
    input: &[u8],
    done: impl FnOnce(Outcome) + Send + 'static,
) {
    let id = links.new_id();
    if !ledger.queue_unless_terminated(|sent| {
        sent.0.insert(id);
    }) {
        done(Err(lifecycle::never_ran()));
        return;
    }
    let finished = ledger.clone();
    links.submit(
        index,
        id,
        offset,
        input,
        Box::new(move |outcome| {
            finished.with_queue(|sent| sent.0.remove(&id));
            done(outcome);
        }),
    );
    // `terminate` drained the queue between the two steps above: it could not cancel a
    // task `links` did not know yet.
    if ledger.is_terminated() {
        links.cancel(id, lifecycle::unfinished());
    }
}

/// Chunks a worker may hold at once: one running, one waiting, so that it never idles
/// for a round trip between two chunks.
const PER_WORKER: usize = 2;

/// Chunk sizes for `n` items on `workers` ranks: each about 1/(2 × workers) of what is
/// left, at least n/(8 × workers) and at most 65 536 items. Large chunks first cost few
/// round trips; small ones last keep one rank from finishing a long chunk alone while
/// the others idle ("guided" scheduling).
pub(super) fn guided_chunks(n: usize, workers: usize) -> Vec<usize> {
    let workers = workers.max(1);
    let smallest = n.div_ceil(8 * workers).clamp(1, 1 << 16);
    let mut left = n;
    let mut sizes = Vec::new();
    while left > 0 {
        let size = left
            .div_ceil(2 * workers)
            .clamp(smallest, 1 << 16)
            .min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// One call's chunks in flight.
pub(super) struct Dispatch {
    links: Arc<Links>,
    ledger: Arc<Ledger>,
    sent: Sender<(usize, usize, Outcome)>,
    outcomes: Receiver<(usize, usize, Outcome)>,
    /// Chunks sent and not yet received.
    pub(super) in_flight: usize,
}

impl Dispatch {
    pub(super) fn new(links: Arc<Links>, ledger: Arc<Ledger>) -> Self {
        let (sent, outcomes) = channel();
        Dispatch {
            links,
            ledger,
            sent,
            outcomes,
            in_flight: 0,
        }
    }

    /// The worker the next chunk should go to: one with room, or (when this call has
    /// nothing in flight) the least busy. None when it should wait, or no worker is live.
    fn pick(&self) -> Option<usize> {
        let index = self.links.least_busy()?;
        let room = self.links.links[index].in_flight.load(Ordering::Relaxed) < PER_WORKER;
        (room || self.in_flight == 0).then_some(index)
    }

    /// True when a chunk sent now would start soon.
    pub(super) fn has_room(&self) -> bool {
        self.pick().is_some()
    }

    /// Sends chunk `chunk` (the call at `offset`, with `input`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WorkerDied`](crate::ErrorKind::WorkerDied) when no worker is left.
    pub(super) fn send(&mut self, chunk: usize, offset: i64, input: &[u8]) -> Result<()> {
        let Some(index) = self.links.least_busy() else {
            return Err(self.links.all_lost());
        };
        let sent = self.sent.clone();
        self.in_flight += 1;
        submit(
            &self.links,
            &self.ledger,
            index,
            offset,
            input,
            move |outcome| {
                // The caller may have given up (an error elsewhere): nobody waits then.
                let _ = sent.send((chunk, index, outcome));
            },
        );
        Ok(())
    }

    /// The next chunk to finish: its number and its decoded values. Every chunk sent
    /// finishes: with its values, its error, or its rank's loss.
    pub(super) fn receive<R: DeserializeOwned>(&mut self) -> Option<(usize, Result<Vec<R>>)> {
        if self.in_flight == 0 {
            return None;
        }
        let (chunk, index, outcome) = self.outcomes.recv().ok()?;
        self.in_flight -= 1;
        let name = self.links.links[index].name();
        Some((
            chunk,
            outcome.and_then(|(tag, bytes)| task::outcome::<Vec<R>>(tag, &bytes, &name)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guided_chunks_cover_the_items_large_first() {
        let sizes = guided_chunks(1000, 3);
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]));
        assert!(sizes[0] > *sizes.last().unwrap());
        assert_eq!(guided_chunks(0, 2), Vec::<usize>::new());
        assert_eq!(guided_chunks(1, 4), [1]);
    }
}
