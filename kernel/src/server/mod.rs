//! The Jupyter server: one task per channel, a table from message type to handler, and
//! busy/idle around every request.
//!
//! The evcxr engine lives on its own thread ([`crate::worker`]); the shell task hands it
//! jobs and waits, while the control task stays free to answer `interrupt_request` and
//! `shutdown_request` during a long cell. The execute flow is in [`execute`], the reply
//! contents that need no session in [`content`].

mod content;
mod execute;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use zeromq::prelude::*;
use zeromq::{RouterRecvHalf, RouterSendHalf};

use crate::completeness::is_complete;
use crate::connection::{ConnectionInfo, Sockets, frames_of, message_of};
use crate::engine::EngineConfig;
use crate::message::{Message, Signer};
use crate::worker::{Job, Worker};
use content::{byte_to_char, char_to_byte, code_and_cursor, kernel_info, shutdown_content};

/// The longest a shell `kernel_info_request` waits for the engine to start.
const READY_WAIT: Duration = Duration::from_secs(45);

/// What every task shares.
pub(crate) struct Shared {
    /// Signs outgoing messages.
    encoder: Signer,
    /// Checks incoming messages (one digest history for all channels).
    decoder: Mutex<Signer>,
    iopub: mpsc::UnboundedSender<Message>,
    stdin_send: tokio::sync::Mutex<RouterSendHalf>,
    stdin_replies: Mutex<Option<std::sync::mpsc::Sender<String>>>,
    worker: Worker,
    shutting_down: AtomicBool,
}

impl Shared {
    fn publish(&self, msg: Message) {
        // The iopub task only stops when the process does.
        let _ = self.iopub.send(msg);
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(parent.broadcast("status", json!({ "execution_state": state })));
    }

    async fn send(&self, socket: &mut RouterSendHalf, msg: &Message) {
        let frames = self.encoder.encode(msg);
        if let Err(e) = socket.send(message_of(frames)).await {
            eprintln!("paralelo-kernel: could not send {}: {e}", msg.msg_type());
        }
    }

    fn decode(&self, channel: &str, frames: Vec<Vec<u8>>) -> Option<Message> {
        let mut decoder = self.decoder.lock().unwrap_or_else(|e| e.into_inner());
        match decoder.decode(frames) {
            Ok(msg) => Some(msg),
            Err(e) => {
                eprintln!("paralelo-kernel: dropped a message on {channel}: {e}");
                None
            }
        }
    }
}

/// Serves the kernel described by `connection_file` until a shutdown request.
///
/// # Errors
///
/// When the connection file is unusable or a port cannot be bound.
pub(crate) fn serve(connection_file: &Path) -> Result<()> {
    let info = ConnectionInfo::read(connection_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(info))
}

