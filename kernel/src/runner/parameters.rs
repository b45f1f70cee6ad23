//! papermill's parameters for Rust: `-p NAME VALUE` and `--parameters FILE.json` become
//! `let` bindings in a cell tagged `injected-parameters`, inserted right after the cell
//! tagged `parameters` (at the top when there is none, as papermill does, with a warning).
//!
//! Each binding takes its type from the `parameters` cell when that cell declares the name:
//! `let n: usize = 10;` → `let n: usize = 20;`, `let x = 0.5f32;` → `let x = 2.0f32;`, an
//! untyped `let n = 10;` → an untyped `let n = 20;` (Rust infers it as it did the default).
//! Otherwise from the value: integer → `i64`, float → `f64`, bool, string → `String`, and
//! arrays, objects and null → `serde_json::Value`. Types other than numbers, `bool`,
//! `char`, `&str` and `String` (a `Vec<u64>`, an `Option<T>`, …) are read from the JSON
//! with `serde_json::from_str` (the cell adds `:dep serde_json`).

use std::collections::HashMap;
use std::path::Path;

use quote::ToTokens;
use serde_json::{Map, Value, json};

use super::UsageError;
use super::notebook::source_text;
use super::tags;

/// Reads `-p NAME VALUE` pairs (flattened) over the JSON file's object.
///
/// # Errors
///
/// A name that is not a Rust identifier, an unreadable file or one that is not an object.
pub(crate) fn from_command_line(
    pairs: &[String],
    file: Option<&Path>,
) -> Result<Map<String, Value>, UsageError> {
    let mut parameters = Map::new();
    if let Some(file) = file {
        let name = file.display();
        let text = std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("--parameters {name}: cannot read the file: {e}")))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| UsageError(format!("--parameters {name}: not JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(UsageError(format!(
                "--parameters {name}: expected a JSON object {{\"name\": value, …}}"
            )));
        };
        for (key, value) in object {
            check_name(&key).map_err(|e| UsageError(format!("--parameters {name}: {e}")))?;
            parameters.insert(key, value);
        }
    }
    for pair in pairs.chunks(2) {
        let [key, value] = pair else {
            return Err(UsageError("-p takes NAME VALUE".into()));
        };
        check_name(key).map_err(|e| UsageError(format!("-p {key}: {e}")))?;
        parameters.insert(key.clone(), value_of(value));
    }
    Ok(parameters)
}

/// Checks that `name` can be a `let` binding.
fn check_name(name: &str) -> Result<(), String> {
    match syn::parse_str::<syn::Ident>(name) {
        Ok(ident) if ident == name && name != "_" => Ok(()),
        _ => Err(format!(
            "{name:?} is not a Rust identifier (letters, digits and `_`, not starting with a \
             digit, not a keyword): name a variable of the `parameters` cell"
        )),
    }
}

/// A command-line value typed as papermill types `-p`: integer, float, bool, JSON array or
/// object, else the string itself.
fn value_of(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    if let Ok(n) = text.parse::<u64>() {
        return json!(n);
    }
    if let Ok(x) = text.parse::<f64>()
        && x.is_finite()
    {
        return json!(x);
    }
    match text {
        "true" | "True" => return json!(true),
        "false" | "False" => return json!(false),
        _ => {}
    }
    if text.starts_with(['[', '{'])
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        return value;
    }
    json!(text)
}

/// How the `parameters` cell declares a name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Declared {
    /// `let name: T = …`
    Typed(String),
    /// `let name = 10u64;`: the literal's suffix.
    Suffixed(String),
    /// `let name = 10;`, `let name = 0.5;`, `let name = "a";`: an unsuffixed literal.
    Literal,
    /// Anything else.
    Other,
}

/// The names the `parameters` cell binds with `let`, with how it declares them.
fn declarations(source: &str) -> HashMap<String, Declared> {
    // evcxr commands and magics are not Rust: leave them out.
    let rust: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with([':', '%']))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = HashMap::new();
    let Ok(block) = syn::parse_str::<syn::Block>(&format!("{{\n{rust}\n}}")) else {
        return out;
    };
    for stmt in block.stmts {
        let syn::Stmt::Local(local) = stmt else {
            continue;
        };
        let (pat, ty) = match &local.pat {
            syn::Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            other => (other, None),
        };
        let syn::Pat::Ident(ident) = pat else {
            continue;
        };
        let init = local.init.as_ref().map(|init| &*init.expr);
        let declared = match (ty, init) {
            (Some(ty), _) => Declared::Typed(tidy(&ty.to_token_stream().to_string())),
            (None, Some(syn::Expr::Lit(lit))) => match &lit.lit {
                syn::Lit::Int(i) if !i.suffix().is_empty() => Declared::Suffixed(i.suffix().into()),
                syn::Lit::Float(f) if !f.suffix().is_empty() => {
                    Declared::Suffixed(f.suffix().into())
                }
                syn::Lit::Int(_) | syn::Lit::Float(_) | syn::Lit::Str(_) | syn::Lit::Bool(_) => {
                    Declared::Literal
                }
                _ => Declared::Other,
            },
            _ => Declared::Other,
        };
        out.insert(ident.ident.to_string(), declared);
    }
    out
}

