//! Test helpers: start the kernel on free ports with its own temp dirs, and talk to it as a
//! Jupyter client does (DEALER shell/control/stdin with one identity, SUB iopub, REQ
//! heartbeat), signing with HMAC-SHA256. Every wait has a timeout: a broken kernel fails the
//! test instead of hanging it.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use zeromq::prelude::*;
use zeromq::{DealerSocket, ReqSocket, SocketOptions, SubSocket, ZmqMessage};

/// How long to wait for a kernel to start (a cold evcxr build may be slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(600);
/// How long to wait for one reply or message.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The kernel binary under test.
pub fn kernel_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_paralelo-kernel"))
}

/// The build cache shared by all tests (kept between runs so only the first is cold).
pub fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("paralelo-kernel-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "paralelo-kernel-test-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A command for the kernel binary, isolated from the user's Jupyter and evcxr config.
pub fn kernel_command(home: &Path) -> Command {
    let mut cmd = Command::new(kernel_exe());
    cmd.current_dir(home)
        .env("PARALELO_KERNEL_CACHE", shared_cache())
        .env("EVCXR_CONFIG_DIR", home.join("evcxr-config"))
        .env("JUPYTER_DATA_DIR", home.join("jupyter-data"))
        .env("JUPYTER_PATH", home.join("jupyter-path"))
        .env("JUPYTER_CONFIG_DIR", home.join("jupyter-config"));
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running kernel and a connected client.
pub struct Kernel {
    pub child: Child,
    pub key: Vec<u8>,
    pub session: String,
    pub shell: DealerSocket,
    pub control: DealerSocket,
    pub stdin: DealerSocket,
    pub iopub: SubSocket,
    pub heartbeat: ReqSocket,
    pub ports: Value,
    _dir: TempDir,
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn identity_options(identity: &str) -> SocketOptions {
    let mut options = SocketOptions::default();
    options.peer_identity(identity.as_bytes().to_vec().try_into().unwrap());
    options
}

/// How many times [`Kernel::start`] starts a kernel that exits before it answers.
const START_ATTEMPTS: usize = 3;

impl Kernel {
    /// Starts the kernel and waits until it answers `kernel_info`. The ports are free when
    /// picked, but another process may bind one before the kernel does (it then exits
    /// with "Address already in use"): a kernel that exits before answering is started
    /// again on new ports, and the wait ends as soon as it exits, not at the timeout.
    pub async fn start() -> Kernel {
        for attempt in 1..=START_ATTEMPTS {
            match Kernel::try_start().await {
                Ok(kernel) => return kernel,
                Err(status) if attempt < START_ATTEMPTS => {
                    eprintln!("kernel exited before answering ({status}); starting it again");
                }
                Err(status) => panic!(
                    "the kernel exited before answering kernel_info, {START_ATTEMPTS} times \
                     (last: {status}); its stderr is above"
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// One start: the kernel, or its exit status if it exited before answering.
    async fn try_start() -> Result<Kernel, std::process::ExitStatus> {
        let dir = TempDir::new("kernel");
        let key = uuid::Uuid::new_v4().to_string();
        let ports = json!({
            "shell_port": free_port(), "iopub_port": free_port(), "stdin_port": free_port(),
            "control_port": free_port(), "hb_port": free_port(),
        });
        let mut info = ports.clone();
        info["ip"] = json!("127.0.0.1");
        info["transport"] = json!("tcp");
        info["key"] = json!(key);
        info["signature_scheme"] = json!("hmac-sha256");
        let file = dir.0.join("connection.json");
        std::fs::write(&file, info.to_string()).unwrap();
        let child = kernel_command(&dir.0)
            .arg("--connection-file")
            .arg(&file)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting the kernel");
        let session = uuid::Uuid::new_v4().to_string();
        let endpoint = |name: &str| format!("tcp://127.0.0.1:{}", ports[name]);
        let mut shell = DealerSocket::with_options(identity_options(&session));
        let mut control = DealerSocket::with_options(identity_options(&session));
        let mut stdin = DealerSocket::with_options(identity_options(&session));
        let mut iopub = SubSocket::new();
        let mut heartbeat = ReqSocket::new();
        // The kernel may take a moment to bind: retry connecting.
        for _ in 0..200 {
            if shell.connect(&endpoint("shell_port")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        control.connect(&endpoint("control_port")).await.unwrap();
        stdin.connect(&endpoint("stdin_port")).await.unwrap();
        iopub.connect(&endpoint("iopub_port")).await.unwrap();
        iopub.subscribe("").await.unwrap();
        heartbeat.connect(&endpoint("hb_port")).await.unwrap();
        let mut kernel = Kernel {
            child,
            key: key.into_bytes(),
            session,
            shell,
            control,
            stdin,
            iopub,
            heartbeat,
            ports,
            _dir: dir,
        };
        // kernel_info answers at once; iopub needs a moment to subscribe (slow joiner).
        let id = kernel.send_shell("kernel_info_request", json!({})).await;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let msg = loop {
            if let Ok(msg) =
                tokio::time::timeout(Duration::from_millis(200), kernel.shell.recv()).await
            {
                break msg.unwrap();
            }
            if let Some(status) = kernel.child.try_wait().unwrap() {
                return Err(status);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for kernel_info_reply"
            );
        };
        let reply = kernel.decode(msg);
        assert_eq!(reply["parent_header"]["msg_id"], id);
        tokio::time::sleep(Duration::from_millis(300)).await;
        kernel.drain_iopub().await;
        Ok(kernel)
    }

    pub fn sign(&self, parts: &[&[u8]]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).unwrap();
        for p in parts {
            mac.update(p);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// A signed message's frames (without routing identities).
    pub fn frames(&self, msg_type: &str, content: Value) -> (String, Vec<Vec<u8>>) {
        let id = uuid::Uuid::new_v4().to_string();
        let header = json!({
            "msg_id": id, "session": self.session, "username": "test",
            "date": "2026-01-01T00:00:00.000000Z", "msg_type": msg_type, "version": "5.3",
        });
        let parts: Vec<Vec<u8>> = [header, json!({}), json!({}), content]
            .iter()
            .map(|v| v.to_string().into_bytes())
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let mut frames = vec![b"<IDS|MSG>".to_vec(), self.sign(&refs).into_bytes()];
        frames.extend(parts);
        (id, frames)
    }

    pub async fn send_raw(socket: &mut DealerSocket, frames: Vec<Vec<u8>>) {
        let frames: Vec<bytes::Bytes> = frames.into_iter().map(bytes::Bytes::from).collect();
        socket
            .send(ZmqMessage::try_from(frames).unwrap())
            .await
            .unwrap();
    }

    pub async fn send_shell(&mut self, msg_type: &str, content: Value) -> String {
        let (id, frames) = self.frames(msg_type, content);
        Self::send_raw(&mut self.shell, frames).await;
        id
    }

    pub async fn send_control(&mut self, msg_type: &str, content: Value) -> String {
        let (id, frames) = self.frames(msg_type, content);
        Self::send_raw(&mut self.control, frames).await;
        id
    }

    pub async fn send_stdin(&mut self, msg_type: &str, content: Value) -> String {
        let (id, frames) = self.frames(msg_type, content);
        Self::send_raw(&mut self.stdin, frames).await;
        id
    }

    /// Decodes and verifies a message (panics on a bad signature from the kernel).
    pub fn decode(&self, msg: ZmqMessage) -> Value {
        let frames: Vec<Vec<u8>> = msg.into_vec().into_iter().map(|b| b.to_vec()).collect();
        let delim = frames
            .iter()
            .position(|f| f.as_slice() == b"<IDS|MSG>")
            .expect("delimiter");
        let sig = String::from_utf8(frames[delim + 1].clone()).unwrap();
        let parts: Vec<&[u8]> = frames[delim + 2..delim + 6]
            .iter()
            .map(Vec::as_slice)
            .collect();
        assert_eq!(sig, self.sign(&parts), "kernel signature must verify");
        let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
        json!({
            "header": parse(parts[0]), "parent_header": parse(parts[1]),
            "metadata": parse(parts[2]), "content": parse(parts[3]),
            "msg_type": parse(parts[0])["msg_type"],
        })
    }

    pub async fn shell_reply(&mut self, timeout: Duration) -> Value {
        let msg = tokio::time::timeout(timeout, self.shell.recv())
            .await
            .expect("timed out waiting for a shell reply")
            .unwrap();
        self.decode(msg)
    }

    pub async fn control_reply(&mut self, timeout: Duration) -> Value {
        let msg = tokio::time::timeout(timeout, self.control.recv())
            .await
            .expect("timed out waiting for a control reply")
            .unwrap();
        self.decode(msg)
    }

    pub async fn stdin_msg(&mut self, timeout: Duration) -> Value {
        let msg = tokio::time::timeout(timeout, self.stdin.recv())
            .await
            .expect("timed out waiting for a stdin message")
            .unwrap();
        self.decode(msg)
    }

    pub async fn iopub_msg(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.iopub.recv()).await {
            Ok(Ok(msg)) => Some(self.decode(msg)),
            _ => None,
        }
    }

    pub async fn drain_iopub(&mut self) {
        while self.iopub_msg(Duration::from_millis(100)).await.is_some() {}
    }

    /// iopub messages for `parent` up to and including its `idle` status.
    pub async fn iopub_until_idle(&mut self, parent: &str) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let msg = self
                .iopub_msg(TIMEOUT)
                .await
                .expect("timed out waiting for iopub");
            if msg["parent_header"]["msg_id"] != parent {
                continue;
            }
            let idle = msg["msg_type"] == "status" && msg["content"]["execution_state"] == "idle";
            got.push(msg);
            if idle {
                return got;
            }
        }
    }

    /// Executes `code`; returns (reply, iopub messages up to idle).
    pub async fn execute(&mut self, code: &str) -> (Value, Vec<Value>) {
        let id = self
            .send_shell(
                "execute_request",
                json!({ "code": code, "silent": false, "store_history": true,
                        "user_expressions": {}, "allow_stdin": false, "stop_on_error": true }),
            )
            .await;
        let reply = self.shell_reply(TIMEOUT).await;
        assert_eq!(reply["parent_header"]["msg_id"], id);
        let messages = self.iopub_until_idle(&id).await;
        (reply, messages)
    }
}

/// The msg_types of `messages`, in order.
pub fn types(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["msg_type"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The concatenated stream text of `name` in `messages`.
pub fn stream(messages: &[Value], name: &str) -> String {
    messages
        .iter()
        .filter(|m| m["msg_type"] == "stream" && m["content"]["name"] == name)
        .map(|m| m["content"]["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The `text/plain` of the first `execute_result` in `messages`, if there is one.
pub fn result_text(messages: &[Value]) -> Option<String> {
    messages
        .iter()
        .find(|m| m["msg_type"] == "execute_result")
        .map(|m| {
            m["content"]["data"]["text/plain"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
}
