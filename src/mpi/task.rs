//! What runs on a worker rank: a task (`apply`) or a chunk of a map, found by its offset
//! in the executable (`sys::RankCall`), with its input and outcome encoded by serde.
//!
//! Every message that carries a call starts with a hash of the call's type id, checked
//! on the worker before the function runs: a second check, after the executable hash of
//! `init`, that both ends mean the same function.

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::panic_message;
use crate::sys::{RankCall, RankFinish};
use crate::{Error, ErrorKind, Result};

/// Outcome tags of a result message.
pub(super) const OK: u8 = 0;
pub(super) const PANICKED: u8 = 1;
pub(super) const FAILED: u8 = 2;

/// A hash of the type `T`'s id: distinct for every closure, the same on every rank of
/// the same executable (`TypeId`s are fixed when the program is compiled; `DefaultHasher`
/// with `new` has fixed keys). `typeid` gives the id of types that are not `'static`.
fn type_hash<T: ?Sized>() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    typeid::of::<T>().hash(&mut hasher);
    hasher.finish()
}

/// Checks the hash at the start of `input` and returns the rest.
fn checked<T: ?Sized>(input: &[u8]) -> std::result::Result<&[u8], String> {
    let (hash, rest) = input
        .split_at_checked(8)
        .ok_or("a task message too short")?;
    if u64::from_le_bytes(hash.try_into().expect("8 bytes")) != type_hash::<T>() {
        return Err(format!(
            "this rank received a call that is not {} (the ranks do not run the same code)",
            std::any::type_name::<T>()
        ));
    }
    Ok(rest)
}

/// Runs `work`, encoding its value (tag [`OK`]) or its panic's message ([`PANICKED`]).
fn finish_with<R: Serialize>(work: impl FnOnce() -> R, out: &mut Vec<u8>) -> u8 {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(value) => match bincode::serialize_into(&mut *out, &value) {
            Ok(()) => OK,
            Err(e) => {
                out.clear();
                out.extend_from_slice(
                    format!(
                        "could not encode a {} to send it back to rank 0: {e}",
                        std::any::type_name::<R>()
                    )
                    .as_bytes(),
                );
                FAILED
            }
        },
        Err(payload) => {
            out.clear();
            out.extend_from_slice(panic_message(&*payload).as_bytes());
            PANICKED
        }
    }
}

fn failed(out: &mut Vec<u8>, message: String) -> u8 {
    out.clear();
    out.extend_from_slice(message.as_bytes());
    FAILED
}

/// The finisher of `apply`: no input, one value out.
pub(super) struct ApplyTask<R>(PhantomData<fn() -> R>);

impl<F: FnOnce() -> R, R: Serialize> RankFinish<F> for ApplyTask<R> {
    fn finish(f: F, input: &[u8], out: &mut Vec<u8>) -> u8 {
        match checked::<(F, Self)>(input) {
            Ok(_) => finish_with(f, out),
            Err(message) => failed(out, message),
        }
    }
}

/// The finisher of a map chunk: a `Vec<A>` in, a `Vec<R>` out.
pub(super) struct MapChunk<A, R>(PhantomData<fn(A) -> R>);

impl<F: Fn(A) -> R, A: DeserializeOwned, R: Serialize> RankFinish<F> for MapChunk<A, R> {
    fn finish(f: F, input: &[u8], out: &mut Vec<u8>) -> u8 {
        let items = match checked::<(F, Self)>(input) {
            Ok(rest) => bincode::deserialize::<Vec<A>>(rest),
            Err(message) => return failed(out, message),
        };
        match items {
            Ok(items) => finish_with(|| items.into_iter().map(f).collect::<Vec<R>>(), out),
            Err(e) => failed(
                out,
                format!(
                    "could not decode the {} sent by rank 0: {e}",
                    std::any::type_name::<Vec<A>>()
                ),
            ),
        }
    }
}

/// A call ready to send: its offset and the head of its input (the type hash).
pub(super) struct Call {
    pub(super) offset: i64,
    pub(super) input: Vec<u8>,
}

/// The call of `f` with finisher `K`. A function that captures something is refused when
/// the program is compiled.
pub(super) fn call_of<F, K: RankFinish<F>>(f: F) -> Call {
    const {
        assert!(
            std::mem::size_of::<F>() == 0 && !std::mem::needs_drop::<F>(),
            "paralelo::mpi runs only functions that capture nothing (function items and \
             closures without captured variables) on other ranks: pass what the task needs \
             as its items or arguments"
        )
    };
    let call = RankCall::of::<F, K>().expect("checked at compile time: F is zero-sized");
    Call {
        offset: call.hand_over(f),
        input: type_hash::<(F, K)>().to_le_bytes().to_vec(),
    }
}

/// Runs `f` here, on rank 0 (no worker ranks): the same outcome a worker would send.
pub(super) fn run_here<R>(f: impl FnOnce() -> R) -> Result<R> {
    catch_unwind(AssertUnwindSafe(f)).map_err(Error::from_panic)
}

/// Turns a worker's outcome into a result for the caller.
pub(super) fn outcome<R: DeserializeOwned>(tag: u8, bytes: &[u8], rank: &str) -> Result<R> {
    match tag {
        OK => crate::ipc::codec::decode(bytes),
        PANICKED => Err(Error::new(
            ErrorKind::TaskPanicked,
            format!(
                "task panicked on {rank}: {}",
                String::from_utf8_lossy(bytes)
            ),
        )),
        _ => Err(Error::new(
            ErrorKind::Serialization,
            format!("{} (on {rank})", String::from_utf8_lossy(bytes)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::run_rank_call;

    fn square(x: u64) -> u64 {
        x * x
    }

    #[test]
    fn a_map_chunk_runs_from_its_call_and_panics_are_its_outcome() {
        let call = call_of::<_, MapChunk<u64, u64>>(square);
        let mut input = call.input.clone();
        bincode::serialize_into(&mut input, &vec![1u64, 2, 3]).unwrap();
        let mut out = Vec::new();
        let tag = run_rank_call(call.offset, &input, &mut out);
        assert_eq!(outcome::<Vec<u64>>(tag, &out, "rank 1").unwrap(), [1, 4, 9]);

        let call = call_of::<_, ApplyTask<u8>>(|| -> u8 { panic!("¡ay!") });
        let mut out = Vec::new();
        let tag = run_rank_call(call.offset, &call.input, &mut out);
        let err = outcome::<u8>(tag, &out, "rank 1 (host h1)").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskPanicked);
        assert!(err.to_string().contains("¡ay!") && err.to_string().contains("h1"));
    }

    #[test]
    fn a_call_of_another_type_is_refused_before_it_runs() {
        let call = call_of::<_, ApplyTask<u8>>(|| 1u8);
        let other = call_of::<_, ApplyTask<u8>>(|| 2u8);
        let mut out = Vec::new();
        let tag = run_rank_call(call.offset, &other.input, &mut out);
        assert_eq!(tag, FAILED);
        assert!(String::from_utf8_lossy(&out).contains("do not run the same code"));
    }
}
