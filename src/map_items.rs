//! `MapItems`: what the thread pool's `map` accepts.
//!
//! rayon splits containers and ranges without copying them; a plain iterator (`v.iter()
//! .copied()`, `(0..n).map(g)`) cannot be split, so its items are gathered into a `Vec`
//! first, and that is split. Rust has no specialization, and a blanket impl for every
//! `Iterator` would collide with the container impls (std may one day make `Vec` an
//! iterator, says coherence), so the iterator types are listed one by one: std's
//! adapters and sources. A type of your own: `.collect::<Vec<_>>()` it, or use `imap`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::{Range, RangeInclusive};

use rayon::iter::{IntoParallelIterator, ParallelIterator};

/// Items for [`Pool::map`](crate::Pool::map) (and `starmap`, `map_async`) on threads:
/// anything rayon splits in place (a `Vec`, `&Vec`, slice, array, range, `HashMap`, …,
/// and rayon's common parallel iterators such as `v.par_iter()`), or one of std's
/// iterators (`iter()`, `copied()`, `map(…)`, `filter(…)`, `zip(…)`, `enumerate()`,
/// `chars()`, …), whose items are gathered first.
///
/// [`par_map`](crate::par_map) keeps rayon's `IntoParallelIterator` (any parallel
/// iterator, your own included): both traits cannot be accepted by one function, since
/// Rust has no specialization. For a plain iterator there, `.collect::<Vec<_>>()` it.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let v = vec![1u64, 2, 3];
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.map(|x| x * 2, v.iter().copied())?, [2, 4, 6]);
/// assert_eq!(pool.map(|x| x + 1, (0..3).map(|i| i * 10))?, [1, 11, 21]);
/// assert_eq!(pool.map(|x: &u64| x * x, &v)?, [1, 4, 9]); // split in place
/// # Ok::<(), paralelo::Error>(())
/// ```
pub trait MapItems {
    /// One item.
    type Item: Send;
    /// The parallel iterator the items come from.
    type Par: ParallelIterator<Item = Self::Item>;
    /// The items as a parallel iterator.
    fn into_par_items(self) -> Self::Par;
}

/// Containers and ranges: rayon's own splitting, no copy.
macro_rules! split_in_place {
    ($( [$($gen:tt)*] $ty:ty ;)*) => {$(
        impl<$($gen)*> MapItems for $ty
        where
            $ty: IntoParallelIterator,
        {
            type Item = <$ty as IntoParallelIterator>::Item;
            type Par = <$ty as IntoParallelIterator>::Iter;
            fn into_par_items(self) -> Self::Par {
                self.into_par_iter()
            }
        }
    )*};
}

