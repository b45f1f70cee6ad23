//! `%time`, `%%time`, `%timeit` and `%%timeit` over any cell.
//!
//! The user's code is sent to evcxr verbatim, statement by statement (rust-analyzer's split,
//! as evcxr's own), with the kernel's lines around it, so a timed cell behaves as the same
//! cell without the magic: `?` ends it the same way, items stay defined for later cells,
//! compile errors point at the user's lines ([`CellSource`]).
//!
//! - `%%time` / `%time`: the statements stay at the cell's top level, between a call that
//!   reads the clocks and one that prints IPython's lines (`paralelo::timing::Measurement`),
//!   so `let` bindings are kept as evcxr keeps them; the final expression is timed and is the
//!   cell's value (passed by reference, so a variable shown as the value is not moved).
//!   Compilation is never timed: it happens before the cell runs.
//! - `%%timeit` / `%timeit`: items go to the top level; setup and body run in a block, the
//!   body in an `FnMut` closure handed to `paralelo::timing::timeit_with`; as in IPython
//!   their bindings do not outlive the measurement. A `?` in the body makes the closure
//!   return a `Result`; the first error stops the measurement and ends the cell through
//!   evcxr's own `?`, printing what the cell without the magic would.

use paralelo::timing::format_seconds;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Call;
use super::statements::{self, Kind, Statement};
use crate::engine::CellSource;
use crate::output::{CellError, CellValue, Output, Sink};

/// IPython prints `Compiler : …` when compiling took longer than this.
const COMPILER_LINE_THRESHOLD: f64 = 0.1;

/// Items the wrappers call, defined in the cell (evcxr keeps them, like the user's items).
const HELPERS: &str = r#"mod __paralelo_timing {
    use std::fmt;
    use std::sync::Mutex;
    use paralelo::timing::{TimeitOptions, TimeitResult, Timer};
    static START: Mutex<Option<Timer>> = Mutex::new(None);
    pub fn start() {
        *START.lock().unwrap_or_else(|e| e.into_inner()) = Some(Timer::start());
    }
    pub fn stop() {
        let started = START.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut timer) = started {
            // The library's `Measurement`: IPython's lines, then CPUs busy and the busy note.
            print!("{}", timer.stop());
        }
    }
    pub fn stop_ref<T: ?Sized>(value: &T) -> &T {
        stop();
        value
    }
    pub struct Failure { display: String, debug: String }
    impl<E: fmt::Display + fmt::Debug> From<E> for Failure {
        fn from(e: E) -> Failure {
            Failure { display: e.to_string(), debug: format!("{e:?}") }
        }
    }
    pub struct Shown(Failure);
    impl fmt::Display for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0.display) }
    }
    impl fmt::Debug for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0.debug) }
    }
    pub fn timeit<R>(
        options: &TimeitOptions,
        mut work: impl FnMut() -> Result<R, Failure>,
    ) -> Result<TimeitResult, Shown> {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            paralelo::timing::timeit_with(options, || match work() {
                Ok(value) => value,
                Err(failure) => std::panic::resume_unwind(Box::new(failure)),
            })
        }));
        match run {
            Ok(result) => Ok(result),
            Err(payload) => match payload.downcast::<Failure>() {
                Ok(failure) => Err(Shown(*failure)),
                Err(other) => std::panic::resume_unwind(other),
            },
        }
    }
}"#;

pub(super) fn time_line(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if call.args.trim().is_empty() {
        return Err(usage("%time needs code to time", "%time CODE"));
    }
    let source = time_code(call.cell, call.range(call.args));
    run_timed(call, source, Timed::Time)
}

pub(super) fn time_cell(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        // IPython: "%%time stmt" on the magic's own line is a UsageError.
        return Err(usage(
            &format!("%%time takes no arguments, got {:?}", call.args),
            "%%time (then the code on the next lines)",
        ));
    }
    let source = time_code(call.cell, call.range(call.body));
    run_timed(call, source, Timed::Time)
}

pub(super) fn timeit_line(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let (options, rest) = TimeitArgs::parse(call.args, "%timeit")?;
    if rest.trim().is_empty() {
        return Err(usage("%timeit needs code to time", TIMEIT_LINE_USAGE));
    }
    let source = timeit_code(&options, call.cell, 0..0, call.range(rest));
    run_timed(call, source, Timed::Timeit(options.quiet))
}

/// `%%timeit [options] [setup]`: as IPython, code after the options on the magic's line is
/// setup, run once before the timed runs and not timed; the cell body sees its bindings.
pub(super) fn timeit_cell(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let (options, setup) = TimeitArgs::parse(call.args, "%%timeit")?;
    if call.body.trim().is_empty() {
        return Err(usage(
            "%%timeit needs code to time below its line",
            TIMEIT_CELL_USAGE,
        ));
    }
    let source = timeit_code(
        &options,
        call.cell,
        call.range(setup),
        call.range(call.body),
    );
    run_timed(call, source, Timed::Timeit(options.quiet))
}

