//! What a child sends its parent for each task or chunk: one frame,
//! `[u64 length][u8 tag][payload]`, so that a truncated result (the child died while
//! writing) is told apart from a complete one. One writer ([`fill`]), one incremental
//! reader ([`FrameReader`]), one reading of the tags ([`outcome`]).

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{Error, ErrorKind, Result};

/// The header's size: the payload's length (8 bytes) and the tag.
const HEADER: usize = 9;

/// What a frame's payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Tag {
    /// The encoded value (or a chunk's encoded results).
    Value = 0,
    /// A panic's message.
    Panic = 1,
    /// An encoding error's message.
    Encoding = 2,
}

impl Tag {
    pub(super) fn from_u8(tag: u8) -> Option<Tag> {
        [Tag::Value, Tag::Panic, Tag::Encoding]
            .into_iter()
            .find(|t| *t as u8 == tag)
    }
}

/// The outcome a payload of tag `tag` stands for: the value's bytes, or the error whose
/// message it is.
pub(super) fn outcome(tag: u8, payload: &[u8]) -> Result<&[u8]> {
    let kind = match Tag::from_u8(tag) {
        Some(Tag::Value) => return Ok(payload),
        Some(Tag::Panic) => ErrorKind::TaskPanicked,
        _ => ErrorKind::Serialization,
    };
    Err(Error::new(
        kind,
        String::from_utf8_lossy(payload).into_owned(),
    ))
}

/// In a child: runs `run`, which appends encoded results to `out` (from `start` on), and
/// returns [`Tag::Value`]; on an encoding error or a panic, what it appended is replaced
/// by the message ([`Tag::Encoding`], [`Tag::Panic`]).
pub(super) fn run_caught(
    out: &mut Vec<u8>,
    start: usize,
    run: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), String>,
) -> Tag {
    let (tag, message) = match catch_unwind(AssertUnwindSafe(|| run(out))) {
        Ok(Ok(())) => return Tag::Value,
        Ok(Err(message)) => (Tag::Encoding, message),
        Err(payload) => {
            let message = crate::error::panic_message(&*payload);
            (Tag::Panic, format!("task panicked: {message}"))
        }
    };
    out.truncate(start);
    out.extend_from_slice(message.as_bytes());
    tag
}

/// In a child: makes `frame` the frame of `run`'s outcome (see [`run_caught`]). The buffer
/// is reused from frame to frame: the child's heap stays warm.
pub(super) fn fill(
    frame: &mut Vec<u8>,
    run: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), String>,
) {
    frame.clear();
    frame.resize(HEADER, 0);
    let tag = run_caught(frame, HEADER, run);
    set_header(frame, tag);
}

/// Writes the header of `frame` (whose payload follows [`HEADER`] bytes): its length and
/// `tag`.
fn set_header(frame: &mut [u8], tag: Tag) {
    let len = (frame.len() - HEADER) as u64;
    frame[..8].copy_from_slice(&len.to_le_bytes());
    frame[8] = tag as u8;
}

/// The tag of a whole frame (see [`fill`]).
#[cfg(test)]
fn tag_of(frame: &[u8]) -> Option<Tag> {
    frame.get(8).copied().and_then(Tag::from_u8)
}

/// Receives frames from a non-blocking socket as they arrive, one after another.
///
/// The same payload buffer serves every frame (its capacity reserved from the header's
/// length): a fresh one per frame would fault its pages in again each time
/// (copy-on-write pages after the fork, or pages the allocator gave back to the system).
#[derive(Debug)]
pub(super) struct FrameReader {
    /// The header of the frame being received, and how much of it arrived.
    header: [u8; HEADER],
    header_len: usize,
    payload: Vec<u8>,
    eof: bool,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader {
            header: [0; HEADER],
            header_len: 0,
            payload: Vec::new(),
            eof: false,
        }
    }
}

impl FrameReader {
    fn payload_len(&self) -> Option<usize> {
        if self.header_len < HEADER {
            return None;
        }
        let len = u64::from_le_bytes(self.header[..8].try_into().ok()?);
        usize::try_from(len).ok()
    }

    /// True once the socket reached end of file.
    pub(super) fn eof(&self) -> bool {
        self.eof
    }

    /// True when the frame being received has arrived whole.
    pub(super) fn complete(&self) -> bool {
        self.payload_len() == Some(self.payload.len())
    }

    /// Reads what is available without blocking, straight into the payload's buffer,
    /// never past the end of the frame being received.
    pub(super) fn drain(&mut self, socket: &UnixStream) {
        loop {
            let Some(len) = self.payload_len() else {
                match (&*socket).read(&mut self.header[self.header_len..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => {
                        self.header_len += n;
                        if let Some(len) = self.payload_len() {
                            // Room for all of it at once, unless the length is absurd.
                            self.payload.clear();
                            self.payload.reserve(len.min(1 << 30));
                        }
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => {} // WouldBlock, or a reset: the next check decides
                }
                return;
            };
            let missing = len - self.payload.len();
            if missing == 0 {
                return;
            }
            match socket.take(missing as u64).read_to_end(&mut self.payload) {
                // Short of the limit without an error: end of file.
                Ok(_) if self.payload.len() < len => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {} // WouldBlock (what came is kept), or a reset
            }
            return;
        }
    }

    /// The tag of the frame, if all of it has arrived; its payload is
    /// [`payload`](Self::payload) until the next frame starts.
    pub(super) fn take(&mut self) -> Option<u8> {
        if !self.complete() {
            return None;
        }
        self.header_len = 0;
        Some(self.header[8])
    }

    /// The payload of the frame last taken.
    pub(super) fn payload(&self) -> &[u8] {
        &self.payload
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    use super::{FrameReader, Tag, fill, outcome, tag_of};
    use crate::ErrorKind;

    #[test]
    fn frames_written_in_pieces_are_read_whole_one_after_another() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut frames = Vec::new();
        let mut frame = Vec::new();
        fill(&mut frame, |out| {
            out.extend_from_slice(b"value");
            Ok(())
        });
        assert_eq!(tag_of(&frame), Some(Tag::Value));
        frames.extend_from_slice(&frame);
        fill(&mut frame, |_| Err("cannot encode".into()));
        frames.extend_from_slice(&frame);
        fill(&mut frame, |_| panic!("boom"));
        frames.extend_from_slice(&frame);
        let mut reader = FrameReader::default();
        let mut got = Vec::new();
        for piece in frames.chunks(4) {
            tx.write_all(piece).unwrap();
            reader.drain(&rx);
            while let Some(tag) = reader.take() {
                got.push(outcome(tag, reader.payload()).map(<[u8]>::to_vec));
                reader.drain(&rx);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_deref().unwrap(), b"value");
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::Serialization, "cannot encode")
        );
        let e = got[2].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskPanicked);
        assert!(
            e.message().contains("task panicked: boom"),
            "{}",
            e.message()
        );
        drop(tx);
        reader.drain(&rx);
        assert!(reader.eof() && reader.take().is_none());
    }

    #[test]
    fn a_truncated_frame_is_never_complete() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut frame = Vec::new();
        fill(&mut frame, |out| {
            out.extend_from_slice(&[7; 100]);
            Ok(())
        });
        tx.write_all(&frame[..50]).unwrap();
        drop(tx);
        let mut reader = FrameReader::default();
        reader.drain(&rx);
        assert!(reader.eof());
        assert!(!reader.complete() && reader.take().is_none());
    }
}
