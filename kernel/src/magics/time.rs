//! `%time`, `%%time`, `%timeit` and `%%timeit`.
//!
//! The cell's code is compiled once, wrapped in a closure handed to `paralelo::timing`
//! (`time` or `timeit_with`), so compilation is never timed and the output lines are the
//! library's, which are IPython's. For `%%time` the closure hands the cell's top-level
//! `let` bindings back out, so the cell's variables survive as in IPython; items (`fn`,
//! `struct`, `use`) are moved out of the closure so they stay visible to later cells.

use paralelo::timing::format_seconds;
use quote::ToTokens;

use super::Call;
use crate::engine::{CellError, CellValue};

/// IPython prints `Compiler : …` when compiling took longer than this.
const COMPILER_LINE_THRESHOLD: f64 = 0.1;

pub(super) fn time_line(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if call.args.trim().is_empty() {
        return Err(CellError::new(
            "UsageError",
            "%time needs an expression: %time EXPR",
        ));
    }
    let code = time_code(call.args);
    run_timed(call, &code, true)
}

pub(super) fn time_cell(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        return Err(CellError::new(
            "UsageError",
            format!("%%time takes no arguments, got {:?}", call.args),
        ));
    }
    let code = time_code(call.body);
    run_timed(call, &code, true)
}

pub(super) fn timeit_line(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let (options, rest) = TimeitArgs::parse(call.args)?;
    if rest.trim().is_empty() {
        return Err(CellError::new(
            "UsageError",
            "%timeit needs an expression: %timeit [-n N] [-r R] [-p P] [-q] [-o] EXPR",
        ));
    }
    let code = timeit_code(&options, "", rest);
    run_timed(call, &code, false)
}

/// `%%timeit [options] [setup]`: as IPython, code after the options on the magic's line is
/// setup, run once before the timed runs and not timed; the cell body sees its bindings.
pub(super) fn timeit_cell(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let (options, setup) = TimeitArgs::parse(call.args)?;
    if call.body.trim().is_empty() {
        return Err(CellError::new(
            "UsageError",
            "%%timeit needs code to time below its line: %%timeit [options] [setup]",
        ));
    }
    let code = timeit_code(&options, setup, call.body);
    run_timed(call, &code, false)
}

fn run_timed(call: &mut Call<'_>, code: &str, compiler_line: bool) -> Result<CellValue, CellError> {
    let value = call.engine.execute(code, call.sink.clone(), call.input)?;
    let compile = call.engine.last_compile.as_secs_f64();
    if compiler_line && compile > COMPILER_LINE_THRESHOLD {
        call.print(format!("Compiler : {}\n", format_seconds(compile, 3)));
    }
    Ok(value)
}

/// Options of `%timeit`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct TimeitArgs {
    loops: Option<u64>,
    repeat: Option<u32>,
    precision: Option<usize>,
    quiet: bool,
    output: bool,
}

impl TimeitArgs {
    /// Parses leading `-n N -r R -p P -q -o` (also `-n5`); returns the options and the rest.
    pub(super) fn parse(args: &str) -> Result<(TimeitArgs, &str), CellError> {
        let mut out = TimeitArgs::default();
        let mut rest = args.trim_start();
        while let Some(flag_text) = rest.strip_prefix('-') {
            let Some(flag) = flag_text.chars().next() else {
                break;
            };
            if !"nrpqo".contains(flag) {
                // Not an option: an expression such as `-x`.
                break;
            }
            let after = &flag_text[1..];
            match flag {
                'q' | 'o' if after.is_empty() || after.starts_with(char::is_whitespace) => {
                    if flag == 'q' {
                        out.quiet = true;
                    } else {
                        out.output = true;
                    }
                    rest = after.trim_start();
                }
                'n' | 'r' | 'p' => {
                    let after = after.trim_start();
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    let (number, tail) = after.split_at(end);
                    let bad = || {
                        CellError::new(
                            "UsageError",
                            format!(
                                "%timeit: -{flag} needs a positive whole number, got {number:?}"
                            ),
                        )
                    };
                    let n: u64 = number.parse().map_err(|_| bad())?;
                    if n == 0 {
                        return Err(bad());
                    }
                    match flag {
                        'n' => out.loops = Some(n),
                        'r' => out.repeat = Some(u32::try_from(n).map_err(|_| bad())?),
                        _ => out.precision = Some(usize::try_from(n).map_err(|_| bad())?),
                    }
                    rest = tail.trim_start();
                }
                _ => break,
            }
        }
        Ok((out, rest))
    }
}

