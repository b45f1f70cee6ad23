//! A proxy's connection to the manager: one per proxy and per process, authenticated.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::wire::{self, Reply, Request};
use crate::sys::PerProcess;
use crate::{Error, ErrorKind, Result};

/// Where the manager listens (an abstract Unix socket: nothing on disk) and the key that
/// proves a peer belongs to it.
#[derive(Debug)]
pub(crate) struct Address {
    pub(crate) name: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

/// A lazily opened connection. A forked child opens its own: two processes writing to one
/// inherited socket would mix their messages. Its lock is per process too
/// ([`PerProcess`]): a child forked while a thread of the parent was inside a call must
/// not find the lock held for ever (the parent's connection it never touches: it is
/// leaked there, neither used nor closed).
#[derive(Debug)]
pub(crate) struct Client {
    address: Arc<Address>,
    conn: PerProcess<Mutex<Option<UnixStream>>>,
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Client::new(self.address.clone())
    }
}

impl Client {
    pub(crate) fn new(address: Arc<Address>) -> Self {
        Client {
            address,
            conn: PerProcess::new(),
        }
    }

    fn connect(&self) -> Result<UnixStream> {
        let addr = SocketAddr::from_abstract_name(&self.address.name)?;
        let mut stream = UnixStream::connect_addr(&addr).map_err(|e| {
            Error::new(
                ErrorKind::Disconnected,
                format!("the manager is gone (its process ended or it was shut down): {e}"),
            )
        })?;
        // The server answers at once; a minute of silence means it is stuck or gone.
        stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
        wire::authenticate(&mut stream, &self.address.key, false)?;
        Ok(stream)
    }

    /// Sends `request` and waits for the reply.
    pub(crate) fn call(&self, request: &Request) -> Result<Reply> {
        let mut conn = self.conn.get().lock().unwrap_or_else(|p| p.into_inner());
        if conn.is_none() {
            *conn = Some(self.connect()?);
        }
        let Some(stream) = conn.as_mut() else {
            unreachable!("connected above")
        };
        let outcome = wire::send(stream, request).and_then(|()| wire::recv::<Reply>(stream));
        match outcome {
            Ok(Reply::Failed(message)) => Err(Error::new(ErrorKind::InvalidArgument, message)),
            Ok(reply) => Ok(reply),
            Err(e) => {
                *conn = None;
                Err(e)
            }
        }
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    crate::ipc::codec::encode_into(value, &mut out)?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    crate::ipc::codec::decode(bytes)
}

pub(crate) fn unexpected(reply: Reply) -> Error {
    Error::new(
        ErrorKind::InvalidState,
        format!("unexpected reply from the manager: {reply:?}"),
    )
}
