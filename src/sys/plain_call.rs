//! Calling a stateless function on plain items in a persistent worker process.
//!
//! Like [`ZstCall`](super::ZstCall): a function that captures nothing is all code, found
//! at the same address in a process forked after it was loaded. Its items cross as their
//! bytes, which is only meaningful for plain values: primitive numbers, `bool`, `char`
//! (no pointers, no padding, nothing to drop). Which type `A` is gets checked at run time
//! with `typeid`, since a pool's `map` takes any item type.

use std::ptr::NonNull;

use super::zst_call::{PostedCall, PostedFn};

/// How a worker encodes a chunk's results. Implemented by the pool, so that this module
/// knows nothing of codecs.
pub(crate) trait EncodeResults<R> {
    /// Encodes `results` (computed as they are read) into `out`; returns the tag of the
    /// outcome (the pool's framing: the results, a panic's or an encoding error's message).
    fn encode(results: impl ExactSizeIterator<Item = R>, out: &mut Vec<u8>) -> u8;
}

fn trampoline<A, F, R, K>(items: &[u8], out: &mut Vec<u8>) -> u8
where
    F: Fn(A) -> R,
    K: EncodeResults<R>,
{
    // SAFETY: `PlainCall::of` made this address only for an `F` that is zero-sized and
    // has no drop glue: a reference to it at any aligned, non-null address reads no
    // memory and is the one value of that type (a closure without state).
    let f: &F = unsafe { NonNull::<F>::dangling().as_ref() };
    // SAFETY: and only for a plain `A` (`is_plain`): the bytes are copies of valid `A`s,
    // `size_of::<A>()` bytes each, read without alignment.
    let items = items
        .chunks_exact(std::mem::size_of::<A>())
        .map(|bytes| unsafe { bytes.as_ptr().cast::<A>().read_unaligned() });
    K::encode(items.map(f), out)
}

/// A chunk call of a stateless function over plain items, as an address that processes
/// forked from this one after its code was loaded can run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlainCall {
    addr: usize,
}

impl PlainCall {
    /// The chunk call of `F` over `A` (results encoded by `K`), when `F` is zero-sized
    /// with no drop glue and `A` is plain.
    pub(crate) fn of<A, F, R, K>() -> Option<Self>
    where
        F: Fn(A) -> R,
        K: EncodeResults<R>,
    {
        let stateless = std::mem::size_of::<F>() == 0 && !std::mem::needs_drop::<F>();
        (stateless && is_plain::<A>()).then_some(PlainCall {
            addr: trampoline::<A, F, R, K> as PostedFn as usize,
        })
    }

    /// Where the call's code is.
    pub(crate) fn addr(&self) -> usize {
        self.addr
    }

    /// The call, to post with a chunk's items (it may be posted again and again).
    pub(crate) fn posted(&self) -> PostedCall {
        PostedCall { addr: self.addr }
    }
}

/// True for the primitive types whose values can cross as bytes.
fn is_plain<A>() -> bool {
    use typeid::of;
    let id = of::<A>();
    [
        of::<u8>(),
        of::<u16>(),
        of::<u32>(),
        of::<u64>(),
        of::<u128>(),
        of::<usize>(),
        of::<i8>(),
        of::<i16>(),
        of::<i32>(),
        of::<i64>(),
        of::<i128>(),
        of::<isize>(),
        of::<f32>(),
        of::<f64>(),
        of::<bool>(),
        of::<char>(),
    ]
    .contains(&id)
}

/// The bytes of plain `items` (`None` for any other type).
pub(crate) fn plain_bytes<A>(items: &[A]) -> Option<&[u8]> {
    // SAFETY: a plain type has no padding, so every byte of `items` is initialized, and
    // the view borrows `items` for its whole length.
    is_plain::<A>().then(|| unsafe {
        std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items))
    })
}

#[cfg(test)]
mod tests {
    use super::super::zst_call::run_posted;
    use super::*;

    struct Debug;
    impl<R: std::fmt::Debug> EncodeResults<R> for Debug {
        fn encode(results: impl ExactSizeIterator<Item = R>, out: &mut Vec<u8>) -> u8 {
            let results: Vec<R> = results.collect();
            out.extend_from_slice(format!("{results:?}").as_bytes());
            7
        }
    }

    fn square(x: u64) -> u64 {
        x * x
    }

    /// The call of `f` over `A`, if it qualifies (the closure's type cannot be named).
    fn call_of<A, R: std::fmt::Debug, F: Fn(A) -> R>(_: &F) -> Option<PlainCall> {
        PlainCall::of::<A, F, R, Debug>()
    }

    #[test]
    fn a_stateless_call_over_plain_items_runs_from_its_address() {
        let call = call_of(&square).unwrap();
        let items = [3u64, 4, 5];
        let mut out = Vec::new();
        assert_eq!(
            run_posted(call.addr(), plain_bytes(&items).unwrap(), &mut out),
            7
        );
        assert_eq!(String::from_utf8(out).unwrap(), "[9, 16, 25]");
        let chars = ['a', 'é'];
        let mut out = Vec::new();
        let upper = call_of(&|c: char| c.to_uppercase().next()).unwrap();
        assert_eq!(
            run_posted(upper.addr(), plain_bytes(&chars).unwrap(), &mut out),
            7
        );
        assert_eq!(String::from_utf8(out).unwrap(), "[Some('A'), Some('É')]");
    }

    #[test]
    fn only_plain_items_and_stateless_functions_qualify() {
        assert!(plain_bytes(&[1u8, 2]).is_some());
        assert!(plain_bytes(&[1.5f64]).is_some());
        assert!(plain_bytes(&["a"]).is_none());
        assert!(plain_bytes(&[(1u8, 2u64)]).is_none());
        assert!(plain_bytes(&[vec![1u8]]).is_none());
        let offset = 3;
        assert!(call_of(&move |x: u64| x + offset).is_none());
        assert!(call_of(&|x: u64| x + 1).is_some());
        assert!(call_of(&(square as fn(u64) -> u64)).is_none());
        assert!(call_of(&|s: String| s.len()).is_none());
        assert!(call_of(&|s: &str| s.len()).is_none());
    }
}
