//! A minimal Jupyter client for the benchmark: starts a kernel with a connection file,
//! sends `execute_request`s on shell and waits for the reply and the `idle` status on
//! iopub, timing each cell as a frontend sees it. Every wait has a timeout.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use zeromq::prelude::*;
use zeromq::{DealerSocket, SocketOptions, SubSocket, ZmqMessage};

/// The longest one cell (or the kernel's start) may take before the benchmark gives up.
const TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) struct Client {
    child: Child,
    key: Vec<u8>,
    session: String,
    shell: DealerSocket,
    iopub: SubSocket,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Client {
    /// Starts `command` with `{connection_file}` replaced by a fresh connection file in
    /// `dir`, connects, and waits for `kernel_info_reply`. Returns the client and the time
    /// the kernel took to answer.
    pub(crate) async fn start(
        mut command: Command,
        args: &[&str],
        dir: &Path,
    ) -> (Client, Duration) {
        let key = uuid::Uuid::new_v4().to_string();
        let ports = json!({
            "shell_port": free_port(), "iopub_port": free_port(), "stdin_port": free_port(),
            "control_port": free_port(), "hb_port": free_port(),
            "ip": "127.0.0.1", "transport": "tcp", "key": key,
            "signature_scheme": "hmac-sha256",
        });
        let file = dir.join(format!("connection-{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&file, ports.to_string()).expect("write the connection file");
        for arg in args {
            command.arg(arg.replace("{connection_file}", &file.display().to_string()));
        }
        let started = Instant::now();
        // With `PARALELO_KERNEL_TRACE` set, the kernel's per-cell phases show on stderr.
        let stderr = if std::env::var_os("PARALELO_KERNEL_TRACE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the kernel");
        let session = uuid::Uuid::new_v4().to_string();
        let mut options = SocketOptions::default();
        options.peer_identity(session.as_bytes().to_vec().try_into().expect("identity"));
        let mut shell = DealerSocket::with_options(options);
        let mut iopub = SubSocket::new();
        let endpoint = |name: &str| format!("tcp://127.0.0.1:{}", ports[name]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while shell.connect(&endpoint("shell_port")).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the kernel never bound its ports"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        iopub
            .connect(&endpoint("iopub_port"))
            .await
            .expect("connect iopub");
        iopub.subscribe("").await.expect("subscribe");
        let mut client = Client {
            child,
            key: key.into_bytes(),
            session,
            shell,
            iopub,
        };
        client.send("kernel_info_request", json!({})).await;
        client.shell_reply().await;
        let ready = started.elapsed();
        // iopub needs a moment to subscribe (slow joiner).
        tokio::time::sleep(Duration::from_millis(300)).await;
        while client.iopub_msg(Duration::from_millis(100)).await.is_some() {}
        (client, ready)
    }

    fn sign(&self, parts: &[Vec<u8>]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        for part in parts {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    async fn send(&mut self, msg_type: &str, content: Value) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let header = json!({
            "msg_id": id, "session": self.session, "username": "bench",
            "date": "2026-01-01T00:00:00.000000Z", "msg_type": msg_type, "version": "5.3",
        });
        let parts: Vec<Vec<u8>> = [header, json!({}), json!({}), content]
            .iter()
            .map(|v| v.to_string().into_bytes())
            .collect();
        let mut frames = vec![b"<IDS|MSG>".to_vec(), self.sign(&parts).into_bytes()];
        frames.extend(parts);
        let frames: Vec<bytes::Bytes> = frames.into_iter().map(bytes::Bytes::from).collect();
        let message = ZmqMessage::try_from(frames).expect("frames");
        self.shell.send(message).await.expect("send on shell");
        id
    }

    fn decode(msg: ZmqMessage) -> Value {
        let frames: Vec<Vec<u8>> = msg.into_vec().into_iter().map(|b| b.to_vec()).collect();
        let delimiter = frames
            .iter()
            .position(|f| f.as_slice() == b"<IDS|MSG>")
            .expect("delimiter");
        let parse = |i: usize| serde_json::from_slice::<Value>(&frames[delimiter + i]).unwrap();
        json!({ "header": parse(2), "parent_header": parse(3), "content": parse(5) })
    }

    async fn shell_reply(&mut self) -> Value {
        let msg = tokio::time::timeout(TIMEOUT, self.shell.recv())
            .await
            .expect("timed out waiting for a shell reply")
            .expect("receive on shell");
        Self::decode(msg)
    }

    async fn iopub_msg(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.iopub.recv()).await {
            Ok(Ok(msg)) => Some(Self::decode(msg)),
            _ => None,
        }
    }

    /// Runs `code`; returns the reply's status and the time until the kernel was idle again.
    pub(crate) async fn execute(&mut self, code: &str) -> (String, Duration) {
        let started = Instant::now();
        let id = self
            .send(
                "execute_request",
                json!({ "code": code, "silent": false, "store_history": true,
                        "user_expressions": {}, "allow_stdin": false, "stop_on_error": true }),
            )
            .await;
        let reply = self.shell_reply().await;
        loop {
            let msg = self
                .iopub_msg(TIMEOUT)
                .await
                .expect("timed out waiting for idle");
            if msg["parent_header"]["msg_id"] == id.as_str()
                && msg["header"]["msg_type"] == "status"
                && msg["content"]["execution_state"] == "idle"
            {
                break;
            }
        }
        let status = reply["content"]["status"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        (status, started.elapsed())
    }
}