split_in_place! {
    [T] Vec<T>;
    ['a, T] &'a Vec<T>;
    ['a, T] &'a mut Vec<T>;
    ['a, T] &'a [T];
    ['a, T] &'a mut [T];
    [T, const N: usize] [T; N];
    ['a, T, const N: usize] &'a [T; N];
    [T] VecDeque<T>;
    ['a, T] &'a VecDeque<T>;
    [K, V, S] HashMap<K, V, S>;
    ['a, K, V, S] &'a HashMap<K, V, S>;
    [T, S] HashSet<T, S>;
    ['a, T, S] &'a HashSet<T, S>;
    [K, V] BTreeMap<K, V>;
    ['a, K, V] &'a BTreeMap<K, V>;
    [T] BTreeSet<T>;
    ['a, T] &'a BTreeSet<T>;
    [T] Option<T>;
    [T] Range<T>;
    [T] RangeInclusive<T>;
    // rayon's own parallel iterators, as `pool.map(f, v.par_iter())` was written before.
    ['a, T] rayon::slice::Iter<'a, T>;
    ['a, T] rayon::slice::IterMut<'a, T>;
    ['a, T] rayon::slice::Chunks<'a, T>;
    [T] rayon::vec::IntoIter<T>;
    [T] rayon::range::Iter<T>;
    [T] rayon::range_inclusive::Iter<T>;
    [I, F] rayon::iter::Map<I, F>;
    [I, P] rayon::iter::Filter<I, P>;
    [I, P] rayon::iter::FilterMap<I, P>;
    [I] rayon::iter::Enumerate<I>;
    [A, B] rayon::iter::Zip<A, B>;
    [A, B] rayon::iter::Chain<A, B>;
    [I] rayon::iter::Copied<I>;
    [I] rayon::iter::Cloned<I>;
    [I, F] rayon::iter::FlatMap<I, F>;
}

/// std's iterators: gathered into a `Vec`, which is then split.
macro_rules! gathered {
    ($( [$($gen:tt)*] $ty:ty $({ $($bound:tt)* })? ;)*) => {$(
        impl<$($gen)*> MapItems for $ty
        where
            $ty: Iterator,
            <$ty as Iterator>::Item: Send,
            $($($bound)*)?
        {
            type Item = <$ty as Iterator>::Item;
            type Par = rayon::vec::IntoIter<Self::Item>;
            fn into_par_items(self) -> Self::Par {
                self.collect::<Vec<_>>().into_par_iter()
            }
        }
    )*};
}

use std::iter as it;

gathered! {
    [I, F] it::Map<I, F>;
    [I] it::Copied<I>;
    [I] it::Cloned<I>;
    [I, P] it::Filter<I, P>;
    [I, F] it::FilterMap<I, F>;
    [I] it::Enumerate<I>;
    [A, B] it::Zip<A, B>;
    [A, B] it::Chain<A, B>;
    [I] it::Take<I>;
    [I] it::Skip<I>;
    [I] it::StepBy<I>;
    [I] it::Rev<I>;
    [I, F] it::Inspect<I, F>;
    [I, P] it::TakeWhile<I, P>;
    [I, P] it::SkipWhile<I, P>;
    [I, P] it::MapWhile<I, P>;
    [I, St, F] it::Scan<I, St, F>;
    [I] it::Peekable<I> { I: Iterator };
    [I] it::Fuse<I>;
    [F] it::FromFn<F>;
    [T, F] it::Successors<T, F>;
    [T] it::Once<T>;
    [T] it::Empty<T>;
    [T] it::RepeatN<T>;
    ['a, T] std::slice::Iter<'a, T>;
    ['a, T] std::slice::IterMut<'a, T>;
    ['a, T] std::slice::Chunks<'a, T>;
    ['a, T] std::slice::ChunksExact<'a, T>;
    ['a, T] std::slice::Windows<'a, T>;
    [T] std::vec::IntoIter<T>;
    [T, const N: usize] std::array::IntoIter<T, N>;
    [T] std::option::IntoIter<T>;
    [T] std::collections::hash_set::IntoIter<T>;
    [T] std::collections::btree_set::IntoIter<T>;
    ['a, T] std::vec::Drain<'a, T>;
    ['a] std::str::Chars<'a>;
    ['a] std::str::CharIndices<'a>;
    ['a] std::str::Bytes<'a>;
    ['a] std::str::Lines<'a>;
    ['a] std::str::SplitWhitespace<'a>;
    ['a] std::str::Split<'a, char>;
    ['a] std::str::Split<'a, &'a str>;
    ['a, K, V] std::collections::hash_map::Iter<'a, K, V>;
    ['a, K, V] std::collections::hash_map::Keys<'a, K, V>;
    ['a, K, V] std::collections::hash_map::Values<'a, K, V>;
    [K, V] std::collections::hash_map::IntoIter<K, V>;
    ['a, K, V] std::collections::btree_map::Iter<'a, K, V>;
    ['a, K, V] std::collections::btree_map::Keys<'a, K, V>;
    ['a, K, V] std::collections::btree_map::Values<'a, K, V>;
    [K, V] std::collections::btree_map::IntoIter<K, V>;
    ['a, T] std::collections::hash_set::Iter<'a, T>;
    ['a, T] std::collections::btree_set::Iter<'a, T>;
    ['a, T] std::collections::vec_deque::Iter<'a, T>;
    [T] std::collections::vec_deque::IntoIter<T>;
}

// Adapters whose struct carries bounds of its own.
impl<I, U, F> MapItems for it::FlatMap<I, U, F>
where
    I: Iterator,
    U: IntoIterator,
    F: FnMut(I::Item) -> U,
    U::Item: Send,
{
    type Item = U::Item;
    type Par = rayon::vec::IntoIter<U::Item>;
    fn into_par_items(self) -> Self::Par {
        self.collect::<Vec<_>>().into_par_iter()
    }
}

impl<I> MapItems for it::Flatten<I>
where
    I: Iterator,
    I::Item: IntoIterator,
    <I::Item as IntoIterator>::Item: Send,
{
    type Item = <I::Item as IntoIterator>::Item;
    type Par = rayon::vec::IntoIter<Self::Item>;
    fn into_par_items(self) -> Self::Par {
        self.collect::<Vec<_>>().into_par_iter()
    }
}
