//! `--jobs N`: notebooks in parallel engines, each in its own cache slot, their outputs
//! grouped per notebook in the order given.

mod common;
mod runner_util;

use runner_util::{fixture, path, run};

#[test]
fn notebooks_run_in_parallel_with_grouped_output() {
    let a = fixture("grouped_a.ipynb");
    let b = fixture("grouped_b.ipynb");
    let run = run(&["--jobs", "2", path(&a), path(&b)]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout.contains("notebooks: 2 passed, 0 failed"),
        "{}",
        run.all()
    );
    // Each notebook's lines together, in the order given, although b ran alongside a.
    let position = |text: &str| {
        run.stdout
            .find(text)
            .unwrap_or_else(|| panic!("{text}: {}", run.stdout))
    };
    assert!(position("=== ") < position("a1"));
    assert!(position("a1") < position("a2"));
    assert!(position("a2") < position(&format!("=== {}", b.display())));
    assert!(position(&format!("=== {}", b.display())) < position("b1"));
    assert!(position("b1") < position("b2"));
    // Two engines, two cache slots.
    let slots: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("--- engine started"))
        .collect();
    assert_eq!(slots.len(), 2, "{}", run.stdout);
    assert_ne!(
        slots[0].rsplit(' ').next(),
        slots[1].rsplit(' ').next(),
        "{slots:?}"
    );
}
