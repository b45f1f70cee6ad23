//! Jupyter wire messages: parsing, signing and checking.
//!
//! A message on a ROUTER socket is a list of frames:
//! `[identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]`.
//! The signature is the lowercase hex HMAC-SHA256 (the connection file's `signature_scheme`)
//! over exactly the four JSON frames header, parent_header, metadata and content.
//! Incoming messages are checked in constant time and against a bounded history of digests
//! already seen (as jupyter_client does), so a replayed message is refused.

use std::collections::{HashSet, VecDeque};
use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The delimiter frame between routing identities and the signed part.
pub(crate) const DELIMITER: &[u8] = b"<IDS|MSG>";

/// The protocol version this kernel speaks.
pub(crate) const PROTOCOL_VERSION: &str = "5.3";

/// How many recent digests are remembered to refuse replays.
const DIGEST_HISTORY: usize = 1 << 16;

/// Why an incoming frame list was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WireError {
    /// No `<IDS|MSG>` delimiter or too few frames after it.
    Malformed(String),
    /// The signature frame is empty while a key is configured.
    Unsigned,
    /// The signature does not match the content.
    BadSignature,
    /// The same signature was seen before.
    Replayed,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Malformed(why) => write!(f, "malformed message: {why}"),
            WireError::Unsigned => write!(f, "unsigned message (a key is configured)"),
            WireError::BadSignature => write!(f, "invalid signature"),
            WireError::Replayed => write!(f, "replayed message (signature seen before)"),
        }
    }
}

/// One Jupyter message, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Routing identities to send replies back through a ROUTER socket.
    pub(crate) identities: Vec<Vec<u8>>,
    pub(crate) header: Value,
    pub(crate) parent_header: Value,
    pub(crate) metadata: Value,
    pub(crate) content: Value,
    pub(crate) buffers: Vec<Vec<u8>>,
}