/// A type as tokens print it (`Vec < u64 >`, `& 'static str`) written as people do
/// (`Vec<u64>`, `&'static str`): a space stays only between two words.
fn tidy(tokens: &str) -> String {
    let chars: Vec<char> = tokens.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(tokens.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if !(before.is_some_and(word) && after.is_some_and(|a| word(a) || a == '\'')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

const INTEGERS: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
];

/// A float literal for `x` (always with a point or an exponent).
fn float_literal(x: f64) -> String {
    let text = format!("{x:?}");
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// The Rust expression for `value` as a `ty`; `Err` when it is not one.
fn expression(value: &Value, ty: &str) -> Result<String, String> {
    let wrong = || format!("{value} is not a {ty}");
    match ty {
        t if INTEGERS.contains(&t) => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(wrong()),
        },
        "f32" | "f64" => value.as_f64().map(float_literal).ok_or_else(wrong),
        "bool" => value.as_bool().map(|b| b.to_string()).ok_or_else(wrong),
        "char" => match value.as_str().map(|s| s.chars().collect::<Vec<_>>()) {
            Some(chars) if chars.len() == 1 => Ok(format!("{:?}", chars[0])),
            _ => Err(wrong()),
        },
        "&str" | "&'static str" => value.as_str().map(|s| format!("{s:?}")).ok_or_else(wrong),
        "String" => value
            .as_str()
            .map(|s| format!("String::from({s:?})"))
            .ok_or_else(wrong),
        other => Ok(format!(
            "serde_json::from_str::<{other}>({:?}).expect(\"the parameter's JSON\")",
            value.to_string()
        )),
    }
}

/// One `let` line for `name` = `value`, shaped like the `parameters` cell's declaration.
fn binding(name: &str, value: &Value, declared: Option<&Declared>) -> Result<String, String> {
    match declared {
        Some(Declared::Typed(ty)) => Ok(format!("let {name}: {ty} = {};", expression(value, ty)?)),
        Some(Declared::Suffixed(suffix)) => {
            let expr = expression(value, suffix)?;
            Ok(format!("let {name} = {expr}{suffix};"))
        }
        Some(Declared::Literal) => match value {
            Value::Number(n) if n.is_f64() => Ok(format!(
                "let {name} = {};",
                float_literal(n.as_f64().unwrap_or(0.0))
            )),
            Value::Number(n) => Ok(format!("let {name} = {n};")),
            Value::Bool(b) => Ok(format!("let {name} = {b};")),
            Value::String(s) => Ok(format!("let {name} = {s:?};")),
            _ => binding(name, value, None),
        },
        Some(Declared::Other) | None => {
            let ty = match value {
                Value::Number(n) if n.is_f64() => "f64",
                Value::Number(n) if n.is_u64() && !n.is_i64() => "u64",
                Value::Number(_) => "i64",
                Value::Bool(_) => "bool",
                Value::String(_) => "String",
                _ => "serde_json::Value",
            };
            Ok(format!("let {name}: {ty} = {};", expression(value, ty)?))
        }
    }
}

/// Inserts the `injected-parameters` cell (replacing one left by an earlier run) and records
/// the parameters in `metadata.papermill.parameters`. Returns a warning when the notebook
/// has no `parameters` cell.
///
/// # Errors
///
/// A value that does not fit the type the `parameters` cell gives its name.
pub(crate) fn inject(
    notebook: &mut Value,
    parameters: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, UsageError> {
    if parameters.is_empty() {
        return Ok(None);
    }
    let cells = notebook["cells"]
        .as_array_mut()
        .expect("a checked notebook");
    cells.retain(|cell| !tags::has(cell, tags::INJECTED_PARAMETERS));
    let defaults = cells
        .iter()
        .position(|cell| tags::has(cell, tags::PARAMETERS));
    let declared = defaults
        .map(|i| declarations(&source_text(cells[i].get("source"))))
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut needs_json = false;
    for (key, value) in parameters {
        let line = binding(key, value, declared.get(key)).map_err(|e| {
            UsageError(format!(
                "{name}: parameter {key}: {e} (as the cell tagged `parameters` declares it); \
                 pass a value of that type"
            ))
        })?;
        needs_json |= line.contains("serde_json::");
        lines.push(line);
    }
    let mut source = String::new();
    if needs_json {
        source.push_str(":dep serde_json = \"1\"\n");
    }
    source.push_str("// Parameters injected by paralelo-kernel run (papermill's convention)\n");
    source.push_str(&lines.join("\n"));
    let cell = json!({
        "cell_type": "code",
        "execution_count": null,
        "id": format!("injected-parameters-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "metadata": {"tags": [tags::INJECTED_PARAMETERS]},
        "outputs": [],
        "source": super::outputs::lines(&source),
    });
    let at = defaults.map_or(0, |i| i + 1);
    cells.insert(at, cell);
    if !notebook.get("metadata").is_some_and(Value::is_object) {
        notebook["metadata"] = json!({});
    }
    if !notebook["metadata"]
        .get("papermill")
        .is_some_and(Value::is_object)
    {
        notebook["metadata"]["papermill"] = json!({});
    }
    notebook["metadata"]["papermill"]["parameters"] = Value::Object(parameters.clone());
    Ok(defaults.is_none().then(|| {
        format!(
            "{name}: no cell is tagged `parameters`: the parameters were injected at the top \
             (as papermill does)"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values_are_typed() {
        let args: Vec<String> = ["n", "5", "x", "0.5", "b", "True", "v", "[1,2]", "s", "hola"]
            .map(String::from)
            .into();
        let p = from_command_line(&args, None).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"n": 5, "x": 0.5, "b": true, "v": [1, 2], "s": "hola"})
        );
        for bad in ["1n", "fn", "a-b", "_", ""] {
            let args = vec![bad.to_owned(), "1".to_owned()];
            assert!(from_command_line(&args, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn bindings_follow_the_parameters_cell() {
        let d = declarations(
            ":dep x\nlet n: usize = 10;\nlet x = 0.5f32;\nlet m = 3;\nlet s = \"a\";\nlet v: Vec<u64> = vec![];\nlet o = f();",
        );
        let line = |k: &str, v: Value| binding(k, &v, d.get(k));
        assert_eq!(line("n", json!(20)).unwrap(), "let n: usize = 20;");
        assert!(line("n", json!("x")).is_err());
        assert_eq!(line("x", json!(2)).unwrap(), "let x = 2.0f32;");
        assert_eq!(line("m", json!(4)).unwrap(), "let m = 4;");
        assert_eq!(line("s", json!("b\"c")).unwrap(), "let s = \"b\\\"c\";");
        assert_eq!(
            line("v", json!([1, 2])).unwrap(),
            "let v: Vec<u64> = serde_json::from_str::<Vec<u64>>(\"[1,2]\").expect(\"the parameter's JSON\");"
        );
        assert_eq!(line("o", json!(true)).unwrap(), "let o: bool = true;");
        assert_eq!(
            line("new", json!("t")).unwrap(),
            "let new: String = String::from(\"t\");"
        );
        assert_eq!(line("f", json!(1.0)).unwrap(), "let f: f64 = 1.0;");
    }

    #[test]
    fn types_are_written_as_people_write_them() {
        assert_eq!(tidy("Vec < u64 >"), "Vec<u64>");
        assert_eq!(tidy("& 'static str"), "&'static str");
        assert_eq!(
            tidy("Box < dyn std :: any :: Any >"),
            "Box<dyn std::any::Any>"
        );
        assert_eq!(tidy("& mut T"), "&mut T");
    }

    #[test]
    fn the_cell_goes_after_the_parameters_cell() {
        let mut nb = json!({"nbformat": 4, "metadata": {}, "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# t"},
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "let n = 1u8;"},
            {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "old"},
            {"cell_type": "code", "metadata": {}, "source": "n"},
        ]});
        let mut p = Map::new();
        p.insert("n".into(), json!(7));
        assert_eq!(inject(&mut nb, &p, "t.ipynb").unwrap(), None);
        let cells = nb["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert!(source_text(cells[2].get("source")).ends_with("let n = 7u8;"));
        assert_eq!(nb["metadata"]["papermill"]["parameters"], json!({"n": 7}));
    }
}
