//! The lazy iterator of the MPI pool's `imap` and `imap_unordered`.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::dispatch::{Dispatch, Sent};
use crate::pool::lifecycle::OwnedBusy;
use crate::{Error, Result};

type Inputs = Box<dyn Iterator<Item = Result<Vec<u8>>>>;

enum Source<R> {
    /// One rank only: each item runs on rank 0 as the iterator is consumed.
    Local(Box<dyn Iterator<Item = Result<R>>>),
    Remote {
        dispatch: Dispatch,
        offset: i64,
        inputs: Inputs,
        ordered: bool,
        /// Items sent and not yet received, at most this many.
        window: usize,
        sent: usize,
        /// Results that came before an earlier one (ordered mode).
        early: BTreeMap<usize, Result<R>>,
        next: usize,
        /// Set when the input or the pool refused: reported once, then the end.
        refused: Option<Error>,
    },
}

/// The iterator returned by [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered) on an MPI pool: each item's
/// result, in input order (`imap`) or as soon as ready (`imap_unordered`).
///
/// It is lazy: items are encoded and sent only as results are consumed, a few per rank
/// at a time, so the input may be endless. Each item's failure is that item's `Err`.
#[must_use = "imap is lazy: nothing runs until the iterator is consumed"]
pub struct MpiImap<R> {
    _busy: OwnedBusy<Sent>,
    source: Source<R>,
}

impl<R> MpiImap<R> {
    pub(super) fn local(
        busy: OwnedBusy<Sent>,
        values: Box<dyn Iterator<Item = Result<R>>>,
    ) -> Self {
        MpiImap {
            _busy: busy,
            source: Source::Local(values),
        }
    }

    pub(super) fn remote(
        busy: OwnedBusy<Sent>,
        dispatch: Dispatch,
        offset: i64,
        inputs: Inputs,
        ordered: bool,
        window: usize,
    ) -> Self {
        MpiImap {
            _busy: busy,
            source: Source::Remote {
                dispatch,
                offset,
                inputs,
                ordered,
                window,
                sent: 0,
                early: BTreeMap::new(),
                next: 0,
                refused: None,
            },
        }
    }
}

impl<R: DeserializeOwned> Iterator for MpiImap<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        let Source::Remote {
            dispatch,
            offset,
            inputs,
            ordered,
            window,
            sent,
            early,
            next,
            refused,
        } = &mut self.source
        else {
            let Source::Local(values) = &mut self.source else {
                unreachable!()
            };
            return values.next();
        };
        loop {
            if let Some(value) = early.remove(next) {
                *next += 1;
                return Some(value);
            }
            // Fill the window (ordered: no further than `window` past the awaited item).
            while refused.is_none() && dispatch.in_flight < *window {
                match inputs.next() {
                    None => break,
                    Some(Err(e)) => *refused = Some(e),
                    Some(Ok(bytes)) => match dispatch.send(*sent, *offset, &bytes) {
                        Ok(()) => *sent += 1,
                        Err(e) => *refused = Some(e),
                    },
                }
            }
            let Some((index, values)) = dispatch.receive::<R>() else {
                return refused.take().map(Err);
            };
            let value = values.and_then(|mut v| {
                v.pop()
                    .ok_or_else(|| Error::new(crate::ErrorKind::Serialization, "an empty result"))
            });
            if !*ordered {
                return Some(value);
            }
            early.insert(index, value);
        }
    }
}

impl<R> std::fmt::Debug for MpiImap<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MpiImap")
    }
}