impl Message {
    /// The header's `msg_type`, or "" when missing.
    pub(crate) fn msg_type(&self) -> &str {
        self.header
            .get("msg_type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A new message of `msg_type` whose parent is `self`, routed to the same peer.
    pub(crate) fn reply(&self, msg_type: &str, content: Value) -> Message {
        Message {
            identities: self.identities.clone(),
            header: new_header(msg_type, self.session()),
            parent_header: self.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// A message for iopub (no identities beyond the topic) whose parent is `self`.
    pub(crate) fn broadcast(&self, msg_type: &str, content: Value) -> Message {
        Message {
            identities: vec![format!("kernel.{}", msg_type).into_bytes()],
            header: new_header(msg_type, self.session()),
            parent_header: self.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// The header's `session`, or "" when missing.
    pub(crate) fn session(&self) -> &str {
        self.header
            .get("session")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A fresh header for a message the kernel sends.
pub(crate) fn new_header(msg_type: &str, session: &str) -> Value {
    json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "session": session,
        "username": "kernel",
        "date": iso8601_now(),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

/// The current UTC time as ISO 8601 with microseconds, e.g. `2026-11-21T23:40:00.123456Z`.
pub(crate) fn iso8601_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Signs outgoing messages and checks incoming ones with the connection's key.
pub(crate) struct Signer {
    key: Vec<u8>,
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl Signer {
    /// A signer for `key`; an empty key disables signing (as Jupyter allows).
    pub(crate) fn new(key: &[u8]) -> Signer {
        Signer {
            key: key.to_vec(),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key");
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// The hex signature of the four JSON frames (empty when no key is set).
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> String {
        if self.key.is_empty() {
            return String::new();
        }
        hex::encode(self.mac(parts).finalize().into_bytes())
    }

    /// Encodes `msg` into frames, signing it.
    pub(crate) fn encode(&self, msg: &Message) -> Vec<Vec<u8>> {
        let header = msg.header.to_string().into_bytes();
        let parent = msg.parent_header.to_string().into_bytes();
        let metadata = msg.metadata.to_string().into_bytes();
        let content = msg.content.to_string().into_bytes();
        let signature = self.sign(&[&header, &parent, &metadata, &content]);
        let mut frames = msg.identities.clone();
        frames.push(DELIMITER.to_vec());
        frames.push(signature.into_bytes());
        frames.extend([header, parent, metadata, content]);
        frames.extend(msg.buffers.iter().cloned());
        frames
    }

    /// Decodes and checks frames received on a ROUTER socket.
    ///
    /// # Errors
    ///
    /// A [`WireError`] for a malformed, unsigned, forged or replayed message.
    pub(crate) fn decode(&mut self, frames: Vec<Vec<u8>>) -> Result<Message, WireError> {
        let delim = frames
            .iter()
            .position(|f| f.as_slice() == DELIMITER)
            .ok_or_else(|| WireError::Malformed("no <IDS|MSG> delimiter".into()))?;
        let mut rest = frames.into_iter();
        let identities: Vec<Vec<u8>> = rest.by_ref().take(delim).collect();
        rest.next(); // the delimiter
        let signature = rest
            .next()
            .ok_or_else(|| WireError::Malformed("no signature frame".into()))?;
        let parts: Vec<Vec<u8>> = rest.by_ref().take(4).collect();
        if parts.len() != 4 {
            return Err(WireError::Malformed(format!(
                "expected 4 frames after the signature, got {}",
                parts.len()
            )));
        }
        let buffers: Vec<Vec<u8>> = rest.collect();
        if !self.key.is_empty() {
            if signature.is_empty() {
                return Err(WireError::Unsigned);
            }
            let expected = hex::decode(&signature).map_err(|_| WireError::BadSignature)?;
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            // `verify_slice` compares in constant time.
            self.mac(&refs)
                .verify_slice(&expected)
                .map_err(|_| WireError::BadSignature)?;
            if self.seen.contains(&signature) {
                return Err(WireError::Replayed);
            }
            self.remember(signature);
        }
        let json = |i: usize, name: &str| -> Result<Value, WireError> {
            let value: Value = serde_json::from_slice(&parts[i])
                .map_err(|e| WireError::Malformed(format!("{name} is not JSON: {e}")))?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(WireError::Malformed(format!("{name} is not a JSON object")))
            }
        };
        let header = json(0, "header")?;
        if header.get("msg_type").and_then(Value::as_str).is_none() {
            return Err(WireError::Malformed("header has no msg_type".into()));
        }
        Ok(Message {
            identities,
            header,
            parent_header: json(1, "parent_header")?,
            metadata: json(2, "metadata")?,
            content: json(3, "content")?,
            buffers,
        })
    }

    fn remember(&mut self, signature: Vec<u8>) {
        if self.order.len() >= DIGEST_HISTORY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(signature.clone());
        self.seen.insert(signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(signer: &Signer) -> Vec<Vec<u8>> {
        let msg = Message {
            identities: vec![b"peer".to_vec()],
            header: new_header("kernel_info_request", "s"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({}),
            buffers: vec![],
        };
        signer.encode(&msg)
    }

    #[test]
    fn round_trip_then_replay_is_refused() {
        let mut signer = Signer::new(b"secret");
        let frames = sample(&signer);
        let msg = signer.decode(frames.clone()).unwrap();
        assert_eq!(msg.msg_type(), "kernel_info_request");
        assert_eq!(msg.identities, vec![b"peer".to_vec()]);
        assert_eq!(signer.decode(frames).unwrap_err(), WireError::Replayed);
    }

    #[test]
    fn forged_and_unsigned_are_refused() {
        let mut signer = Signer::new(b"secret");
        let mut frames = sample(&Signer::new(b"other"));
        assert_eq!(
            signer.decode(frames.clone()).unwrap_err(),
            WireError::BadSignature
        );
        frames[2] = Vec::new();
        assert_eq!(signer.decode(frames).unwrap_err(), WireError::Unsigned);
    }

    #[test]
    fn malformed_is_refused() {
        let mut signer = Signer::new(b"");
        assert!(matches!(
            signer.decode(vec![b"x".to_vec()]),
            Err(WireError::Malformed(_))
        ));
        let frames = vec![
            DELIMITER.to_vec(),
            vec![],
            b"not json".to_vec(),
            b"{}".to_vec(),
            b"{}".to_vec(),
            b"{}".to_vec(),
        ];
        assert!(matches!(
            signer.decode(frames),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn dates_look_like_iso8601() {
        let d = iso8601_now();
        assert_eq!(d.len(), "2026-11-21T23:40:00.123456Z".len(), "{d}");
        assert!(d.starts_with("20") && d.ends_with('Z'));
    }
}
