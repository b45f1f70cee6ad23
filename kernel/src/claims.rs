//! What a timing cell's outputs say about the machine and what its lesson claims: the rows
//! measured on a busy machine, and the cell's declared claims checked against its tables.
//!
//! A `TimingTable` carries its figures as JSON in the `data-paralelo-timing` attribute of
//! its HTML `<table>` (see `paralelo::TIMING_ATTRIBUTE` and `TimingTable::to_json`); the
//! library's `time`, `timeit` (and so `%%time`, `%%timeit`) print a line starting with
//! `Busy machine: other programs used 48 %` when other programs took the CPUs. A cell's
//! claims are in its metadata:
//!
//! ```json
//! {"paralelo": {"claims": [
//!   {"row": "dos hilos", "speedup_at_least": 1.3},
//!   {"table": "CPU-bound", "row": "Pool::new(8), hilos", "speedup_at_most": 2.2},
//!   {"row": "hilos", "faster_than": "procesos"}
//! ]}}
//! ```
//!
//! `table` (a title, or a part of it) is needed only when two tables of the cell have a row
//! of that name. Checks: `speedup_at_least`, `speedup_at_most`, `efficiency_at_least`,
//! `faster_than` (another row of the same table, by median wall time). An unknown key is an
//! error, so a misspelt claim cannot pass unchecked.
//!
//! Meant for `paralelo-kernel run --inplace`: re-run a cell whose [`busy_rows`] are not
//! empty (and fail with [`busy_message`] if the machine stays busy), then
//! [`check_claims`] before storing it.

// Pure functions over a cell's outputs; `run --inplace` calls them from kernel/src/runner/lesson_checks.rs.

use serde_json::Value;

/// The HTML attribute with a table's JSON (`paralelo::TIMING_ATTRIBUTE`).
const TIMING_ATTRIBUTE: &str = "data-paralelo-timing";
/// How `time`/`timeit`'s busy-machine line starts.
const BUSY_LINE: &str = "Busy machine: other programs used ";

/// A measurement taken while other programs took the CPUs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BusyRow {
    /// The table's title, or `None` for a `time`/`%%time` line.
    pub(crate) table: Option<String>,
    /// The row's name (`%%time` for a time line).
    pub(crate) row: String,
    /// The share of the CPUs (0.0 to 1.0) other programs took.
    pub(crate) share: f64,
}

/// The JSON of every timing table in a cell's nbformat outputs, in order.
pub(crate) fn tables(outputs: &[Value]) -> Vec<Value> {
    let mut found = Vec::new();
    for output in outputs {
        let Some(html) = output.pointer("/data/text~1html").map(multiline) else {
            continue;
        };
        let mut rest = html.as_str();
        let opening = format!("{TIMING_ATTRIBUTE}=\"");
        while let Some(start) = rest.find(&opening) {
            rest = &rest[start + opening.len()..];
            let Some(end) = rest.find('"') else { break };
            if let Ok(table) = serde_json::from_str::<Value>(&unescape(&rest[..end])) {
                found.push(table);
            }
            rest = &rest[end..];
        }
    }
    found
}

/// Every row (of every table) and every `time` line of the outputs measured on a busy machine.
pub(crate) fn busy_rows(outputs: &[Value]) -> Vec<BusyRow> {
    let mut busy = Vec::new();
    for table in tables(outputs) {
        let title = table
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for row in table
            .get("rows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if row.get("busy").and_then(Value::as_bool) == Some(true) {
                busy.push(BusyRow {
                    table: title.clone(),
                    row: row
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    share: row
                        .get("others_share")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0),
                });
            }
        }
    }
    for output in outputs {
        if output.get("output_type").and_then(Value::as_str) != Some("stream") {
            continue;
        }
        let text = output.get("text").map(multiline).unwrap_or_default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(BUSY_LINE) {
                let percent: f64 = rest
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0.0);
                busy.push(BusyRow {
                    table: None,
                    row: "%%time".to_owned(),
                    share: percent / 100.0,
                });
            }
        }
    }
    busy
}

/// The error `--inplace` gives when a timing cell stays busy after its re-run.
pub(crate) fn busy_message(cell: usize, rows: &[BusyRow]) -> String {
    let list: Vec<String> = rows
        .iter()
        .map(|r| match &r.table {
            Some(t) => format!("«{}» in «{t}» ({:.0} %)", r.row, 100.0 * r.share),
            None => format!("{} ({:.0} %)", r.row, 100.0 * r.share),
        })
        .collect();
    format!(
        "cell {cell}: measured on a busy machine twice (other programs took the CPUs during {}); \
         not stored. Run --inplace again when the machine is idle (see `top`).",
        list.join(", ")
    )
}

