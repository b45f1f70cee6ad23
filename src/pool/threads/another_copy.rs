//! `map` on a thread pool made by another copy of this crate's code (a pool made in an
//! earlier notebook cell: see [`crate::runtime::code_copy`]).

use std::sync::{Mutex, PoisonError};

use super::Threads;
use crate::Result;
use crate::interrupt;
use crate::par::catch_panic;
use crate::pool::chunking::guided_chunks;

impl Threads {
    /// `map` called from another copy of this crate's code than the pool's (see
    /// [`runtime::code_copy`]: a pool made in an earlier notebook cell). rayon's `install`
    /// would run the work on a worker that this copy's rayon does not know as one (it
    /// asserts), so the items go out in chunks spawned into a scope on the pool, which needs
    /// no thread-local: each worker takes the next chunk as it comes free. On one of the
    /// pool's own workers the scope's wait would block it, so the items run right there.
    pub(super) fn map_from_another_copy<T, F, R>(
        &self,
        f: &F,
        items: Vec<T>,
        epoch: u64,
    ) -> Result<Vec<R>>
    where
        T: Send,
        F: Fn(T) -> R + Sync,
        R: Send,
    {
        let run = |chunk: Vec<T>| {
            catch_panic(|| {
                let one = |x| {
                    interrupt::check(epoch);
                    f(x)
                };
                chunk.into_iter().map(one).collect::<Vec<R>>()
            })
        };
        if self.on_own_worker() {
            return run(items);
        }
        let sizes = match self.chunksize {
            Some(c) => vec![c; items.len().div_ceil(c)],
            None => guided_chunks(items.len(), self.workers, usize::MAX),
        };
        let mut rest = items.into_iter();
        let chunks: Vec<Vec<T>> = sizes
            .iter()
            .map(|&size| rest.by_ref().take(size).collect())
            .collect();
        let outcomes: Vec<Mutex<Option<Result<Vec<R>>>>> =
            chunks.iter().map(|_| Mutex::new(None)).collect();
        self.rayon.in_place_scope(|scope| {
            for (chunk, outcome) in chunks.into_iter().zip(&outcomes) {
                let run = &run;
                scope.spawn(move |_| {
                    *outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(run(chunk));
                });
            }
        });
        let mut results = Vec::new();
        for outcome in outcomes {
            let outcome = outcome.into_inner().unwrap_or_else(PoisonError::into_inner);
            results.extend(outcome.expect("the scope waits for its tasks")?);
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use crate::interrupt;
    use crate::prelude::*;

    // `map_from_another_copy` runs when a pool from an earlier notebook cell maps (kernel
    // test `values_made_in_one_cell_work_in_later_cells`); here it is called directly.
    #[test]
    fn map_from_another_copy_keeps_order_uses_the_workers_and_reports_panics() {
        let epoch = interrupt::epoch();
        let items: Vec<u64> = (0..1000).collect();
        let doubled: Vec<u64> = items.iter().map(|x| x * 2).collect();
        let pool = Pool::new(2).unwrap();
        let threads = Mutex::new(HashSet::new());
        let double = |x: u64| {
            threads.lock().unwrap().insert(std::thread::current().id());
            x * 2
        };
        let got = pool
            .backend
            .map_from_another_copy(&double, items.clone(), epoch);
        assert_eq!(got.unwrap(), doubled);
        let workers: HashSet<_> = pool.backend.worker_ids.iter().copied().collect();
        assert!(threads.into_inner().unwrap().is_subset(&workers));

        let exact = PoolBuilder::new().workers(2).chunksize(7).build().unwrap();
        let got = exact
            .backend
            .map_from_another_copy(&|x: u64| x * 2, items.clone(), epoch);
        assert_eq!(got.unwrap(), doubled);

        let boom = |x: u64| if x == 500 { panic!("quinientos") } else { x };
        let err = pool
            .backend
            .map_from_another_copy(&boom, items, epoch)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskPanicked);
        assert!(err.to_string().contains("quinientos"), "{err}");
        // The pool stays usable.
        assert_eq!(pool.map(|x: u8| x + 1, vec![1, 2]).unwrap(), [2, 3]);

        // From the only worker of a pool: runs there.
        let one = Pool::new(1).unwrap();
        let inner = one.apply(|| {
            one.backend
                .map_from_another_copy(&|x: i32| x + 1, vec![1, 2, 3], epoch)
        });
        assert_eq!(inner.unwrap().unwrap(), [2, 3, 4]);
        assert!(one.apply(|| one.backend.on_own_worker()).unwrap());
        assert!(!one.backend.on_own_worker());
    }
}
