//! Forged, unsigned, replayed and malformed messages are dropped; the kernel keeps serving.

mod common;

use std::time::Duration;

use common::{Kernel, TIMEOUT};
use serde_json::json;
use zeromq::prelude::*;

async fn no_reply(k: &mut Kernel) {
    let got = tokio::time::timeout(Duration::from_secs(2), k.shell.recv()).await;
    assert!(got.is_err(), "the kernel must not answer a bad message");
}

async fn still_serving(k: &mut Kernel) {
    let id = k.send_shell("kernel_info_request", json!({})).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["parent_header"]["msg_id"], id);
    assert_eq!(reply["msg_type"], "kernel_info_reply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_dropped_and_the_kernel_keeps_serving() {
    let mut k = Kernel::start().await;

    // Forged: signed with another key.
    let (_, mut frames) = k.frames("kernel_info_request", json!({}));
    frames[1] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec();
    Kernel::send_raw(&mut k.shell, frames).await;
    no_reply(&mut k).await;

    // Unsigned.
    let (_, mut frames) = k.frames("kernel_info_request", json!({}));
    frames[1] = Vec::new();
    Kernel::send_raw(&mut k.shell, frames).await;
    no_reply(&mut k).await;

    // Signature that is not hex at all.
    let (_, mut frames) = k.frames("kernel_info_request", json!({}));
    frames[1] = b"not hex!".to_vec();
    Kernel::send_raw(&mut k.shell, frames).await;
    no_reply(&mut k).await;

    // Replayed: the same signed frames twice; only the first is answered.
    let (id, frames) = k.frames("kernel_info_request", json!({}));
    Kernel::send_raw(&mut k.shell, frames.clone()).await;
    let reply = k.shell_reply(TIMEOUT).await;
    assert_eq!(reply["parent_header"]["msg_id"], id);
    Kernel::send_raw(&mut k.shell, frames).await;
    no_reply(&mut k).await;

    // Malformed: no delimiter, too few frames, JSON that is not an object, no msg_type.
    Kernel::send_raw(&mut k.shell, vec![b"garbage".to_vec()]).await;
    Kernel::send_raw(&mut k.shell, vec![b"<IDS|MSG>".to_vec(), b"sig".to_vec()]).await;
    for header in ["[1, 2]", "{not json", "{\"msg_id\": \"x\"}"] {
        let parts: Vec<Vec<u8>> = vec![
            header.into(),
            b"{}".to_vec(),
            b"{}".to_vec(),
            b"{}".to_vec(),
        ];
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let mut frames = vec![b"<IDS|MSG>".to_vec(), k.sign(&refs).into_bytes()];
        frames.extend(parts);
        Kernel::send_raw(&mut k.shell, frames).await;
    }
    no_reply(&mut k).await;

    // The same on control.
    let (_, mut frames) = k.frames("shutdown_request", json!({"restart": false}));
    frames[1] = b"ffff".to_vec();
    Kernel::send_raw(&mut k.control, frames).await;
    let got = tokio::time::timeout(Duration::from_secs(2), k.control.recv()).await;
    assert!(got.is_err(), "a forged shutdown must be ignored");

    still_serving(&mut k).await;
    assert!(
        k.child.try_wait().unwrap().is_none(),
        "the kernel must still run"
    );
}
