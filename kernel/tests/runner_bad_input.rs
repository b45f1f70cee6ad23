//! Bad input: each case gets a clear error naming the file and what to do, exit status 2,
//! and the other notebooks of the run still run.

mod common;
mod runner_util;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::TempDir;
use runner_util::{Run, fixture, path, run};
use serde_json::json;

/// A notebook without code cells: it passes without starting an engine.
fn good(dir: &Path) -> PathBuf {
    let p = dir.join("good.ipynb");
    let nb = json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# bien"}]});
    std::fs::write(&p, nb.to_string()).unwrap();
    p
}

/// Runs `bad` then a good notebook; checks exit 2, the message, and that the good one ran.
fn bad_then_good(bad: &Path, flags: &[&str], expected: &[&str]) -> Run {
    let dir = TempDir::new("bad");
    let good = good(&dir.0);
    let mut args = vec![path(bad), path(&good)];
    args.extend_from_slice(flags);
    let run = run(&args);
    assert_eq!(run.code(), 2, "{}", run.all());
    let name = bad.file_name().unwrap().to_str().unwrap();
    for text in expected {
        assert!(
            run.stderr.contains(&format!("{name}: {text}")) || run.stderr.contains(text),
            "{text:?} missing:\n{}",
            run.all()
        );
    }
    assert!(
        run.stdout.contains("=== "),
        "the good notebook did not run:\n{}",
        run.all()
    );
    assert!(run.stdout.contains("good.ipynb"), "{}", run.all());
    assert!(
        run.stdout.contains("notebooks: 1 passed, 1 failed"),
        "{}",
        run.all()
    );
    run
}

#[test]
fn a_file_that_is_not_json() {
    bad_then_good(
        &fixture("not_a_notebook.txt"),
        &[],
        &["not_a_notebook.txt: not a Jupyter notebook (not JSON"],
    );
}

#[test]
fn json_that_is_not_a_notebook() {
    bad_then_good(
        &fixture("not_a_notebook.json"),
        &[],
        &["not_a_notebook.json: not a Jupyter notebook (no \"nbformat\" field)"],
    );
}

#[test]
fn nbformat_3() {
    bad_then_good(
        &fixture("nbformat3.ipynb"),
        &[],
        &[
            "nbformat3.ipynb: nbformat 3 is not supported",
            "jupyter nbconvert --to notebook --nbformat 4",
        ],
    );
}

#[test]
fn a_source_that_is_neither_a_string_nor_a_list_of_strings() {
    for name in ["bad_source.ipynb", "bad_source_list.ipynb"] {
        bad_then_good(
            &fixture(name),
            &[],
            &[&format!(
                "{name}: cell 1: \"source\" must be a string or a list of strings"
            )],
        );
    }
}

#[test]
fn an_unknown_tag_that_looks_like_a_runner_tag() {
    bad_then_good(
        &fixture("bad_tag.ipynb"),
        &[],
        &[
            "bad_tag.ipynb: cell 1: unknown tag \"raises-exceptions\": did you mean \"raises-exception\"?",
        ],
    );
}

#[test]
fn a_notebook_path_that_does_not_exist() {
    bad_then_good(
        Path::new("/nonexistent/lesson.ipynb"),
        &[],
        &["/nonexistent/lesson.ipynb: no such file"],
    );
}

#[test]
fn a_read_only_notebook_with_inplace() {
    let dir = TempDir::new("readonly");
    let p = dir.0.join("readonly.ipynb");
    std::fs::copy(fixture("sources.ipynb"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&p).unwrap();
    bad_then_good(
        &p,
        &["--inplace"],
        &[
            "readonly.ipynb: the file is read-only, so --inplace cannot write it",
            "--output DIR",
        ],
    );
    assert_eq!(
        std::fs::read(&p).unwrap(),
        before,
        "a read-only notebook was changed"
    );
}

/// Options that apply to every notebook stop the run before it starts: with a broken
/// sanitizer or parameter every notebook would be checked or run wrongly.
#[test]
fn a_sanitize_file_with_a_bad_regex_names_the_line() {
    let cfg = fixture("bad_regex.cfg");
    let run = run(&[
        path(&fixture("sources.ipynb")),
        "--check",
        "--sanitize",
        path(&cfg),
    ]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "--sanitize {}:6: bad regex \"(sin cerrar\"",
            cfg.display()
        )),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("[section]"), "{}", run.stderr);
}

#[test]
fn a_parameter_that_is_not_a_rust_identifier() {
    for name in ["2n", "fn", "mi-variable"] {
        let run = run(&[path(&fixture("parameters.ipynb")), "-p", name, "1"]);
        assert_eq!(run.code(), 2, "{}", run.all());
        assert!(
            run.stderr
                .contains(&format!("-p {name}: \"{name}\" is not a Rust identifier")),
            "{}",
            run.all()
        );
    }
}

#[test]
fn a_parameter_value_of_the_wrong_type_fails_only_its_notebook() {
    let dir = TempDir::new("badtype");
    let good = good(&dir.0);
    let run = run(&[
        path(&fixture("parameters.ipynb")),
        path(&good),
        "-p",
        "n",
        "muchos",
    ]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("parameters.ipynb: parameter n: \"muchos\" is not a u64"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("notebooks: 1 passed, 1 failed"),
        "{}",
        run.all()
    );
}

/// Every bad notebook at once beside real ones (string and list sources): each is named,
/// the good ones run their cells in an engine, and the run exits with 2.
#[test]
fn bad_notebooks_do_not_stop_the_others() {
    let bad = [
        "not_a_notebook.txt",
        "not_a_notebook.json",
        "nbformat3.ipynb",
        "bad_source.ipynb",
        "bad_tag.ipynb",
    ];
    let mut args: Vec<PathBuf> = vec![fixture("sources.ipynb")];
    args.extend(bad.iter().map(|b| fixture(b)));
    args.push(PathBuf::from("/nonexistent/lesson.ipynb"));
    let args: Vec<&str> = args.iter().map(|p| path(p)).collect();
    let run = run(&args);
    assert_eq!(run.code(), 2, "{}", run.all());
    for name in bad {
        assert!(
            run.stderr
                .contains(&format!("ERROR {}", fixture(name).display())),
            "{name}:\n{}",
            run.all()
        );
    }
    assert!(run.stdout.contains("lista\nde líneas\n"), "{}", run.all());
    assert!(run.stdout.contains("una cadena"), "{}", run.all());
    assert!(
        run.stdout.contains("notebooks: 1 passed, 6 failed"),
        "{}",
        run.all()
    );
}
