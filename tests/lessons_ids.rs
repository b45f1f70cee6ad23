//! Every example of `seed-examples.md` is reproduced in the lessons: its ID appears in a
//! notebook of `notebooks/` as `Ejemplo <ID>`, in the notebook of its document.
//!
//! The IDs come from `../shared/seed-examples.md` (beside the clone, as in CI) or, when
//! that folder is absent, from the committed copy `notebooks/seed-ids.txt`.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The IDs of the table rows of `seed-examples.md` (`| S3-12 | … |`), in order.
fn ids_from_seed_examples(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|rest| rest.split(" |").next())
        .map(str::trim)
        .filter(|cell| is_id(cell))
        .map(str::to_owned)
        .collect()
}

/// The IDs of `seed-ids.txt`: one per line, `#` starts a comment line.
fn ids_from_copy(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `S<digits>-<digits>`.
fn is_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('S') else {
        return false;
    };
    let Some((document, number)) = rest.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(document) && digits(number)
}

/// The expected IDs and where they came from.
fn expected_ids() -> (Vec<String>, PathBuf) {
    let shared = repo().join("../shared/seed-examples.md");
    if let Ok(text) = std::fs::read_to_string(&shared) {
        return (ids_from_seed_examples(&text), shared);
    }
    let copy = repo().join("notebooks/seed-ids.txt");
    let text = std::fs::read_to_string(&copy)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", copy.display()));
    (ids_from_copy(&text), copy)
}

/// Each notebook's file name and the text of its markdown cells.
fn notebooks() -> Vec<(String, String)> {
    let dir = repo().join("notebooks");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "ipynb"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| (file_name(path), markdown_text(path)))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn markdown_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let cells = json["cells"]
        .as_array()
        .unwrap_or_else(|| panic!("{} has no cells", path.display()));
    let mut out = String::new();
    for cell in cells.iter().filter(|c| c["cell_type"] == "markdown") {
        match &cell["source"] {
            Value::String(s) => out.push_str(s),
            Value::Array(lines) => lines.iter().filter_map(Value::as_str).for_each(|l| {
                out.push_str(l);
            }),
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// True when `text` names `Ejemplo <id>` not followed by another digit (S3-1 is not S3-12).
fn names(text: &str, id: &str) -> bool {
    let needle = format!("Ejemplo {id}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The notebook an ID belongs in: `S3-12` goes in `03_….ipynb`.
fn notebook_prefix(id: &str) -> String {
    let document: u32 = id[1..id.find('-').unwrap_or(1)].parse().unwrap_or(u32::MAX);
    format!("{document:02}_")
}

#[test]
fn every_seed_example_is_named_in_its_notebook() {
    let (ids, source) = expected_ids();
    assert!(
        ids.len() >= 57,
        "only {} IDs read from {}: the table format changed?",
        ids.len(),
        source.display()
    );
    let notebooks = notebooks();
    assert!(!notebooks.is_empty(), "no notebooks in notebooks/");
    let mut missing = Vec::new();
    let mut misplaced = Vec::new();
    for id in &ids {
        let prefix = notebook_prefix(id);
        let holders: Vec<&str> = notebooks
            .iter()
            .filter(|(_, text)| names(text, id))
            .map(|(name, _)| name.as_str())
            .collect();
        if holders.is_empty() {
            missing.push(id.clone());
        } else if !holders.iter().any(|name| name.starts_with(&prefix)) {
            misplaced.push(format!("{id} (in {holders:?}, expected {prefix}*.ipynb)"));
        }
    }
    println!(
        "{} IDs from {}; {} found in {} notebooks",
        ids.len(),
        source.display(),
        ids.len() - missing.len(),
        notebooks.len()
    );
    assert!(
        missing.is_empty(),
        "examples with no `Ejemplo <ID>` markdown cell in notebooks/: {}",
        missing.join(", ")
    );
    assert!(
        misplaced.is_empty(),
        "examples outside their document's notebook: {}",
        misplaced.join("; ")
    );
}

#[test]
fn the_committed_copy_of_the_ids_matches_seed_examples() {
    let shared = repo().join("../shared/seed-examples.md");
    let Ok(text) = std::fs::read_to_string(&shared) else {
        return; // no shared folder here: the copy is all there is
    };
    let copy = repo().join("notebooks/seed-ids.txt");
    let committed = ids_from_copy(&std::fs::read_to_string(&copy).unwrap_or_default());
    assert_eq!(
        committed,
        ids_from_seed_examples(&text),
        "{} is out of date with {}: regenerate it",
        copy.display(),
        shared.display()
    );
}

#[test]
fn names_tells_s3_1_from_s3_12() {
    assert!(names("## Ejemplo S3-12: Pool", "S3-12"));
    assert!(!names("## Ejemplo S3-12: Pool", "S3-1"));
    assert!(names("Ejemplo S3-1.", "S3-1"));
    assert_eq!(notebook_prefix("S3-12"), "03_");
    assert!(is_id("S0-4") && !is_id("ID") && !is_id("S-1") && !is_id("S1-"));
}
