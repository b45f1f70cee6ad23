//! nbclient's, nbval's and papermill's conventions: tags and markers, `--allow-errors`,
//! `--junit` (parsed and checked), parameters, `--output`, `metadata.execution` timing and
//! sanitizers.

mod common;
mod runner_util;

use common::TempDir;
use runner_util::{fixture, path, run};
use serde_json::{Value, json};

fn read(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// tags.ipynb passes `--check`: a `raises-exception` cell fails as expected and the
/// notebook goes on, `skip-execution` / `nbval-skip` cells are not run and keep their
/// outputs, `nbval-ignore-output` and `// NBVAL_IGNORE_OUTPUT` cells are not compared.
#[test]
fn tags_and_nbval_markers() {
    let dir = TempDir::new("tags");
    let out = dir.0.join("out");
    let nb = fixture("tags.ipynb");
    let run = run(&[path(&nb), "--check", "--output", path(&out)]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout.contains("uno\n") && run.stdout.contains("dos\n"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains("nunca"), "{}", run.all());
    assert!(
        run.stdout.contains("--- cell 4: not run (skip-execution)"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("(cell 3 failed, as its raises-exception tag expects)"),
        "{}",
        run.all()
    );
    let written = read(&out.join("tags.ipynb"));
    let cells = written["cells"].as_array().unwrap();
    assert_eq!(cells[3]["outputs"][0]["text"], json!(["guardado 1\n"]));
    assert_eq!(cells[4]["outputs"][0]["text"], json!(["guardado 2\n"]));
    assert_eq!(
        cells[2]["outputs"].as_array().unwrap().last().unwrap()["ename"],
        "Panic"
    );
    assert_eq!(
        read(&nb),
        read(&fixture("tags.ipynb")),
        "the source is untouched"
    );
}

/// `--allow-errors` runs every cell and reports every failure; `--junit` has one testsuite
/// per notebook and one testcase per code cell, with the failures' names and values.
#[test]
fn allow_errors_and_junit() {
    let dir = TempDir::new("junit");
    let junit = dir.0.join("report.xml");
    let errors = fixture("errors.ipynb");
    let outputs = fixture("outputs.ipynb");
    let run = run(&[
        path(&errors),
        path(&outputs),
        "--allow-errors",
        "--junit",
        path(&junit),
    ]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(run.stdout.contains("sigue"), "{}", run.all());
    assert!(
        run.stderr.contains("cell 1 failed: Panic: uno"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("cell 2 failed: NoExceptionRaised"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("notebooks: 1 passed, 1 failed"),
        "{}",
        run.all()
    );

    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed JUnit XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    let attr = |n: &roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap_or_default().to_owned();
    assert_eq!(attr(&suites[0], "name"), errors.display().to_string());
    let cases: Vec<_> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(attr(&suites[0], "tests"), "3");
    assert_eq!(attr(&suites[0], "failures"), "2");
    assert_eq!(
        attr(&cases[0], "name"),
        "errors.ipynb cell 1: panic!(\"uno\");"
    );
    let failure = cases[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert_eq!(attr(&failure, "type"), "Panic");
    assert_eq!(attr(&failure, "message"), "Panic: uno");
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert_eq!(attr(&failure, "type"), "NoExceptionRaised");
    assert!(cases[2].children().all(|n| !n.has_tag_name("failure")));
    let out = cases[2]
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap();
    assert!(out.text().unwrap_or("").starts_with("sigue <&> "), "{text}");
    for case in &cases {
        assert!(attr(case, "time").parse::<f64>().is_ok(), "{text}");
        assert_eq!(
            attr(case, "classname"),
            errors
                .with_extension("")
                .display()
                .to_string()
                .trim_start_matches('/')
                .replace('/', ".")
        );
    }
    // outputs.ipynb: every code cell passed, its timing cell included.
    assert_eq!(attr(&suites[1], "failures"), "0");
    assert_eq!(
        attr(&root, "tests"),
        (3 + attr(&suites[1], "tests").parse::<usize>().unwrap()).to_string()
    );
    assert!(
        root.children()
            .all(|n| !n.is_element() || n.has_tag_name("testsuite"))
    );
}

/// A `--check` difference is a JUnit failure carrying the diff.
#[test]
fn junit_carries_check_diffs() {
    let dir = TempDir::new("diff");
    let nb = dir.0.join("changed.ipynb");
    let mut notebook = read(&fixture("outputs.ipynb"));
    notebook["cells"][1]["outputs"] =
        json!([{"output_type": "stream", "name": "stdout", "text": ["adiós\n"]}]);
    std::fs::write(&nb, notebook.to_string()).unwrap();
    let junit = dir.0.join("r.xml");
    let run = run(&[path(&nb), "--check", "--junit", path(&junit)]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert_eq!(failure.attribute("type"), Some("OutputMismatch"));
    let body = failure.text().unwrap_or("");
    assert!(
        body.contains("adiós") && body.contains("hola desde Rust"),
        "{text}"
    );
}

/// papermill's parameters: typed from the `parameters` cell (`u64`, `&str`, an untyped
/// float, a `Vec<u32>` through serde_json), `-p` over `--parameters FILE.json`, a cell
/// tagged `injected-parameters` after the `parameters` cell, recorded in the metadata;
/// `--output` leaves the source untouched; nbclient's timing in `metadata.execution`.
#[test]
fn parameters_output_and_timing() {
    let dir = TempDir::new("params");
    let out = dir.0.join("out");
    let nb = fixture("parameters.ipynb");
    let before = std::fs::read(&nb).unwrap();
    let run = run(&[
        path(&nb),
        "--parameters",
        path(&fixture("parameters.json")),
        "-p",
        "n",
        "5",
        "-p",
        "nombre",
        "Rust \"2024\"",
        "-p",
        "v",
        "[1,2,3]",
        "--output",
        path(&out),
    ]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("n=5 nombre=Rust \"2024\" x=1.5 v=[1, 2, 3]"),
        "{}",
        run.all()
    );
    assert_eq!(
        std::fs::read(&nb).unwrap(),
        before,
        "--output changed the source"
    );
    let written = read(&out.join("parameters.ipynb"));
    let cells = written["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(cells[2]["metadata"]["tags"], json!(["injected-parameters"]));
    let source: String = cells[2]["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(source.contains("let n: u64 = 5;"), "{source}");
    assert!(source.contains("let x = 1.5;"), "{source}");
    assert!(
        source.contains("let nombre = \"Rust \\\"2024\\\"\";"),
        "{source}"
    );
    assert!(
        source.contains("let v: Vec<u32> = serde_json::from_str::<Vec<u32>>"),
        "{source}"
    );
    assert_eq!(
        written["metadata"]["papermill"]["parameters"],
        json!({"x": 1.5, "n": 5, "nombre": "Rust \"2024\"", "v": [1, 2, 3]})
    );
    let execution = &cells[3]["metadata"]["execution"];
    for key in [
        "iopub.status.busy",
        "iopub.execute_input",
        "shell.execute_reply",
        "iopub.status.idle",
    ] {
        let t = execution[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {execution}"));
        assert!(humantime::parse_rfc3339(t).is_ok(), "{key}: {t}");
    }
    assert!(execution["iopub.execute_input"].as_str() <= execution["shell.execute_reply"].as_str());
}

/// nbval's sanitizer file, the built-in address sanitizer and `--sanitize-pids`: the
/// notebook passes `--check` with them and fails without.
#[test]
fn sanitizers_make_run_dependent_outputs_compare() {
    let nb = fixture("sanitize.ipynb");
    let cfg = fixture("sanitize.cfg");
    let run1 = run(&[
        path(&nb),
        "--check",
        "--sanitize",
        path(&cfg),
        "--sanitize-pids",
    ]);
    assert_eq!(run1.code(), 0, "{}", run1.all());
    let run2 = run(&[path(&nb), "--check"]);
    assert_eq!(run2.code(), 1, "{}", run2.all());
    for cell in ["cell 2:", "cell 3:", "cell 4:"] {
        assert!(run2.stderr.contains(cell), "{cell}: {}", run2.all());
    }
    // Addresses are sanitized without being asked.
    assert!(!run2.stderr.contains("cell 1:"), "{}", run2.all());
}

/// A lesson's claims are checked before its outputs are stored: a claim that holds is
/// stored; one that does not is measured again once, then the cell fails with `NotStored`
/// and keeps its stored outputs (the source notebook is never touched with `--output`).
#[test]
fn claims_are_checked_before_storing() {
    let dir = TempDir::new("claims");
    let out = dir.0.join("out");
    let nb = fixture("claims.ipynb");
    let run = run(&[path(&nb), "--allow-errors", "--output", path(&out)]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let all = run.all();
    assert!(all.contains("note: cell 2: running it again"), "{all}");
    assert!(all.contains("cell 2: outputs not stored"), "{all}");
    assert!(
        all.contains("«rápido»") && all.contains("not faster"),
        "{all}"
    );
    assert!(!all.contains("cell 1: outputs not stored"), "{all}");
    // Cell 2 ran twice, cell 1 once.
    assert_eq!(run.stdout.matches("medido").count(), 3, "{all}");
    let written = read(&out.join("claims.ipynb"));
    let cells = written["cells"].as_array().unwrap();
    let texts = |i: usize| serde_json::to_string(&cells[i]["outputs"]).unwrap();
    assert!(texts(0).contains("data-paralelo-timing"), "{}", texts(0));
    assert!(texts(1).contains("guardado antes"), "{}", texts(1));
    assert!(!texts(1).contains("data-paralelo-timing"), "{}", texts(1));
}