/// Checks the claims in a cell's metadata (`paralelo.claims`) against the tables of its
/// outputs: `Ok` when every claim holds (or there are none), else every failure, one a line.
pub(crate) fn check_claims(cell_metadata: &Value, outputs: &[Value]) -> Result<(), String> {
    let Some(claims) = cell_metadata.pointer("/paralelo/claims") else {
        return Ok(());
    };
    let Some(claims) = claims.as_array() else {
        return Err("metadata paralelo.claims must be a list".to_owned());
    };
    let tables = tables(outputs);
    let failures: Vec<String> = claims
        .iter()
        .filter_map(|claim| check_one(claim, &tables).err())
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn check_one(claim: &Value, tables: &[Value]) -> Result<(), String> {
    const KEYS: [&str; 6] = [
        "table",
        "row",
        "speedup_at_least",
        "speedup_at_most",
        "efficiency_at_least",
        "faster_than",
    ];
    let Some(object) = claim.as_object() else {
        return Err(format!("claim {claim}: not an object"));
    };
    if let Some(unknown) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "claim {claim}: unknown key {unknown:?} (known: {})",
            KEYS.join(", ")
        ));
    }
    let name = object
        .get("row")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("claim {claim}: no \"row\""))?;
    let wanted_table = object.get("table").and_then(Value::as_str);
    let (table, row) =
        find_row(tables, wanted_table, name).map_err(|e| format!("claim {claim}: {e}"))?;
    let title = table.get("title").and_then(Value::as_str).unwrap_or("");
    let number = |key: &str| row.get(key).and_then(Value::as_f64);
    let mut failures = Vec::new();
    let mut bound = |key: &str, measured: &str, at_least: bool| {
        let Some(limit) = object.get(key) else { return };
        let Some(limit) = limit.as_f64() else {
            failures.push(format!("{key} must be a number"));
            return;
        };
        match number(measured) {
            Some(value) if (at_least && value >= limit) || (!at_least && value <= limit) => {}
            Some(value) => failures.push(format!(
                "{measured} is {value:.2}, the text claims {} {limit}",
                if at_least { "at least" } else { "at most" }
            )),
            None => failures.push(format!("{measured} is unknown, the text claims {limit}")),
        }
    };
    bound("speedup_at_least", "speedup", true);
    bound("speedup_at_most", "speedup", false);
    bound("efficiency_at_least", "efficiency", true);
    if let Some(other) = object.get("faster_than") {
        let other = other.as_str().unwrap_or("");
        match find_in(table, other) {
            Some(slower) => {
                let wall = |r: &Value| r.get("wall_s").and_then(Value::as_f64).unwrap_or(f64::NAN);
                // NaN (a row without a time) is not faster either.
                if wall(row).partial_cmp(&wall(slower)) != Some(std::cmp::Ordering::Less) {
                    failures.push(format!(
                        "it took {:.4} s, «{other}» {:.4} s: not faster",
                        wall(row),
                        wall(slower)
                    ));
                }
            }
            None => failures.push(format!("no row «{other}» to be faster than")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "claim about «{name}» in «{title}» does not hold: {}",
            failures.join("; ")
        ))
    }
}

/// The one table (matching `wanted`, a title or part of one) with a row called `name`.
fn find_row<'t>(
    tables: &'t [Value],
    wanted: Option<&str>,
    name: &str,
) -> Result<(&'t Value, &'t Value), String> {
    let candidates: Vec<(&Value, &Value)> = tables
        .iter()
        .filter(|t| {
            wanted.is_none_or(|w| {
                t.get("title")
                    .and_then(Value::as_str)
                    .is_some_and(|title| title.contains(w))
            })
        })
        .filter_map(|t| Some((t, find_in(t, name)?)))
        .collect();
    match candidates.len() {
        1 => Ok(candidates[0]),
        0 if tables.is_empty() => {
            Err("the cell shows no timing table (display it, or end the cell with it)".to_owned())
        }
        0 => Err(format!("no table of the cell has a row «{name}»")),
        n => Err(format!(
            "{n} tables have a row «{name}»: name one with \"table\""
        )),
    }
}

fn find_in<'t>(table: &'t Value, name: &str) -> Option<&'t Value> {
    table
        .get("rows")?
        .as_array()?
        .iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
}

