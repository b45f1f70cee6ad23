//! A cell is compiled by rustc alone once a cargo build has shown the command (evcxr patch
//! 0009): what cargo would notice still makes a cargo build. An edited path dependency is
//! rebuilt, a new `:dep` is picked up, and a compile error reads as it does through cargo.

mod common;

use common::{Kernel, result_text, stream};
use serde_json::Value;

/// A crate of one function returning `answer`, at `dir`.
fn write_crate(dir: &std::path::Path, name: &str, answer: u32) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("pub fn answer() -> u32 {{ {answer} }}\n"),
    )
    .unwrap();
}

async fn value(k: &mut Kernel, code: &str) -> String {
    let (reply, msgs) = k.execute(code).await;
    assert_eq!(
        reply["content"]["status"],
        "ok",
        "{code}: {reply} {}",
        stream(&msgs, "stderr")
    );
    result_text(&msgs).unwrap_or_else(|| panic!("{code}: no result in {msgs:#?}"))
}

/// `:dep NAME = { path = DIR }`.
async fn add_path_dep(k: &mut Kernel, name: &str, dir: &std::path::Path) {
    let (reply, _) = k
        .execute(&format!(":dep {name} = {{ path = \"{}\" }}", dir.display()))
        .await;
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
}

fn evalue(reply: &Value) -> &str {
    reply["content"]["evalue"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cargo_would_rebuild_is_rebuilt() {
    let dir = std::env::temp_dir().join(format!("paralelo-cell-builds-{}", std::process::id()));
    let (first, second) = (dir.join("first_dep"), dir.join("second_dep"));
    write_crate(&first, "first_dep", 1);
    write_crate(&second, "second_dep", 10);

    let mut k = Kernel::start().await;
    add_path_dep(&mut k, "first_dep", &first).await;
    assert_eq!(value(&mut k, "first_dep::answer()").await, "1");
    assert_eq!(value(&mut k, "2 + 2").await, "4");

    // The dependency's source changes between cells: the next cell sees the new code.
    write_crate(&first, "first_dep", 2);
    assert_eq!(value(&mut k, "first_dep::answer()").await, "2");
    assert_eq!(value(&mut k, "first_dep::answer() * 3").await, "6");

    // A compile error names the user's code, and the session goes on.
    let (reply, _) = k.execute("let z: u32 = \"text\";").await;
    assert_eq!(reply["content"]["ename"], "CompilationError", "{reply}");
    assert!(evalue(&reply).contains("mismatched types"), "{reply}");
    assert_eq!(value(&mut k, "first_dep::answer() + 1").await, "3");

    // A new dependency changes the manifest: built, and usable with the first.
    add_path_dep(&mut k, "second_dep", &second).await;
    assert_eq!(
        value(&mut k, "second_dep::answer() + first_dep::answer()").await,
        "12"
    );
    write_crate(&second, "second_dep", 20);
    assert_eq!(value(&mut k, "second_dep::answer()").await, "20");
    let _ = std::fs::remove_dir_all(&dir);
}
