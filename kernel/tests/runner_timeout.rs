//! No hang, ever: a cell past its limit is interrupted, then killed with its runtime
//! restarted, and fails with `CellTimeoutError` naming the notebook, the cell and the
//! limit; the next notebook runs in a fresh engine; `--startup-timeout` bounds the start.

mod common;
mod runner_util;

use runner_util::{fixture, path, run};

/// hanging.ipynb: cell 3 (a long `par_map`, limit 3 s from its metadata) stops at the
/// interrupt and keeps the variables; cell 4 (`loop {}`, 3 s) must be killed; with
/// `--allow-errors` cell 5 still runs; then outputs.ipynb runs in a fresh engine.
#[test]
fn hanging_cells_time_out_and_the_run_goes_on() {
    let hanging = fixture("hanging.ipynb");
    let run = run(&[
        path(&hanging),
        path(&fixture("outputs.ipynb")),
        "--allow-errors",
        "--timeout",
        "600",
    ]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let name = hanging.display();
    assert!(
        run.stderr.contains(&format!(
            "CellTimeoutError: {name}: cell 3 did not finish within 3 s"
        )) && run
            .stderr
            .contains("it was interrupted and stopped; the session's variables are kept"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("guardado sigue: 5"),
        "variables survive the interrupt:\n{}",
        run.all()
    );
    assert!(
        run.stderr.contains(&format!(
            "CellTimeoutError: {name}: cell 4 did not finish within 3 s"
        )) && run
            .stderr
            .contains("killed and restarted: variables were lost"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("después"),
        "--allow-errors runs the next cell:\n{}",
        run.all()
    );
    assert!(
        run.stdout.contains("hola desde Rust"),
        "the next notebook ran:\n{}",
        run.all()
    );
    assert!(
        run.stdout.contains("notebooks: 1 passed, 1 failed"),
        "{}",
        run.all()
    );
}

/// Without `--allow-errors` the first timeout stops the notebook; `--timeout` applies to
/// cells without a limit of their own.
#[test]
fn a_timeout_stops_the_notebook() {
    let dir = common::TempDir::new("timeout");
    let nb = dir.0.join("loop.ipynb");
    let notebook = serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": null,
         "source": "println!(\"empieza\");\nloop {}"},
        {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": null,
         "source": "println!(\"nunca\");"},
    ]});
    std::fs::write(&nb, notebook.to_string()).unwrap();
    let run = run(&[path(&nb), "--timeout", "2", "--interrupt-grace", "1"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "CellTimeoutError: {}: cell 1 did not finish within 2 s",
            nb.display()
        )),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("empieza"), "{}", run.all());
    assert!(!run.stdout.contains("nunca\n"), "{}", run.all());
    assert!(
        run.stdout.contains("--- cell 2: not run (cell 1 failed)"),
        "{}",
        run.all()
    );
}

#[test]
fn an_engine_that_does_not_start_in_time_fails_its_notebook() {
    let dir = common::TempDir::new("startup");
    let nb = dir.0.join("slow_start.ipynb");
    std::fs::copy(fixture("sources.ipynb"), &nb).unwrap();
    let run = run(&[path(&nb), "--startup-timeout", "0.01"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "{}: the engine did not start within 0.01 s (--startup-timeout)",
            nb.display()
        )),
        "{}",
        run.all()
    );
}