async fn run(info: ConnectionInfo) -> Result<()> {
    let sockets = Sockets::bind(&info).await?;
    let (iopub_tx, mut iopub_rx) = mpsc::unbounded_channel::<Message>();
    let (shell_send, shell_recv) = sockets.shell.split();
    let (control_send, control_recv) = sockets.control.split();
    let (stdin_send, stdin_recv) = sockets.stdin.split();
    let worker = Worker::spawn(EngineConfig::from_env());
    let shared = Arc::new(Shared {
        encoder: Signer::new(info.key.as_bytes()),
        decoder: Mutex::new(Signer::new(info.key.as_bytes())),
        iopub: iopub_tx,
        stdin_send: tokio::sync::Mutex::new(stdin_send),
        stdin_replies: Mutex::new(None),
        worker,
        shutting_down: AtomicBool::new(false),
    });

    let mut iopub = sockets.iopub;
    let encoder = Signer::new(info.key.as_bytes());
    tokio::spawn(async move {
        while let Some(msg) = iopub_rx.recv().await {
            if let Err(e) = iopub.send(message_of(encoder.encode(&msg))).await {
                eprintln!("paralelo-kernel: iopub send failed: {e}");
            }
        }
    });

    let mut heartbeat = sockets.heartbeat;
    tokio::spawn(async move {
        loop {
            match heartbeat.recv().await {
                Ok(ping) => {
                    if let Err(e) = heartbeat.send(ping).await {
                        eprintln!("paralelo-kernel: heartbeat send failed: {e}");
                    }
                }
                Err(e) => {
                    eprintln!("paralelo-kernel: heartbeat receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });

    tokio::spawn(stdin_loop(shared.clone(), stdin_recv));
    tokio::spawn(control_loop(shared.clone(), control_send, control_recv));
    tokio::spawn(interrupt_on_sigint(shared.clone()));

    // Announce ourselves, as ipykernel does.
    let hello = Message {
        identities: vec![b"kernel.status".to_vec()],
        header: crate::message::new_header("status", ""),
        parent_header: json!({}),
        metadata: json!({}),
        content: json!({ "execution_state": "starting" }),
        buffers: vec![],
    };
    shared.publish(hello);

    shell_loop(shared, shell_send, shell_recv).await;
    Ok(())
}

async fn interrupt_on_sigint(shared: Arc<Shared>) {
    let Ok(mut stream) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    else {
        return;
    };
    while stream.recv().await.is_some() {
        shared.worker.interrupt();
    }
}

async fn recv_frames(socket: &mut RouterRecvHalf, channel: &str) -> Vec<Vec<u8>> {
    loop {
        match socket.recv().await {
            Ok(m) => return frames_of(m),
            Err(e) => {
                eprintln!("paralelo-kernel: {channel} receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct Shell {
    shared: Arc<Shared>,
    send: RouterSendHalf,
    recv: RouterRecvHalf,
    pending: VecDeque<Message>,
    execution_count: u64,
}

async fn shell_loop(shared: Arc<Shared>, send: RouterSendHalf, recv: RouterRecvHalf) {
    let mut shell = Shell {
        shared,
        send,
        recv,
        pending: VecDeque::new(),
        execution_count: 0,
    };
    loop {
        let msg = match shell.pending.pop_front() {
            Some(msg) => msg,
            None => {
                let frames = recv_frames(&mut shell.recv, "shell").await;
                match shell.shared.decode("shell", frames) {
                    Some(msg) => msg,
                    None => continue,
                }
            }
        };
        shell.handle(msg).await;
    }
}

impl Shell {
    async fn reply(&mut self, request: &Message, msg_type: &str, content: Value) {
        let reply = request.reply(msg_type, content);
        self.shared.send(&mut self.send, &reply).await;
    }

    async fn handle(&mut self, msg: Message) {
        let shared = self.shared.clone();
        shared.status(&msg, "busy");
        match msg.msg_type() {
            "kernel_info_request" => {
                // Frontends take this reply as "ready": give the engine (a warm start takes
                // seconds) the chance to be, so the first cell does not wait for it.
                shared.worker.wait_ready(READY_WAIT).await;
                self.reply(&msg, "kernel_info_reply", kernel_info()).await;
            }
            "execute_request" => self.execute(&msg).await,
            "is_complete_request" => {
                let code = msg
                    .content
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let status = is_complete(code);
                let mut content = json!({ "status": status.as_str() });
                if status.as_str() == "incomplete" {
                    content["indent"] = json!("");
                }
                self.reply(&msg, "is_complete_reply", content).await;
            }
            "complete_request" => {
                let (code, pos) = code_and_cursor(&msg.content);
                let (tx, rx) = oneshot::channel();
                shared.worker.submit(Job::Complete {
                    code: code.clone(),
                    pos: char_to_byte(&code, pos),
                    reply: tx,
                });
                let (matches, start, end) = rx.await.unwrap_or((Vec::new(), 0, 0));
                let content = json!({
                    "status": "ok",
                    "matches": matches,
                    "cursor_start": byte_to_char(&code, start),
                    "cursor_end": byte_to_char(&code, end),
                    "metadata": {},
                });
                self.reply(&msg, "complete_reply", content).await;
            }
            "inspect_request" => {
                let (code, pos) = code_and_cursor(&msg.content);
                let (tx, rx) = oneshot::channel();
                shared.worker.submit(Job::Inspect {
                    code: code.clone(),
                    pos: char_to_byte(&code, pos),
                    reply: tx,
                });
                let content = match rx.await.ok().flatten() {
                    Some((plain, html)) => json!({
                        "status": "ok", "found": true,
                        "data": { "text/plain": plain, "text/html": html },
                        "metadata": {},
                    }),
                    None => json!({ "status": "ok", "found": false, "data": {}, "metadata": {} }),
                };
                self.reply(&msg, "inspect_reply", content).await;
            }
            "history_request" => {
                let (tx, rx) = oneshot::channel();
                shared.worker.submit(Job::History {
                    request: msg.content.clone(),
                    reply: tx,
                });
                let content = rx
                    .await
                    .unwrap_or_else(|_| json!({ "status": "ok", "history": [] }));
                self.reply(&msg, "history_reply", content).await;
            }
            "comm_info_request" => {
                self.reply(
                    &msg,
                    "comm_info_reply",
                    json!({ "status": "ok", "comms": {} }),
                )
                .await;
            }
            "shutdown_request" => {
                let content = shutdown_content(&msg);
                self.reply(&msg, "shutdown_reply", content).await;
                shutdown(&shared, &msg).await;
            }
            "comm_open" | "comm_msg" | "comm_close" => {}
            other => eprintln!("paralelo-kernel: ignored unknown shell message {other:?}"),
        }
        shared.status(&msg, "idle");
    }
}

async fn stdin_loop(shared: Arc<Shared>, mut recv: RouterRecvHalf) {
    loop {
        let frames = recv_frames(&mut recv, "stdin").await;
        let Some(msg) = shared.decode("stdin", frames) else {
            continue;
        };
        if msg.msg_type() != "input_reply" {
            eprintln!("paralelo-kernel: ignored {:?} on stdin", msg.msg_type());
            continue;
        }
        let value = msg
            .content
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or("");
        let waiting = shared
            .stdin_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match waiting {
            Some(tx) => {
                let _ = tx.send(value.to_owned());
            }
            None => eprintln!("paralelo-kernel: input_reply with no pending input_request"),
        }
    }
}

async fn control_loop(shared: Arc<Shared>, mut send: RouterSendHalf, mut recv: RouterRecvHalf) {
    loop {
        let frames = recv_frames(&mut recv, "control").await;
        let Some(msg) = shared.decode("control", frames) else {
            continue;
        };
        shared.status(&msg, "busy");
        match msg.msg_type() {
            "kernel_info_request" => {
                shared
                    .send(&mut send, &msg.reply("kernel_info_reply", kernel_info()))
                    .await;
            }
            "interrupt_request" => {
                shared.worker.interrupt();
                shared
                    .send(
                        &mut send,
                        &msg.reply("interrupt_reply", json!({ "status": "ok" })),
                    )
                    .await;
            }
            "shutdown_request" => {
                let content = shutdown_content(&msg);
                shared
                    .send(&mut send, &msg.reply("shutdown_reply", content))
                    .await;
                shutdown(&shared, &msg).await;
            }
            other => eprintln!("paralelo-kernel: ignored unknown control message {other:?}"),
        }
        shared.status(&msg, "idle");
    }
}

/// Stops the evaluation child and leaves; Jupyter starts a new kernel for a restart.
async fn shutdown(shared: &Shared, msg: &Message) {
    if shared.shutting_down.swap(true, Ordering::SeqCst) {
        return;
    }
    shared.status(msg, "idle");
    shared.worker.kill_child();
    // Let the reply and the status message leave before the process does.
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::exit(0);
}
