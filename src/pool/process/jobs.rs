//! The process pool's `*_async` calls: queued in the pool's ledger, taken one at a time
//! by runner threads that live as long as the pool (a child is killed when the thread
//! that forked it ends, `PR_SET_PDEATHSIG`, so async tasks are forked from these).

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::pool::lifecycle::{Ledger, Queue};
use crate::{Error, ErrorKind, Result};

/// A queued `*_async` call: `run` does the work, `cancel` fails it without running it.
pub(in crate::pool) struct Job {
    pub(in crate::pool) run: Box<dyn FnOnce() + Send>,
    pub(in crate::pool) cancel: Box<dyn FnOnce(Error) + Send>,
}

/// The queued calls, first in first out.
#[derive(Default)]
pub(in crate::pool) struct Jobs(VecDeque<Job>);

impl Jobs {
    pub(in crate::pool) fn push(&mut self, job: Job) {
        self.0.push_back(job);
    }
}

impl Queue for Jobs {
    type Task = Job;

    fn drain(&mut self) -> Vec<Job> {
        self.0.drain(..).collect()
    }
}

/// Starts `workers` runner threads taking jobs from `ledger` until the pool stops.
pub(in crate::pool) fn start_runners(
    workers: usize,
    ledger: &Arc<Ledger<Jobs>>,
) -> Result<Vec<JoinHandle<()>>> {
    let mut runners = Vec::with_capacity(workers);
    for i in 0..workers {
        let ledger = ledger.clone();
        let handle = std::thread::Builder::new()
            .name(format!("paralelo-process-runner-{}", i + 1))
            .spawn(move || serve(&ledger))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Os,
                    format!("could not start a runner thread: {e}"),
                )
            })?;
        runners.push(handle);
    }
    Ok(runners)
}

/// A runner thread's loop: take queued jobs one at a time.
fn serve(ledger: &Ledger<Jobs>) {
    while let Some(job) = ledger.next_task(|jobs| jobs.0.pop_front()) {
        (job.run)();
        ledger.done();
    }
}
