//! Chunk sizes, shared by the thread and process pools.

use std::collections::VecDeque;

use crate::{Error, Result};

/// At most this many items per automatic chunk: bounds what each worker and the owner
/// hold at once, for a few more forks on very long inputs.
pub(super) const MAX_AUTO_CHUNK: usize = 1 << 16;

/// The share of the items still to cut that an automatic chunk takes, per worker.
const GUIDED_SHARE: usize = 4;

/// The floor of automatic chunks: 1/(`SMALLEST_SHARE` × workers) of the window. Finer
/// than Python's 1/4 of a worker's share, since a chunk costs a socket round trip here,
/// not a fork.
const SMALLEST_SHARE: usize = 64;

/// Automatic chunk sizes for a window of `n` items on `workers` children: each chunk
/// is about 1/([`GUIDED_SHARE`] × `workers`) of the items still to cut, at least
/// `n / (SMALLEST_SHARE × workers)`, at most `largest` (and [`MAX_AUTO_CHUNK`]). Big chunks
/// first cost few round trips; small ones last keep a child from running a long chunk
/// alone while the other idles ("guided" scheduling).
pub(crate) fn guided_chunks(n: usize, workers: usize, largest: usize) -> Vec<usize> {
    let workers = workers.max(1);
    let largest = largest.clamp(1, MAX_AUTO_CHUNK);
    let smallest = n.div_ceil(SMALLEST_SHARE * workers).clamp(1, largest);
    let mut left = n;
    let mut sizes = Vec::new();
    while left > 0 {
        let size = left
            .div_ceil(GUIDED_SHARE * workers)
            .clamp(smallest, largest)
            .min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// A per-call chunk size, checked.
pub(super) fn checked_chunksize(chunksize: usize) -> Result<usize> {
    if chunksize == 0 {
        return Err(Error::invalid_argument(
            "chunksize must be at least 1 (got 0): it is the number of items per task",
        ));
    }
    Ok(chunksize)
}

/// The dealing rule of the process pool's `map` loops (the crew's and the children forked
/// for a call): gives worker `m` a second chunk to queue while more chunks are left than
/// the `at_once` workers can take (near the end, a queued chunk could wait while another
/// worker idles), and a first one if it holds none. `holding` counts the chunks `m`
/// holds; `give` hands it one.
pub(super) fn top_up<M>(
    m: &mut M,
    holding: impl Fn(&M) -> usize,
    pending: &mut VecDeque<usize>,
    at_once: usize,
    mut give: impl FnMut(&mut M, usize),
) {
    while holding(m) < 2 && pending.len() > at_once {
        let Some(i) = pending.pop_front() else { break };
        give(m, i);
    }
    if holding(m) == 0 {
        if let Some(i) = pending.pop_front() {
            give(m, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_AUTO_CHUNK, guided_chunks};

    #[test]
    fn guided_chunks_cover_the_window_and_shrink_to_a_floor() {
        for (n, workers) in [
            (1, 1),
            (7, 2),
            (1000, 2),
            (1000, 5),
            (1 << 20, 2),
            (100, 64),
        ] {
            let sizes = guided_chunks(n, workers, usize::MAX);
            assert_eq!(sizes.iter().sum::<usize>(), n, "n={n} workers={workers}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
            assert!(sizes.iter().all(|s| (1..=MAX_AUTO_CHUNK).contains(s)));
        }
        // 1,000 items on 2 workers: 125 first, 8-item chunks at the end.
        let sizes = guided_chunks(1000, 2, usize::MAX);
        assert_eq!(sizes[0], 125);
        assert_eq!(sizes[sizes.len() - 2], 8);
        assert!(sizes.len() < 40, "{} chunks", sizes.len());
        assert!(guided_chunks(0, 2, usize::MAX).is_empty());
        // Capped (persistent workers' messages): no chunk above the cap.
        let sizes = guided_chunks(100_000, 2, 4096);
        assert_eq!(sizes.iter().sum::<usize>(), 100_000);
        assert!(sizes.iter().all(|&s| s <= 4096));
    }
}
