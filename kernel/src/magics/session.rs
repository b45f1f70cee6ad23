//! The session's state: `%who`, `%whos` (variables and their types, from evcxr) and
//! `%history`.

use serde_json::json;

use super::Call;
use crate::output::{CellError, CellValue};

/// The variables whose type is one of `args` (all when `args` is empty).
fn selected(call: &Call<'_>) -> Result<Vec<(String, String)>, CellError> {
    let types: Vec<&str> = call.args.split_whitespace().collect();
    if let Some(option) = types.iter().find(|t| t.starts_with('-')) {
        return Err(call.usage_error(format!("unknown option {option}")));
    }
    Ok(call
        .engine
        .variables()
        .into_iter()
        .filter(|(_, ty)| types.is_empty() || types.contains(&ty.as_str()))
        .collect())
}

/// IPython's `%who`: the names, tab-separated.
pub(super) fn who(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let vars = selected(call)?;
    if vars.is_empty() {
        call.print("Interactive namespace is empty.\n");
    } else {
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        call.print(format!("{}\t\n", names.join("\t")));
    }
    Ok(CellValue::new())
}

/// IPython's `%whos`: a table of names and types.
pub(super) fn whos(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let vars = selected(call)?;
    if vars.is_empty() {
        call.print("Interactive namespace is empty.\n");
        return Ok(CellValue::new());
    }
    let name_width = vars.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(8) + 3;
    let type_width = vars.iter().map(|(_, t)| t.len()).max().unwrap_or(0).max(4);
    let mut text = format!("{:<name_width$}Type\n", "Variable");
    text.push_str(&"-".repeat(name_width + type_width));
    text.push('\n');
    for (name, ty) in vars {
        text.push_str(&format!("{name:<name_width$}{ty}\n"));
    }
    call.print(text);
    Ok(CellValue::new())
}

/// `%history [-n] [RANGE...]`: ranges are `N`, `N-M` (both included) or `N:M` (M excluded),
/// IPython's forms for the current session.
pub(super) fn history(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let mut numbered = false;
    let mut ranges: Vec<(u64, Option<u64>)> = Vec::new();
    for arg in call.args.split_whitespace() {
        if arg == "-n" {
            numbered = true;
            continue;
        }
        if arg.starts_with('-') {
            return Err(call.usage_error(format!("%history: unknown option {arg}")));
        }
        let bad = || call.usage_error(format!("%history: not a range: {arg:?}"));
        let number = |text: &str| text.parse::<u64>().map_err(|_| bad());
        let range = if let Some((a, b)) = arg.split_once('-') {
            (number(a)?, Some(number(b)? + 1))
        } else if let Some((a, b)) = arg.split_once(':') {
            (number(a)?, Some(number(b)?))
        } else {
            let n = number(arg)?;
            (n, Some(n + 1))
        };
        ranges.push(range);
    }
    if ranges.is_empty() {
        ranges.push((1, None));
    }
    let mut text = String::new();
    for (start, stop) in ranges {
        let request = json!({
            "hist_access_type": "range", "session": 0, "start": start, "stop": stop,
            "output": false,
        });
        let reply = call.engine.history.reply(&request);
        for entry in reply["history"].as_array().into_iter().flatten() {
            let number = entry[1].as_u64().unwrap_or(0);
            let code = entry[2].as_str().unwrap_or("");
            if numbered {
                text.push_str(&format!("{number:>4}: "));
            }
            text.push_str(code.trim_end_matches('\n'));
            text.push('\n');
        }
    }
    call.print(text);
    Ok(CellValue::new())
}
