//! Calling a stateless function on another MPI rank, by its place in the executable.
//!
//! Every rank runs the same executable (checked at `paralelo::mpi::init` with a hash of
//! the file), but each maps it at its own base address (PIE, ASLR). So a call is sent as
//! the distance from a fixed function of this module, [`anchor`], to the call's
//! trampoline: in an identical file that distance is identical on every rank. The
//! trampoline of a zero-sized function type makes the value again on the receiving rank
//! (it has no bytes) and hands it to the finisher, which decodes the input and encodes
//! the outcome.

use std::ptr::NonNull;

/// What a rank does with the function: decodes `input`, runs it, writes the encoded
/// outcome into `out` and returns the outcome's tag. Implemented by `paralelo::mpi`, so
/// that this module knows nothing of codecs.
pub(crate) trait RankFinish<F> {
    /// Runs `f` on `input`, writing its outcome into `out`.
    fn finish(f: F, input: &[u8], out: &mut Vec<u8>) -> u8;
}

/// The signature every trampoline has.
type RankTrampoline = fn(&[u8], &mut Vec<u8>) -> u8;

/// The fixed point calls are measured from. Never inlined, so it has one address.
#[inline(never)]
fn anchor(_: &[u8], _: &mut Vec<u8>) -> u8 {
    0
}

fn trampoline<F, K: RankFinish<F>>(input: &[u8], out: &mut Vec<u8>) -> u8 {
    // SAFETY: `RankCall::of` made this trampoline only for an `F` that is zero-sized and
    // has no drop glue. Reading a zero-sized value from an aligned, non-null pointer
    // reads no memory; the value is the one rank 0 gave up (`RankCall::hand_over`).
    let f = unsafe { NonNull::<F>::dangling().as_ptr().read() };
    K::finish(f, input, out)
}

/// A call of a stateless function, as an offset that every rank of the same executable
/// can turn back into the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RankCall {
    offset: i64,
}

impl RankCall {
    /// The call of `F` (finished by `K`), when `F` is zero-sized and has no drop glue.
    pub(crate) fn of<F, K: RankFinish<F>>() -> Option<Self> {
        let stateless = std::mem::size_of::<F>() == 0 && !std::mem::needs_drop::<F>();
        stateless.then(|| RankCall {
            offset: (trampoline::<F, K> as RankTrampoline as usize)
                .wrapping_sub(anchor as RankTrampoline as usize) as i64,
        })
    }

    /// The offset, to send.
    #[cfg(test)]
    pub(crate) fn offset(self) -> i64 {
        self.offset
    }

    /// Gives `f` up: the rank that receives the call makes it again. Forgetting a value
    /// without drop glue does nothing but end its life here.
    pub(crate) fn hand_over<F>(self, f: F) -> i64 {
        std::mem::forget(f);
        self.offset
    }
}

/// Runs the call that rank 0 sent as `offset` on `input`.
///
/// The caller guarantees that `offset` came from [`RankCall::of`] in a process running
/// the same executable file as this one (`paralelo::mpi::init` refuses to start
/// otherwise), which is what makes the jump sound; it is not a public function.
pub(crate) fn run_rank_call(offset: i64, input: &[u8], out: &mut Vec<u8>) -> u8 {
    let addr = (anchor as RankTrampoline as usize).wrapping_add(offset as usize);
    // SAFETY: in an identical executable every function lies at the same distance from
    // `anchor`, so `addr` is the address of the trampoline that rank 0 took the offset
    // from, a `RankTrampoline` of this process. Function pointers and `usize` have the
    // same size on every target Rust supports with MPI.
    let call = unsafe { std::mem::transmute::<usize, RankTrampoline>(addr) };
    call(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl<F: Fn(u8) -> u8> RankFinish<F> for Echo {
        fn finish(f: F, input: &[u8], out: &mut Vec<u8>) -> u8 {
            out.extend(input.iter().map(|&b| f(b)));
            7
        }
    }

    fn double(x: u8) -> u8 {
        x * 2
    }

    #[test]
    fn a_stateless_function_runs_from_its_offset() {
        fn of<F: Fn(u8) -> u8>(_: &F) -> Option<RankCall> {
            RankCall::of::<F, Echo>()
        }
        let offset = of(&double).expect("a function item is stateless").offset();
        let mut out = Vec::new();
        assert_eq!(run_rank_call(offset, &[1, 2, 3], &mut out), 7);
        assert_eq!(out, [2, 4, 6]);
    }

    #[test]
    fn a_capturing_closure_has_no_offset() {
        fn of<F: Fn(u8) -> u8>(_: &F) -> Option<RankCall> {
            RankCall::of::<F, Echo>()
        }
        let k = 3u8;
        assert!(of(&move |x: u8| x + k).is_none());
        assert!(of(&|x: u8| x + 1).is_some());
    }
}
