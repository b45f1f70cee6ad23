//! `Checked`: a rayon adaptor that stops a parallel iterator soon after an interrupt.
//!
//! A check per item would cost a quarter of the time of a cheap map (`x * x`), and a check
//! per rayon job is free but comes too rarely when items are slow (a job can hold half the
//! input). So each job's items are consumed in chunks sized by measurement: a chunk of one
//! item first, then chunks aimed at a few milliseconds each, with a check before every
//! chunk; once the rest of the job is known to take only a moment, it runs in one go.

use std::time::{Duration, Instant};

use rayon::iter::ParallelIterator;
use rayon::iter::plumbing::{Consumer, Folder, UnindexedConsumer};

use super::check;

/// Work whose estimated rest is shorter than this runs without further checks.
const UNCHECKED_REST: Duration = Duration::from_millis(20);
/// What each checked chunk aims to take.
const CHUNK_TARGET: Duration = Duration::from_millis(5);

/// The items of `base`, stopping (by unwinding with `Interrupted`) once an interrupt comes
/// after `epoch`. Jobs not started yet unwind too, when rayon asks whether the consumer is
/// full: reporting it full instead would end an interrupt that came before any job took an
/// item with fewer items than `collect` expects, which rayon reports as a panic of its own.
pub(crate) struct Checked<I> {
    base: I,
    epoch: u64,
}

impl<I> Checked<I> {
    pub(crate) fn new(base: I, epoch: u64) -> Self {
        Checked { base, epoch }
    }
}

impl<I: ParallelIterator> ParallelIterator for Checked<I> {
    type Item = I::Item;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.base.drive_unindexed(CheckedConsumer {
            base: consumer,
            epoch: self.epoch,
        })
    }

    fn opt_len(&self) -> Option<usize> {
        // Keeps rayon's fast path for collecting into a Vec of known length.
        self.base.opt_len()
    }
}

struct CheckedConsumer<C> {
    base: C,
    epoch: u64,
}

impl<T, C: Consumer<T>> Consumer<T> for CheckedConsumer<C> {
    type Folder = CheckedFolder<C::Folder>;
    type Reducer = C::Reducer;
    type Result = C::Result;

    fn split_at(self, index: usize) -> (Self, Self, Self::Reducer) {
        let (left, right, reducer) = self.base.split_at(index);
        let epoch = self.epoch;
        (
            CheckedConsumer { base: left, epoch },
            CheckedConsumer { base: right, epoch },
            reducer,
        )
    }

    fn into_folder(self) -> Self::Folder {
        CheckedFolder {
            base: self.base.into_folder(),
            epoch: self.epoch,
        }
    }

    fn full(&self) -> bool {
        check(self.epoch);
        self.base.full()
    }
}

impl<T, C: UnindexedConsumer<T>> UnindexedConsumer<T> for CheckedConsumer<C> {
    fn split_off_left(&self) -> Self {
        CheckedConsumer {
            base: self.base.split_off_left(),
            epoch: self.epoch,
        }
    }

    fn to_reducer(&self) -> Self::Reducer {
        self.base.to_reducer()
    }
}

struct CheckedFolder<F> {
    base: F,
    epoch: u64,
}

impl<T, F: Folder<T>> Folder<T> for CheckedFolder<F> {
    type Result = F::Result;

    fn consume(mut self, item: T) -> Self {
        check(self.epoch);
        self.base = self.base.consume(item);
        self
    }

    fn consume_iter<I: IntoIterator<Item = T>>(mut self, items: I) -> Self {
        let mut items = items.into_iter();
        let mut step = 1usize;
        loop {
            check(self.epoch);
            let start = Instant::now();
            let mut chunk = Counted {
                inner: &mut items,
                left: step,
            };
            self.base = self.base.consume_iter(&mut chunk);
            if chunk.left > 0 || self.base.full() {
                return self; // the job's items are done, or the consumer wants no more
            }
            let per_item = start.elapsed().as_secs_f64() / step as f64;
            if let (rest, Some(upper)) = items.size_hint() {
                if rest == upper && per_item * rest as f64 <= UNCHECKED_REST.as_secs_f64() {
                    check(self.epoch);
                    self.base = self.base.consume_iter(items);
                    return self;
                }
            }
            let aimed = (CHUNK_TARGET.as_secs_f64() / per_item.max(1e-9)) as usize;
            step = aimed.clamp(1, step.saturating_mul(2));
        }
    }

    fn complete(self) -> F::Result {
        self.base.complete()
    }

    fn full(&self) -> bool {
        check(self.epoch);
        self.base.full()
    }
}

/// At most `left` items of `inner`; `left` shows afterwards whether `inner` ran out.
struct Counted<'a, I> {
    inner: &'a mut I,
    left: usize,
}

impl<I: Iterator> Iterator for Counted<'_, I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lower, upper) = self.inner.size_hint();
        (
            lower.min(self.left),
            Some(upper.map_or(self.left, |u| u.min(self.left))),
        )
    }
}
