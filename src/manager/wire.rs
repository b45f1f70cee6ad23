//! The manager's wire format: size-capped, length-prefixed bincode frames over a Unix
//! socket, and the HMAC challenge that both ends pass before anything else.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Error, ErrorKind, Result};

/// The largest message either end accepts: a bigger length is refused before anything is
/// allocated, so a hostile or broken peer cannot make the other end allocate at will.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// Bytes of the authentication key and of each challenge.
pub(crate) const KEY_LEN: usize = 32;

/// A request from a proxy to the server. Values travel encoded (the server stores bytes
/// and never needs their type).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Request {
    NewList,
    NewDict,
    Append(u64, Vec<u8>),
    Get(u64, i64),
    Set(u64, i64, Vec<u8>),
    Pop(u64),
    Len(u64),
    Items(u64),
    Insert(u64, Vec<u8>, Vec<u8>),
    Lookup(u64, Vec<u8>),
    Remove(u64, Vec<u8>),
    /// Appends every item, in one step.
    Extend(u64, Vec<Vec<u8>>),
    Reverse(u64),
    /// The items with the list's version (a count of its changes).
    Snapshot(u64),
    /// Replaces the items if the list is still at that version (how `sort` stays atomic
    /// although the server cannot compare encoded values).
    ReplaceIf(u64, u64, Vec<Vec<u8>>),
    /// Inserts every pair, in one step (Python's `dict.update`).
    InsertMany(u64, Vec<(Vec<u8>, Vec<u8>)>),
}

/// The server's answer.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Reply {
    Id(u64),
    Done,
    Value(Option<Vec<u8>>),
    Len(u64),
    Items(Vec<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Snapshot(u64, Vec<Vec<u8>>),
    /// `ReplaceIf` found the list changed since its snapshot.
    Stale,
    Failed(String),
}

fn gone(e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Disconnected,
        format!("the manager is gone (its process ended or it was shut down): {e}"),
    )
}

/// Writes one frame.
pub(crate) fn send<T: Serialize>(stream: &mut UnixStream, value: &T) -> Result<()> {
    let body = bincode::serialize(value)
        .map_err(|e| Error::new(ErrorKind::Serialization, format!("manager message: {e}")))?;
    if body.len() > MAX_MESSAGE {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "a manager message of {} bytes is over the {MAX_MESSAGE}-byte limit",
                body.len()
            ),
        ));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).map_err(|e| gone(&e))
}

/// Reads one frame, refusing lengths over [`MAX_MESSAGE`].
pub(crate) fn recv<T: for<'de> Deserialize<'de>>(stream: &mut UnixStream) -> Result<T> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(|e| gone(&e))?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("refused a manager message of {len} bytes (limit: {MAX_MESSAGE})"),
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).map_err(|e| gone(&e))?;
    bincode::deserialize(&body)
        .map_err(|e| Error::new(ErrorKind::Serialization, format!("manager message: {e}")))
}

/// `len` random bytes from the kernel.
pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn digest(key: &[u8], challenge: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(challenge);
    mac.finalize().into_bytes().to_vec()
}

fn auth_failed() -> Error {
    Error::new(
        ErrorKind::Disconnected,
        "manager authentication failed: the other end does not hold this manager's key",
    )
}

/// Proves to the peer that we hold `key`, and checks that it does too (Python's
/// `answer_challenge` then `deliver_challenge`, or the other way round for the server).
pub(crate) fn authenticate(stream: &mut UnixStream, key: &[u8], server: bool) -> Result<()> {
    if server {
        challenge(stream, key)?;
        answer(stream, key)
    } else {
        answer(stream, key)?;
        challenge(stream, key)
    }
}

/// Sends a random challenge and checks the peer's HMAC of it.
fn challenge(stream: &mut UnixStream, key: &[u8]) -> Result<()> {
    let nonce = random_bytes(KEY_LEN)?;
    send(stream, &nonce)?;
    let answer: Vec<u8> = recv(stream)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&nonce);
    let ok = mac.verify_slice(&answer).is_ok(); // constant-time comparison
    send(stream, &ok)?;
    if ok { Ok(()) } else { Err(auth_failed()) }
}

/// Answers the peer's challenge with our HMAC of it.
fn answer(stream: &mut UnixStream, key: &[u8]) -> Result<()> {
    let nonce: Vec<u8> = recv(stream)?;
    if nonce.len() != KEY_LEN {
        return Err(auth_failed());
    }
    send(stream, &digest(key, &nonce))?;
    let welcomed: bool = recv(stream)?;
    if welcomed { Ok(()) } else { Err(auth_failed()) }
}
