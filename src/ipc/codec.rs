//! How values are encoded to cross a process boundary.
//!
//! One place, so that the codec can be changed after measuring. `benches/processes.rs`
//! prints the measurement: bincode encodes and decodes 12–20× faster than `serde_json` on
//! both small messages and big integers, so bincode it is. Its one limit: types whose
//! `Deserialize` needs a self-describing format (`serde_json::Value`, `#[serde(untagged)]`
//! or `#[serde(flatten)]`) fail to decode with an [`ErrorKind::Serialization`] error.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, ErrorKind, Result};

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    encode_into_as(value, out, || std::any::type_name::<T>().to_owned())
}

/// As [`encode_into`], naming the type as `shown()` in an error (the user's type, not an
/// internal wrapper that encodes it).
pub(crate) fn encode_into_as<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    shown: impl FnOnce() -> String,
) -> Result<()> {
    bincode::serialize_into(out, value).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            format!(
                "could not encode a {} to send it to another process: {e}",
                shown()
            ),
        )
        .with_source(e)
    })
}

/// Decodes a value from `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode::deserialize(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            format!(
                "could not decode a {} received from another process: {e}",
                std::any::type_name::<T>()
            ),
        )
        .with_source(e)
    })
}
