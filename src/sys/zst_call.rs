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

/// The signature every posted call has, a stateless closure's ([`ZstCall`]) as a chunk
/// call's ([`PlainCall`](super::PlainCall)): the items' bytes in (none for a closure), the
/// encoded outcome out, and its tag (the pool's framing) returned.
pub(super) type PostedFn = fn(&[u8], &mut Vec<u8>) -> u8;

fn trampoline<F: FnOnce() -> R, R, K: Finish<R>>(_: &[u8], out: &mut Vec<u8>) -> u8 {
    // SAFETY: `ZstCall::of` made this address only for an `F` that is zero-sized and has
    // no drop glue, and the process that posted it handed its `F` over (`ZstCall::hand_over`
    // forgot it). Reading a zero-sized value from an aligned, non-null pointer reads no
    // memory: it is the handed-over value, moved into this process.
    let f = unsafe { NonNull::<F>::dangling().as_ptr().read() };
    K::finish(f, out)
}

/// A call of a stateless closure, as an address that processes forked from this one can
/// jump to (see [`LoadedCode`](super::loaded::LoadedCode) for which ones have the code).
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
            addr: trampoline::<F, R, K> as PostedFn as usize,
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

/// A call ready to post to a worker: a closure handed over (to exactly one worker), or a
/// chunk call (stateless, reusable).
#[derive(Debug)]
pub(crate) struct PostedCall {
    pub(super) addr: usize,
}

/// In a worker: runs the posted call at `addr` on `items`, appending its outcome to `out`;
/// returns its tag.
///
/// The pool posts only addresses of [`PostedFn`]s (from [`ZstCall`] or
/// [`PlainCall`](super::PlainCall)), and only to a worker whose snapshot of loaded code,
/// taken right before it was forked, contains them (nothing unloaded since): the worker has
/// that very function at that address.
pub(super) fn run_posted(addr: usize, items: &[u8], out: &mut Vec<u8>) -> u8 {
    // SAFETY: by the protocol above, `addr` is the address of a `PostedFn`, present in
    // this process at the same address as in the pool's.
    let call = unsafe { std::mem::transmute::<usize, PostedFn>(addr) };
    call(items, out)
}
