//! Live output: each line reaches the runner's stdout when the cell prints it, after the
//! cell's number; displays updated in place print their last state once, or every update
//! with `--progress`.

mod common;
mod runner_util;

use runner_util::{fixture, path, run};

/// How many times the progress display was printed at `percent` (its `Debug` text).
fn shown(run: &runner_util::Run, percent: u32) -> usize {
    let line = format!("\"progreso {percent}%\"");
    run.stdout.lines().filter(|l| *l == line).count()
}

#[test]
fn lines_arrive_as_they_are_printed() {
    let run = run(&[path(&fixture("live.ipynb"))]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let first = run.arrival("primera línea").expect("first line");
    let second = run.arrival("segunda línea").expect("second line");
    assert!(
        second.saturating_sub(first).as_secs_f64() >= 3.0,
        "the lines 4 s apart arrived {:?} apart:\n{:#?}",
        second - first,
        run.lines
    );
    let header = run
        .arrival("--- cell 1: println!(\"primera línea\");")
        .expect("header");
    assert!(header <= first, "{:#?}", run.lines);
    // The progress display: its first state when shown, its last once at the end (the
    // cell's header line shows the source, which names the first state too).
    let shown = |state: &str| run.stdout.lines().filter(|l| *l == state).count();
    assert_eq!(shown("\"progreso 0%\""), 1, "{}", run.stdout);
    assert_eq!(shown("\"progreso 100%\""), 1, "{}", run.stdout);
    assert!(!run.stdout.contains("progreso 40%"), "{}", run.stdout);
    let done = run.stdout.find("hecho").unwrap();
    assert!(
        run.stdout.find("progreso 100%").unwrap() > done,
        "{}",
        run.stdout
    );
}

#[test]
fn progress_prints_every_update() {
    let dir = common::TempDir::new("progress");
    let nb = dir.0.join("progress.ipynb");
    let mut notebook: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("live.ipynb")).unwrap()).unwrap();
    notebook["cells"].as_array_mut().unwrap().remove(0);
    std::fs::write(&nb, notebook.to_string()).unwrap();
    let run = run(&[path(&nb), "--progress"]);
    assert_eq!(run.code(), 0, "{}", run.all());
    for percent in [0, 20, 40, 60, 80, 100] {
        assert_eq!(shown(&run, percent), 1, "{}", run.stdout);
    }
}
