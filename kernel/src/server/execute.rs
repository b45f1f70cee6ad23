//! An `execute_request`: the cell goes to the engine thread, its outputs come back as iopub
//! messages while it runs, and the reply (or the error) follows; a failed cell aborts the
//! requests already queued, as ipykernel does with `stop_on_error`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use zeromq::prelude::*;

use super::Shell;
use crate::connection::frames_of;
use crate::message::Message;
use crate::output::{CellError, CellValue, Output, page_text};
use crate::worker::Job;

impl Shell {
    pub(super) async fn execute(&mut self, msg: &Message) {
        let content = &msg.content;
        let code = content
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let silent = content
            .get("silent")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let store_history = !silent
            && content
                .get("store_history")
                .and_then(Value::as_bool)
                .unwrap_or(true);
        let allow_stdin = content
            .get("allow_stdin")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let stop_on_error = content
            .get("stop_on_error")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if store_history {
            self.execution_count += 1;
        }
        let history_number = store_history.then_some(self.execution_count);
        let count = self.execution_count;
        if !silent {
            self.shared.publish(msg.broadcast(
                "execute_input",
                json!({ "code": code, "execution_count": count }),
            ));
        }
        let shared = self.shared.clone();
        let parent = msg.clone();
        // Pager text goes in the reply's payload (IPython's convention), not on iopub.
        let pages: Arc<Mutex<Vec<Value>>> = Arc::default();
        let page_store = pages.clone();
        let sink = Arc::new(move |output: Output| match output {
            Output::Page { data } => page_store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(json!({ "source": "page", "data": data, "start": 0 })),
            output if !silent => shared.publish(output_message(&parent, output)),
            _ => {}
        });
        let (tx, rx) = oneshot::channel();
        let input = if allow_stdin {
            Some(self.input_channel(msg))
        } else {
            None
        };
        self.shared.worker.submit(Job::Execute {
            code,
            history_number,
            sink,
            input,
            reply: tx,
        });
        let result: Result<CellValue, CellError> = rx
            .await
            .unwrap_or_else(|_| Err(CellError::new("KernelError", "the engine thread stopped")));
        *self
            .shared
            .stdin_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        match result {
            Ok(value) => {
                if !silent && !value.is_empty() {
                    self.shared.publish(msg.broadcast(
                        "execute_result",
                        json!({ "execution_count": count, "data": value, "metadata": {} }),
                    ));
                }
                let payload = std::mem::take(&mut *pages.lock().unwrap_or_else(|e| e.into_inner()));
                let reply = json!({
                    "status": "ok", "execution_count": count,
                    "user_expressions": {}, "payload": payload,
                });
                self.reply(msg, "execute_reply", reply).await;
            }
            Err(error) => {
                let body = json!({
                    "ename": error.ename, "evalue": error.evalue, "traceback": error.traceback,
                });
                self.shared.publish(msg.broadcast("error", body.clone()));
                let mut reply = body;
                reply["status"] = json!("error");
                reply["execution_count"] = json!(count);
                self.reply(msg, "execute_reply", reply).await;
                if stop_on_error {
                    self.abort_queued().await;
                }
            }
        }
    }

    /// Answers execute requests already queued on the shell socket with status `aborted`;
    /// other queued requests are kept for normal handling. The queue is read until it has
    /// been quiet briefly, and only then answered, so a request sent after the answers is
    /// never mistaken for a queued one.
    async fn abort_queued(&mut self) {
        let mut aborted = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_millis(20), self.recv.recv()).await;
            let Ok(Ok(raw)) = next else {
                break;
            };
            let Some(queued) = self.shared.decode("shell", frames_of(raw)) else {
                continue;
            };
            if queued.msg_type() == "execute_request" {
                aborted.push(queued);
            } else {
                self.pending.push_back(queued);
            }
        }
        for queued in aborted {
            self.shared.status(&queued, "busy");
            let reply = json!({ "status": "aborted", "execution_count": self.execution_count });
            self.reply(&queued, "execute_reply", reply).await;
            self.shared.status(&queued, "idle");
        }
    }

    /// A function the engine thread calls to read a line through the stdin channel.
    fn input_channel(&self, request: &Message) -> crate::worker::InputFn {
        let shared = self.shared.clone();
        let request = request.clone();
        let handle = tokio::runtime::Handle::current();
        Arc::new(move |prompt: &str, password: bool| {
            let (tx, rx) = std::sync::mpsc::channel();
            *shared
                .stdin_replies
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(tx);
            let ask = request.reply(
                "input_request",
                json!({ "prompt": prompt, "password": password }),
            );
            let shared2 = shared.clone();
            handle.block_on(async move {
                let mut socket = shared2.stdin_send.lock().await;
                shared2.send(&mut socket, &ask).await;
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(line) => return line,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return String::new(),
                    Err(_) if shared.worker.interrupted() => return String::new(),
                    Err(_) => {}
                }
            }
        })
    }
}

/// The iopub message for one output of a running cell.
fn output_message(parent: &Message, output: Output) -> Message {
    match output {
        Output::Stdout(text) => {
            parent.broadcast("stream", json!({ "name": "stdout", "text": text }))
        }
        Output::Stderr(text) => {
            parent.broadcast("stream", json!({ "name": "stderr", "text": text }))
        }
        Output::Display {
            data,
            display_id,
            update,
        } => {
            let transient = match display_id {
                Some(id) => json!({ "display_id": id }),
                None => json!({}),
            };
            let kind = if update {
                "update_display_data"
            } else {
                "display_data"
            };
            parent.broadcast(
                kind,
                json!({ "data": data, "metadata": {}, "transient": transient }),
            )
        }
        Output::Clear { wait } => parent.broadcast("clear_output", json!({ "wait": wait })),
        // Not an iopub message: `execute` puts pages in the reply's payload. Shown as text
        // should one ever get here.
        Output::Page { data } => parent.broadcast(
            "stream",
            json!({ "name": "stdout", "text": page_text(&data) }),
        ),
    }
}
