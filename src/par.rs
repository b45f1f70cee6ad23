//! `par_map` and friends: one call, all cores, results in input order.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::interrupt::{self, Checked};
use crate::{Error, Result, runtime};

/// Applies `f` to every item in parallel and returns the results in input order.
///
/// The Rust counterpart of `Pool().map(f, items)` without creating a pool: the work runs on
/// rayon's threads, which split it adaptively between the cores (no chunk size to tune).
/// `items` is anything rayon can split: a `Vec`, a range, a slice or `&Vec` (items by
/// reference), a `HashMap`, … For a plain iterator, `collect()` it first, or stream it
/// through [`Pool::imap`](crate::Pool::imap).
///
/// It can be called from any thread, from inside a [`Pool`](crate::Pool) task (the work then
/// stays on that pool's threads) and from a forked child process (which gets threads of its
/// own: the parent's are not copied by `fork`).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let squares = par_map(|x| x * x, 0..10)?;
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
///
/// let words = vec!["uno", "dos", "tres"];
/// assert_eq!(par_map(|w| w.len(), &words)?, [3, 3, 4]);
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// If `f` panics, the call returns an [`ErrorKind::TaskPanicked`](crate::ErrorKind) error
/// with the panic's message, once the items already started have finished; the process and
/// the thread pool stay usable. After an [interrupt](crate::interrupt) it returns an
/// [`ErrorKind::Interrupted`](crate::ErrorKind) error, skipping the items not yet started.
///
/// ```
/// use paralelo::prelude::*;
///
/// let err = par_map(|x: i32| if x == 3 { panic!("no me gusta el {x}") } else { x }, 0..5)
///     .unwrap_err();
/// assert!(err.to_string().contains("no me gusta el 3"));
/// ```
pub fn par_map<I, F, R>(f: F, items: I) -> Result<Vec<R>>
where
    I: IntoParallelIterator,
    F: Fn(I::Item) -> R + Sync + Send,
    R: Send,
{
    let iter = items.into_par_iter();
    let epoch = interrupt::epoch();
    catch_panic(|| runtime::install(|| Checked::new(iter.map(f), epoch).collect()))
}

/// Like [`par_map`] for functions of several arguments: each item is a tuple of arguments.
///
/// The parallel counterpart of Python's `itertools.starmap` (and of `Pool.starmap`).
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// fn multiply(a: i32, b: i32) -> i32 {
///     a * b
/// }
/// let products = par_starmap(multiply, vec![(1, 2), (3, 4), (5, 6), (7, 8)])?;
/// assert_eq!(products, [2, 12, 30, 56]);
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// As [`par_map`]: a panic in `f` becomes an [`ErrorKind::TaskPanicked`](crate::ErrorKind) error.
pub fn par_starmap<I, F>(f: F, items: I) -> Result<Vec<F::Output>>
where
    I: IntoParallelIterator,
    F: crate::StarFn<I::Item> + Sync + Send,
    F::Output: Send,
{
    par_map(move |args| f.call(args), items)
}

/// Calls `f` on every item in parallel, for its side effects.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let total = AtomicU64::new(0);
/// par_for_each(|x| { total.fetch_add(x, Ordering::Relaxed); }, 1..=100u64)?;
/// assert_eq!(total.into_inner(), 5050);
/// # Ok::<(), paralelo::Error>(())
/// ```
///
/// # Errors
///
/// As [`par_map`]: a panic in `f` becomes an [`ErrorKind::TaskPanicked`](crate::ErrorKind) error.
pub fn par_for_each<I, F>(f: F, items: I) -> Result<()>
where
    I: IntoParallelIterator,
    F: Fn(I::Item) + Sync + Send,
{
    let iter = items.into_par_iter();
    let epoch = interrupt::epoch();
    catch_panic(|| runtime::install(|| Checked::new(iter.map(f), epoch).for_each(drop)))
}

/// Runs `op`, turning a panic (rayon re-raises the first panic of its jobs in the caller)
/// into an error. Catching once around the whole call costs nothing per item.
pub(crate) fn catch_panic<R>(op: impl FnOnce() -> R) -> Result<R> {
    catch_unwind(AssertUnwindSafe(op)).map_err(Error::from_panic)
}