pub(super) const TIMEIT_LINE_USAGE: &str = "%timeit [-n N] [-r R] [-p P] [-q] [-o] CODE";
pub(super) const TIMEIT_CELL_USAGE: &str = "%%timeit [-n N] [-r R] [-p P] [-q] [-o] [SETUP]";

fn usage(problem: &str, usage: &str) -> CellError {
    CellError::new("UsageError", format!("{problem}; usage: {usage}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Timed {
    Time,
    /// `%timeit`, quiet or not.
    Timeit(bool),
}

/// Runs the wrapped code; adds IPython's compile-time line when the measurement was printed
/// (a cell that failed prints neither, as in IPython).
fn run_timed(
    call: &mut Call<'_>,
    source: CellSource,
    timed: Timed,
) -> Result<CellValue, CellError> {
    let printed = Arc::new(AtomicBool::new(false));
    let seen = printed.clone();
    let inner = call.sink.clone();
    let sink: Sink = Arc::new(move |output: Output| {
        if let Output::Stdout(text) = &output
            && (text.starts_with("Wall time: ") || text.contains(" per loop (mean ± std. dev."))
        {
            seen.store(true, Ordering::SeqCst);
        }
        inner(output)
    });
    let value = call.engine.execute_source(source, sink, call.input)?;
    let compile = call.engine.last_compile.as_secs_f64();
    if printed.load(Ordering::SeqCst) && compile > COMPILER_LINE_THRESHOLD {
        match timed {
            Timed::Time => call.print(format!("Compiler : {}\n", format_seconds(compile, 3))),
            Timed::Timeit(false) => call.print(format!("Compiler time: {compile:.2} s\n")),
            Timed::Timeit(true) => {}
        }
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
    /// `magic` names the magic in errors.
    pub(super) fn parse<'a>(
        args: &'a str,
        magic: &str,
    ) -> Result<(TimeitArgs, &'a str), CellError> {
        let usage_line = if magic.starts_with("%%") {
            TIMEIT_CELL_USAGE
        } else {
            TIMEIT_LINE_USAGE
        };
        let mut out = TimeitArgs::default();
        let mut rest = args.trim_start();
        while let Some(flag_text) = rest.strip_prefix('-') {
            let Some(flag) = flag_text.chars().next() else {
                break;
            };
            if !flag.is_ascii_alphabetic() {
                // Not an option: an expression such as `-1` or `-x`.
                break;
            }
            let after = &flag_text[flag.len_utf8()..];
            let ends_word = after.is_empty() || after.starts_with(char::is_whitespace);
            match flag {
                'q' | 'o' if ends_word => {
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
                        usage(
                            &format!(
                                "{magic}: -{flag} needs a positive whole number, got {number:?}"
                            ),
                            usage_line,
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
                // `-x` where x is a letter: a variable negated, if the next character goes on
                // with the name (`-xs`) or the flag stands alone and is unknown.
                _ if !ends_word => break,
                other => {
                    return Err(usage(
                        &format!("{magic}: unknown option -{other}"),
                        usage_line,
                    ));
                }
            }
        }
        Ok((out, rest))
    }
}

/// The code for `%time`/`%%time`: the user's statements verbatim between `start()` and the
/// printing `stop()`; the final expression, when there is one, is timed and is the value.
pub(super) fn time_code(cell: &str, body: std::ops::Range<usize>) -> CellSource {
    let mut source = CellSource::new(cell);
    source.push_generated(HELPERS);
    source.push_generated("__paralelo_timing::start();");
    let tail = statements::parse(&cell[body.clone()])
        .and_then(|s| s.into_iter().find(|s| s.kind == Kind::Tail));
    match tail {
        Some(Statement { range, .. }) => {
            let (start, end) = (body.start + range.start, body.start + range.end);
            source.push_user(body.start..start);
            source.push_generated("__paralelo_timing::stop_ref(&(");
            source.push_user(start..end);
            source.push_generated("))");
            source.push_user(end..body.end);
        }
        None => {
            source.push_user(body);
            source.push_generated("__paralelo_timing::stop();");
        }
    }
    source
}

/// The code for `%timeit`: items of setup and body at the top level, then a block with the
/// setup's other statements and the measurement of the body's, in an `FnMut` closure.
fn timeit_code(
    args: &TimeitArgs,
    cell: &str,
    setup: std::ops::Range<usize>,
    body: std::ops::Range<usize>,
) -> CellSource {
    let options = format!(
        "&paralelo::timing::TimeitOptions {{ loops: {}, repeat: {}, precision: {}, quiet: {} }}",
        match args.loops {
            Some(n) => format!("Some({n})"),
            None => "None".into(),
        },
        args.repeat.unwrap_or(7),
        args.precision.unwrap_or(3),
        args.quiet
    );
    let split = |range: &std::ops::Range<usize>| {
        statements::parse(&cell[range.clone()]).map(|list| {
            list.into_iter()
                .map(|s| Statement {
                    range: range.start + s.range.start..range.start + s.range.end,
                    ..s
                })
                .collect::<Vec<_>>()
        })
    };
    let mut source = CellSource::new(cell);
    // Code that does not parse goes in whole, for evcxr to report.
    let whole = |range: &std::ops::Range<usize>| {
        vec![Statement {
            kind: Kind::Other,
            range: range.clone(),
            question_mark: false,
        }]
    };
    let setup_statements = split(&setup).unwrap_or_else(|| whole(&setup));
    let body_statements = split(&body).unwrap_or_else(|| whole(&body));
    let question_mark = body_statements.iter().any(|s| s.question_mark);
    if question_mark {
        source.push_generated(HELPERS);
    }
    for s in setup_statements.iter().chain(&body_statements) {
        if s.kind == Kind::Item {
            source.push_user(s.range.clone());
        }
    }
    source.push_generated("{");
    for s in setup_statements.iter().filter(|s| s.kind != Kind::Item) {
        source.push_user(s.range.clone());
        if s.kind == Kind::Tail {
            // The setup's last expression is a statement before the measurement.
            source.push_generated(";");
        }
    }
    if question_mark {
        source.push_generated(&format!(
            "__paralelo_timing::timeit({options}, || -> ::std::result::Result<_, \
             __paralelo_timing::Failure> {{ ::std::result::Result::Ok({{"
        ));
    } else {
        source.push_generated(&format!("paralelo::timing::timeit_with({options}, || {{"));
    }
    for s in body_statements.iter().filter(|s| s.kind != Kind::Item) {
        source.push_user(s.range.clone());
    }
    let end = if args.output { "" } else { ";" };
    if question_mark {
        source.push_generated(&format!("}}) }})?{end}"));
    } else {
        source.push_generated(&format!("}}){end}"));
    }
    // A block that ends in `;` has no value: `;` after it too, so evcxr shows nothing.
    source.push_generated(if args.output { "}" } else { "};" });
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeit_options() {
        let (a, rest) = TimeitArgs::parse("-n 10 -r3 -p 4 -q -o x + 1", "%timeit").unwrap();
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
        assert_eq!(
            TimeitArgs::parse("-xs.len()", "%timeit").unwrap().1,
            "-xs.len()"
        );
        assert_eq!(TimeitArgs::parse("-1", "%timeit").unwrap().1, "-1");
        assert!(TimeitArgs::parse("-n zero 1", "%timeit").is_err());
        assert!(TimeitArgs::parse("-n 0 1", "%timeit").is_err());
        let unknown = TimeitArgs::parse("-z 1", "%%timeit").unwrap_err();
        assert!(
            unknown.evalue.contains("unknown option -z")
                && unknown.evalue.contains(TIMEIT_CELL_USAGE),
            "{}",
            unknown.evalue
        );
    }

    #[test]
    fn time_code_keeps_the_users_text_at_the_top_level() {
        let cell = "%%time\nfn f() -> u32 { 2 }\nlet mut a = f()?;\na += 1;\na";
        let body = cell.find('\n').unwrap() + 1..cell.len();
        let code = time_code(cell, body).code().to_owned();
        let after_helpers = &code[code.find("__paralelo_timing::start();").unwrap()..];
        assert_eq!(
            after_helpers,
            "__paralelo_timing::start();\nfn f() -> u32 { 2 }\nlet mut a = f()?;\na += 1;\n\
             __paralelo_timing::stop_ref(&(\na\n))\n"
        );
        let cell = "println!(\"hi\");";
        let code = time_code(cell, 0..cell.len()).code().to_owned();
        assert!(
            code.ends_with("println!(\"hi\");\n__paralelo_timing::stop();\n"),
            "{code}"
        );
    }

    #[test]
    fn timeit_setup_runs_before_the_timed_closure() {
        let cell =
            "%%timeit -n 3 -o fn g() -> u64 { 2 } let v = vec![g(); 4];\nv.iter().sum::<u64>()";
        let args = &cell[9..cell.find('\n').unwrap()];
        let (o, setup) = TimeitArgs::parse(args, "%%timeit").unwrap();
        let start = setup.as_ptr() as usize - cell.as_ptr() as usize;
        let body = cell.find('\n').unwrap() + 1..cell.len();
        let code = timeit_code(&o, cell, start..start + setup.len(), body)
            .code()
            .to_owned();
        assert!(code.starts_with("fn g() -> u64 { 2 }\n{\nlet v"), "{code}");
        let setup_at = code.find("let v").expect("setup kept");
        let closure_at = code.find("|| {").expect("closure");
        assert!(setup_at < closure_at, "{code}");
        assert!(code.ends_with("})\n}\n"), "-o returns the result: {code}");
        assert!(
            !code.contains("__paralelo_timing"),
            "no helpers without `?`: {code}"
        );
    }

    #[test]
    fn timeit_with_a_question_mark_returns_results() {
        let cell = "\"1\".parse::<u8>()?";
        let (q, _) = TimeitArgs::parse("-q", "%timeit").unwrap();
        let code = timeit_code(&q, cell, 0..0, 0..cell.len()).code().to_owned();
        assert!(code.contains("__paralelo_timing::timeit(&paralelo::timing::TimeitOptions { loops: None, repeat: 7, precision: 3, quiet: true }"), "{code}");
        assert!(code.ends_with("}) })?;\n};\n"), "{code}");
    }
}