/// The code for `%timeit`: the body in an `FnMut` closure run by `timeit_with`, after the
/// untimed `setup` (empty for none). Items (`fn`, `struct`, …) of both move to the top level
/// so they stay visible to later cells; setup's bindings live in a block around the call, so,
/// as in IPython, they do not outlive the measurement.
fn timeit_code(args: &TimeitArgs, setup: &str, body: &str) -> String {
    let loops = match args.loops {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    };
    let (setup_items, setup) = items_and_statements(setup);
    let (items, inner) = items_and_statements(body);
    let call = format!(
        "paralelo::timing::timeit_with(&paralelo::timing::TimeitOptions {{ loops: {loops}, \
         repeat: {}, precision: {}, quiet: {} }}, || {{\n{inner}\n}})",
        args.repeat.unwrap_or(7),
        args.precision.unwrap_or(3),
        args.quiet
    );
    let call = if setup.trim().is_empty() {
        call
    } else {
        format!("{{\n{setup}\n{call}\n}}")
    };
    let end = if args.output { "" } else { ";" };
    format!("{setup_items}\n{items}\n{call}{end}")
}

/// Splits code into its items and its other statements (as text); code that does not parse
/// is kept whole as statements, so evcxr reports the error.
fn items_and_statements(code: &str) -> (String, String) {
    match parse_block(code) {
        Some(block) => {
            let (items, stmts): (Vec<_>, Vec<_>) = block
                .stmts
                .iter()
                .partition(|s| matches!(s, syn::Stmt::Item(_)));
            (tokens(&items), tokens(&stmts))
        }
        None => (String::new(), code.to_owned()),
    }
}

/// The code for `%time`/`%%time`: the body in a closure run by `paralelo::timing::time`,
/// handing back its top-level `let` bindings and its final value.
pub(super) fn time_code(body: &str) -> String {
    let Some(block) = parse_block(body) else {
        // Let evcxr report the syntax error against the user's own text.
        return format!("paralelo::timing::time(|| {{\n{body}\n}})");
    };
    let mut items = Vec::new();
    let mut stmts = Vec::new();
    let mut bindings: Vec<(String, bool)> = Vec::new();
    let last = block.stmts.len().saturating_sub(1);
    let mut final_expr = None;
    for (i, stmt) in block.stmts.iter().enumerate() {
        match stmt {
            syn::Stmt::Item(_) => items.push(stmt),
            syn::Stmt::Local(local) => {
                collect_bindings(&local.pat, &mut bindings);
                stmts.push(stmt);
            }
            syn::Stmt::Expr(expr, None) if i == last => final_expr = Some(expr),
            _ => stmts.push(stmt),
        }
    }
    // Keep the last binding of each name (shadowing), in first-seen order.
    let mut names: Vec<(String, bool)> = Vec::new();
    for (name, is_mut) in bindings {
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = is_mut,
            None => names.push((name, is_mut)),
        }
    }
    let value = final_expr.map(|e| e.to_token_stream().to_string());
    let mut pattern: Vec<String> = names
        .iter()
        .map(|(n, m)| if *m { format!("mut {n}") } else { n.clone() })
        .collect();
    let mut returned: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
    if let Some(value) = &value {
        pattern.push("__paralelo_value".into());
        returned.push(format!("{{ {value} }}"));
    }
    let tuple = if returned.is_empty() {
        "()".to_owned()
    } else {
        format!("({},)", returned.join(", "))
    };
    let call = format!(
        "paralelo::timing::time(|| {{\n{}\n{tuple}\n}})",
        tokens(&stmts)
    );
    let mut code = tokens(&items);
    code.push('\n');
    if pattern.is_empty() {
        code.push_str(&format!("{call};"));
    } else {
        code.push_str(&format!("let ({},) = {call};", pattern.join(", ")));
    }
    if value.is_some() {
        code.push_str("\n__paralelo_value");
    }
    code
}

fn parse_block(body: &str) -> Option<syn::Block> {
    syn::parse_str::<syn::Block>(&format!("{{\n{body}\n}}")).ok()
}