/// An nbformat multiline string: a string, or a list of lines.
fn multiline(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Undoes the library's HTML escaping of the attribute (`&amp;` last).
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An output as the library writes it: the table's JSON escaped into its HTML.
    fn table_output(title: &str, rows: Value) -> Value {
        let table = json!({ "version": 1, "title": title, "rows": rows });
        let attribute = table
            .to_string()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        let html = format!(
            "<table class=\"paralelo-timing\" {TIMING_ATTRIBUTE}=\"{attribute}\"><tbody></tbody></table>"
        );
        json!({
            "output_type": "display_data",
            "metadata": {},
            // Stored notebooks split strings into lines.
            "data": { "text/plain": ["t"], "text/html": [&html[..40], &html[40..]] }
        })
    }

    fn row(name: &str, speedup: f64, wall: f64, busy: bool) -> Value {
        json!({ "name": name, "workers": 2, "wall_s": wall, "speedup": speedup,
                "efficiency": speedup / 2.0, "others_share": if busy { 0.48 } else { 0.02 }, "busy": busy })
    }

    fn claims(list: Value) -> Value {
        json!({ "tags": ["timing"], "paralelo": { "claims": list } })
    }

    #[test]
    fn tables_are_read_back_from_the_html() {
        let out = [table_output(
            "Factoriales <1000 & más>",
            json!([row("a \"b\"", 1.0, 0.1, false)]),
        )];
        let found = tables(&out);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["title"], "Factoriales <1000 & más>");
        assert_eq!(found[0]["rows"][0]["name"], "a \"b\"");
    }

    #[test]
    fn busy_rows_name_the_table_and_the_share() {
        let out = [
            table_output(
                "T",
                json!([
                    row("un hilo", 1.0, 0.4, false),
                    row("dos hilos", 0.99, 0.4, true)
                ]),
            ),
            json!({ "output_type": "stream", "name": "stdout",
                    "text": "CPU times: user 1 s, sys: 0 ns, total: 1 s\nWall time: 1 s\nBusy machine: other programs used 61 % of the CPUs meanwhile; times are longer than on an idle machine.\n" }),
        ];
        let busy = busy_rows(&out);
        assert_eq!(
            busy,
            [
                BusyRow {
                    table: Some("T".into()),
                    row: "dos hilos".into(),
                    share: 0.48
                },
                BusyRow {
                    table: None,
                    row: "%%time".into(),
                    share: 0.61
                },
            ]
        );
        let message = busy_message(7, &busy);
        assert!(
            message.contains("cell 7") && message.contains("«dos hilos» in «T» (48 %)"),
            "{message}"
        );
        assert!(busy_rows(&[table_output("T", json!([row("x", 1.0, 0.1, false)]))]).is_empty());
    }

    #[test]
    fn claims_that_hold_pass() {
        let out = [table_output(
            "S3-4",
            json!([
                row("un hilo", 1.0, 0.4, false),
                row("dos hilos", 1.9, 0.21, false)
            ]),
        )];
        let meta = claims(json!([
            { "row": "dos hilos", "speedup_at_least": 1.3 },
            { "row": "dos hilos", "speedup_at_most": 2.1, "efficiency_at_least": 0.6 },
            { "row": "dos hilos", "faster_than": "un hilo" },
        ]));
        assert_eq!(check_claims(&meta, &out), Ok(()));
        assert_eq!(check_claims(&json!({}), &out), Ok(()));
    }

    #[test]
    fn a_table_that_contradicts_the_text_fails_with_the_figures() {
        let out = [table_output(
            "S3-4",
            json!([
                row("un hilo", 1.0, 0.4, false),
                row("dos hilos", 0.99, 0.4, false)
            ]),
        )];
        let err = check_claims(
            &claims(json!([{ "row": "dos hilos", "speedup_at_least": 1.3 }])),
            &out,
        )
        .unwrap_err();
        assert!(
            err.contains("«dos hilos» in «S3-4»")
                && err.contains("speedup is 0.99, the text claims at least 1.3"),
            "{err}"
        );
        let err = check_claims(
            &claims(json!([{ "row": "dos hilos", "faster_than": "un hilo" }])),
            &out,
        )
        .unwrap_err();
        assert!(err.contains("not faster"), "{err}");
    }

    #[test]
    fn claims_must_name_existing_rows_known_checks_and_one_table() {
        let out = [
            table_output(
                "CPU-bound",
                json!([
                    row("secuencial", 1.0, 0.4, false),
                    row("hilos", 1.9, 0.2, false)
                ]),
            ),
            table_output(
                "I/O-bound",
                json!([
                    row("secuencial", 1.0, 0.8, false),
                    row("hilos", 4.0, 0.2, false)
                ]),
            ),
        ];
        let err = check_claims(
            &claims(json!([{ "row": "hilos", "speedup_at_least": 1.3 }])),
            &out,
        )
        .unwrap_err();
        assert!(err.contains("2 tables have a row «hilos»"), "{err}");
        assert_eq!(
            check_claims(
                &claims(json!([{ "table": "I/O", "row": "hilos", "speedup_at_least": 3.0 }])),
                &out
            ),
            Ok(())
        );
        let err = check_claims(
            &claims(json!([{ "row": "nadie", "speedup_at_least": 1.0 }])),
            &out,
        )
        .unwrap_err();
        assert!(
            err.contains("no table of the cell has a row «nadie»"),
            "{err}"
        );
        let err = check_claims(
            &claims(json!([{ "table": "CPU", "row": "hilos", "speedup_atleast": 1.0 }])),
            &out,
        )
        .unwrap_err();
        assert!(err.contains("unknown key \"speedup_atleast\""), "{err}");
        let err = check_claims(
            &claims(json!([{ "row": "hilos", "speedup_at_least": 1.0 }])),
            &[],
        )
        .unwrap_err();
        assert!(err.contains("shows no timing table"), "{err}");
    }
}
