//! How values are encoded to cross a process boundary.
//!
//! One place, so that the codec can be changed after measuring: `serde_json` is the
//! baseline every serde type supports.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, ErrorKind, Result};

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            format!(
                "could not encode a {} to send it to another process: {e}",
                std::any::type_name::<T>()
            ),
        )
        .with_source(e)
    })
}

/// Decodes a value from `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
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
