//! The connection file and the five sockets it names.
//!
//! Jupyter starts the kernel with `--connection-file F`; `F` holds the transport, the address,
//! one port per channel and the signing key. Sockets bind to exactly that address.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use zeromq::prelude::*;
use zeromq::{PubSocket, RepSocket, RouterSocket, ZmqMessage};

/// The parsed connection file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConnectionInfo {
    #[serde(default = "default_transport")]
    pub(crate) transport: String,
    pub(crate) ip: String,
    pub(crate) shell_port: u16,
    pub(crate) iopub_port: u16,
    pub(crate) stdin_port: u16,
    pub(crate) control_port: u16,
    pub(crate) hb_port: u16,
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default = "default_scheme")]
    pub(crate) signature_scheme: String,
}

fn default_transport() -> String {
    "tcp".into()
}

fn default_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    /// Reads and checks a connection file.
    ///
    /// # Errors
    ///
    /// When the file is missing, not JSON, uses another transport than tcp, or another
    /// signature scheme than hmac-sha256.
    pub(crate) fn read(path: &Path) -> Result<ConnectionInfo> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read connection file {}", path.display()))?;
        let info: ConnectionInfo = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a Jupyter connection file", path.display()))?;
        if info.transport != "tcp" {
            bail!(
                "{}: transport {:?} is not supported (only tcp)",
                path.display(),
                info.transport
            );
        }
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            bail!(
                "{}: signature scheme {:?} is not supported (only hmac-sha256)",
                path.display(),
                info.signature_scheme
            );
        }
        Ok(info)
    }

    /// The endpoint for `port` on the connection's address.
    pub(crate) fn endpoint(&self, port: u16) -> String {
        if self.ip.contains(':') {
            format!("{}://[{}]:{}", self.transport, self.ip, port)
        } else {
            format!("{}://{}:{}", self.transport, self.ip, port)
        }
    }
}

/// The five bound sockets.
pub(crate) struct Sockets {
    pub(crate) shell: RouterSocket,
    pub(crate) control: RouterSocket,
    pub(crate) stdin: RouterSocket,
    pub(crate) iopub: PubSocket,
    pub(crate) heartbeat: RepSocket,
}

impl Sockets {
    /// Binds every channel.
    ///
    /// # Errors
    ///
    /// When a port cannot be bound (in use, address not local).
    pub(crate) async fn bind(info: &ConnectionInfo) -> Result<Sockets> {
        async fn bind<S: Socket>(mut socket: S, info: &ConnectionInfo, port: u16) -> Result<S> {
            let endpoint = info.endpoint(port);
            socket
                .bind(&endpoint)
                .await
                .with_context(|| format!("cannot bind {endpoint}"))?;
            Ok(socket)
        }
        Ok(Sockets {
            shell: bind(RouterSocket::new(), info, info.shell_port).await?,
            control: bind(RouterSocket::new(), info, info.control_port).await?,
            stdin: bind(RouterSocket::new(), info, info.stdin_port).await?,
            iopub: bind(PubSocket::new(), info, info.iopub_port).await?,
            heartbeat: bind(RepSocket::new(), info, info.hb_port).await?,
        })
    }
}

/// Frames of a received ZMQ message as byte vectors.
pub(crate) fn frames_of(message: ZmqMessage) -> Vec<Vec<u8>> {
    message.into_vec().into_iter().map(|b| b.to_vec()).collect()
}

/// A ZMQ message from frames (a Jupyter message always has the delimiter frame).
pub(crate) fn message_of(frames: Vec<Vec<u8>>) -> ZmqMessage {
    let frames: Vec<bytes::Bytes> = frames.into_iter().map(bytes::Bytes::from).collect();
    ZmqMessage::try_from(frames).expect("a Jupyter message is never empty")
}
