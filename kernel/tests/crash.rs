//! A cell that crashes the evaluation process (a segfault) gets an error saying so; the
//! kernel stays up, restarts the runtime, and paralelo is still loaded.

mod common;

use common::{Kernel, stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segfaulting_cell_is_an_error_and_the_kernel_survives() {
    let mut k = Kernel::start().await;
    let (reply, msgs) = k
        .execute("unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1) };")
        .await;
    assert_eq!(reply["content"]["status"], "error", "{reply}");
    assert_eq!(reply["content"]["ename"], "RuntimeRestarted");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    let shown = format!("{evalue}{}", stream(&msgs, "stderr"));
    assert!(
        shown.contains("Segmentation fault") || shown.contains("signal"),
        "{shown}"
    );
    assert!(evalue.contains("restarted"), "{evalue}");
    assert_eq!(msgs.iter().filter(|m| m["msg_type"] == "error").count(), 1);

    let (reply, msgs) = k
        .execute("par_map(|x: u8| x, 0..2u8).map(|v| v.len())")
        .await;
    assert_eq!(
        reply["content"]["status"],
        "ok",
        "{reply} {}",
        stream(&msgs, "stderr")
    );
    assert!(
        k.child.try_wait().unwrap().is_none(),
        "the kernel must still run"
    );
}