fn tokens<T: ToTokens>(parts: &[T]) -> String {
    parts
        .iter()
        .map(|p| p.to_token_stream().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn collect_bindings(pat: &syn::Pat, out: &mut Vec<(String, bool)>) {
    match pat {
        syn::Pat::Ident(p) => {
            if p.ident != "_" {
                out.push((p.ident.to_string(), p.mutability.is_some()));
            }
            if let Some((_, sub)) = &p.subpat {
                collect_bindings(sub, out);
            }
        }
        syn::Pat::Type(p) => collect_bindings(&p.pat, out),
        syn::Pat::Tuple(p) => p.elems.iter().for_each(|e| collect_bindings(e, out)),
        syn::Pat::TupleStruct(p) => p.elems.iter().for_each(|e| collect_bindings(e, out)),
        syn::Pat::Slice(p) => p.elems.iter().for_each(|e| collect_bindings(e, out)),
        syn::Pat::Struct(p) => p.fields.iter().for_each(|f| collect_bindings(&f.pat, out)),
        syn::Pat::Reference(p) => collect_bindings(&p.pat, out),
        syn::Pat::Paren(p) => collect_bindings(&p.pat, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_ipython() {
        assert_eq!(format_seconds(0.64, 3), "640 ms");
        assert_eq!(format_seconds(1.2134, 3), "1.21 s");
        assert_eq!(format_seconds(0.0082, 3), "8.2 ms");
        assert_eq!(format_seconds(1.5e-6, 3), "1.5 µs");
        assert_eq!(format_seconds(0.0, 3), "0 ns");
        assert_eq!(format_seconds(65.0, 3), "1min 5s");
        assert_eq!(format_seconds(0.3721, 4), "372.1 ms");
        assert_eq!(format_seconds(0.1, 3), "100 ms");
    }

    #[test]
    fn timeit_options() {
        let (a, rest) = TimeitArgs::parse("-n 10 -r3 -p 4 -q -o x + 1").unwrap();
        assert_eq!(
            a,
            TimeitArgs {
                loops: Some(10),
                repeat: Some(3),
                precision: Some(4),
                quiet: true,
                output: true
            }
        );
        assert_eq!(rest, "x + 1");
        assert_eq!(TimeitArgs::parse("-x").unwrap().1, "-x");
        assert!(TimeitArgs::parse("-n zero 1").is_err());
        assert!(TimeitArgs::parse("-n 0 1").is_err());
    }

    #[test]
    fn time_code_keeps_bindings_items_and_value() {
        let code =
            time_code("fn f() -> u32 { 2 }\nlet mut a = f();\nlet (b, _) = (1, 2);\na += b;\na");
        assert!(code.starts_with("fn f"), "{code}");
        assert!(
            code.contains("let (mut a, b, __paralelo_value,) = paralelo::timing::time"),
            "{code}"
        );
        assert!(code.trim_end().ends_with("__paralelo_value"), "{code}");
        let unit = time_code("println!(\"hi\");");
        assert!(
            unit.trim_end().ends_with("}) ;") || unit.trim_end().ends_with("});"),
            "{unit}"
        );
    }

    #[test]
    fn timeit_setup_runs_before_the_timed_closure() {
        let (o, setup) =
            TimeitArgs::parse("-n 3 -o fn g() -> u64 { 2 } let v = vec![g(); 4];").unwrap();
        let code = timeit_code(&o, setup, "v.iter().sum::<u64>()");
        assert!(code.trim_start().starts_with("fn g"), "{code}");
        let setup_at = code.find("let v").expect("setup kept");
        let closure_at = code.find("|| {").expect("closure");
        assert!(setup_at < closure_at, "{code}");
        assert!(
            !code[closure_at..].contains("let v"),
            "setup is timed: {code}"
        );
        assert!(
            code.trim_end().ends_with('}'),
            "-o returns the result: {code}"
        );
    }

    #[test]
    fn timeit_code_returns_result_only_with_o() {
        let (o, _) = TimeitArgs::parse("-o").unwrap();
        assert!(!timeit_code(&o, "", "1 + 1").trim_end().ends_with(';'));
        let (q, _) = TimeitArgs::parse("-q").unwrap();
        let code = timeit_code(&q, "", "1 + 1");
        assert!(code.trim_end().ends_with(';'));
        assert!(
            code.contains("quiet: true") && code.contains("loops: None"),
            "{code}"
        );
    }
}
