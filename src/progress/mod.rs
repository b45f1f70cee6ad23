//! tqdm's progress bars: [`progress`] around any iterator, `.progress()` on any iterator
//! (the pools' lazy `imap` and `imap_unordered` included).
//!
//! Where the bar shows up:
//!
//! - **In Jupyter with `paralelo-kernel`**: one output of the cell, an HTML bar (count,
//!   percent, rate, elapsed and remaining time) replaced in place through
//!   [`DisplayHandle::update_mime`](crate::display::DisplayHandle::update_mime), at most
//!   10 times a second; its `text/plain` form is the text bar, which is what the headless
//!   runner (`paralelo-kernel run`) stores and prints.
//! - **Under stock evcxr** (which cannot update an output): the final state, once.
//! - **In a terminal**: a text bar redrawn on one line of standard error (`indicatif`).
//! - **Anywhere else** (a pipe, a CI log): the final state once, as one line on standard
//!   error; never a line per update.
//!
//! The per-item cost is a counter and a comparison: the clock is read only every so many
//! items, so that it is read about 20 times a second.
//!
//! # Examples
//!
//! ```
//! use paralelo::prelude::*;
//!
//! let pool = Pool::new(2)?;
//! let squares: Vec<u64> = pool
//!     .imap(|x: u64| x * x, 0..1000u64)?
//!     .progress()
//!     .total(1000)
//!     .desc("cuadrados")
//!     .collect::<Result<_>>()?;
//! assert_eq!(squares[999], 998_001);
//!
//! let total: u64 = progress(0..100u64).sum();
//! assert_eq!(total, 4950);
//! # Ok::<(), paralelo::Error>(())
//! ```

mod bar;
mod render;

pub use bar::Progress;

/// Wraps an iterable in a progress bar, as tqdm's `tqdm(iterable)`.
///
/// The total is the iterator's exact length when it knows it (`ExactSizeIterator`, or a
/// `size_hint` whose bounds agree); otherwise give it with [`Progress::total`], or the bar
/// shows a count without a percentage.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let mut hechos = 0;
/// for _ in progress(vec!["a", "b", "c"]).desc("letras") {
///     hechos += 1;
/// }
/// assert_eq!(hechos, 3);
/// ```
pub fn progress<I: IntoIterator>(iterable: I) -> Progress<I::IntoIter> {
    Progress::new(iterable.into_iter())
}

/// `.progress()` on every iterator: the same bar as [`progress`].
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let pares: Vec<u32> = (0..10u32).filter(|x| x % 2 == 0).progress().total(5).collect();
/// assert_eq!(pares, [0, 2, 4, 6, 8]);
/// ```
pub trait ProgressIterator: Iterator + Sized {
    /// Wraps this iterator in a progress bar.
    fn progress(self) -> Progress<Self> {
        Progress::new(self)
    }
}

impl<I: Iterator> ProgressIterator for I {}
