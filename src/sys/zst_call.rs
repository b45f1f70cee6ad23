//! Calling a stateless closure in another process forked from this one.
//!
//! A closure that captures nothing (or a function item) is a zero-sized value: all there
//! is to it is its code. A process forked after that code was loaded has the same code at
//! the same address, so the call can be sent as one address, with nothing encoded.

use std::marker::PhantomData;
use std::ptr::NonNull;

/// What a worker does with the closure: runs it and encodes the outcome into `out`,
/// returning a tag (the pool's framing). Implemented by the pool, so that this module
/// knows nothing of codecs.
pub(crate) trait Finish<R> {
    /// Runs `f` and writes its outcome into `out`.
    fn finish(f: impl FnOnce() -> R, out: &mut Vec<u8>) -> u8;
}

/// The signature every posted call has.
pub(crate) type Trampoline = fn(&mut Vec<u8>) -> u8;

fn trampoline<F: FnOnce() -> R, R, K: Finish<R>>(out: &mut Vec<u8>) -> u8 {
    // SAFETY: `ZstCall::of` made this address only for an `F` that is zero-sized and has
    // no drop glue, and the process that posted it handed its `F` over (`ZstCall::hand_over`
    // forgot it). Reading a zero-sized value from an aligned, non-null pointer reads no
    // memory: it is the handed-over value, moved into this process.
    let f = unsafe { NonNull::<F>::dangling().as_ptr().read() };
    K::finish(f, out)
}

/// A call of a stateless closure, as an address that processes forked from this one can
/// jump to (see [`LoadedCode`](super::LoadedCode) for which ones have the code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZstCall<F> {
    addr: usize,
    closure: PhantomData<fn() -> F>,
}

impl<F> ZstCall<F> {
    /// The call of `F` (finished by `K`), when `F` is zero-sized and has no drop glue.
    pub(crate) fn of<R, K: Finish<R>>() -> Option<Self>
    where
        F: FnOnce() -> R,
    {
        (std::mem::size_of::<F>() == 0 && !std::mem::needs_drop::<F>()).then_some(ZstCall {
            addr: trampoline::<F, R, K> as Trampoline as usize,
            closure: PhantomData,
        })
    }

    /// Where the call's code is.
    pub(crate) fn addr(&self) -> usize {
        self.addr
    }

    /// Gives `f` up: the process that receives the call makes it again. Forgetting a
    /// value without drop glue does nothing but end its life here.
    pub(crate) fn hand_over(self, f: F) -> PostedCall {
        std::mem::forget(f);
        PostedCall { addr: self.addr }
    }
}

/// A call whose closure was handed over: ready to post to exactly one worker.
#[derive(Debug)]
pub(crate) struct PostedCall {
    pub(super) addr: usize,
}
