//! IPython-style magics: one static registry, `%lsmagic` generated from it.
//!
//! A cell whose first line starts with `%%name` runs the cell magic `name` on the rest of
//! the cell. Otherwise every line that starts with `%name` is a line magic on the rest of
//! that line, and the lines between magics run as ordinary code, in order. Lines starting
//! with `:` are evcxr's commands and pass through untouched. A cell that is only `?name` (or
//! `??name`) is IPython's shorthand for `%pinfo name`; `name?` is not, since in Rust it is
//! the `?` operator. A line starting with `!` is a shell command (IPython's `!ls`); to
//! negate at the start of a line in Rust, write `(!x)`.

mod capture;
mod mpirun;
mod session;
mod shell;
mod statements;
mod time;

use serde_json::{Map, Value};

use crate::engine::{CellSource, Engine, InputReader};
use crate::output::{CellError, CellValue, Output, Sink};

/// Whether a magic takes one line (`%name`) or the whole cell (`%%name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Line,
    Cell,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Line => "%",
            Kind::Cell => "%%",
        }
    }
}

/// What a magic handler gets.
pub(crate) struct Call<'a> {
    /// The registry entry being run.
    pub(crate) magic: &'static Magic,
    /// The whole cell; `args` and `body` are slices of it.
    pub(crate) cell: &'a str,
    /// The arguments after the magic's name (the rest of its line).
    pub(crate) args: &'a str,
    /// For a cell magic, the lines after the first; empty for a line magic.
    pub(crate) body: &'a str,
    pub(crate) engine: &'a mut Engine,
    pub(crate) sink: Sink,
    pub(crate) input: InputReader<'a>,
}

impl Call<'_> {
    /// Prints `text` as the cell's stdout.
    pub(crate) fn print(&self, text: impl Into<String>) {
        (self.sink)(Output::Stdout(text.into()));
    }

    /// Byte range of `part` (a slice of the cell, or empty) in the cell.
    pub(crate) fn range(&self, part: &str) -> std::ops::Range<usize> {
        offset_in(self.cell, part)
    }

    /// A `UsageError` for this magic: `problem`, then the magic's synopsis.
    pub(crate) fn usage_error(&self, problem: impl std::fmt::Display) -> CellError {
        CellError::new(
            "UsageError",
            format!("{problem}; usage: {}", self.magic.synopsis()),
        )
    }
}

/// Byte range of `part` in `whole` when it is a slice of it; else an empty range at the end.
fn offset_in(whole: &str, part: &str) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    if start <= whole.len() && start + part.len() <= whole.len() {
        start..start + part.len()
    } else {
        whole.len()..whole.len()
    }
}

/// A magic's handler.
pub(crate) type Handler = fn(&mut Call<'_>) -> Result<CellValue, CellError>;

/// One entry of the registry.
pub(crate) struct Magic {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Synopsis of the arguments, shown by `%lsmagic`.
    pub(crate) usage: &'static str,
    /// One line of help.
    pub(crate) help: &'static str,
    pub(crate) handler: Handler,
}

impl Magic {
    /// `%name USAGE` (or `%%name …`), as `%lsmagic` and usage errors show it.
    pub(crate) fn synopsis(&self) -> String {
        format!("{}{} {}", self.kind.prefix(), self.name, self.usage)
            .trim_end()
            .to_owned()
    }
}

/// Every magic the kernel knows. Dispatch, `%lsmagic` and the error for an unknown magic
/// all read this table; nothing else names a magic.
pub(crate) static MAGICS: &[Magic] = &[
    Magic {
        name: "lsmagic",
        kind: Kind::Line,
        usage: "",
        help: "List the available magics and evcxr commands.",
        handler: lsmagic,
    },
    Magic {
        name: "pinfo",
        kind: Kind::Line,
        usage: "NAME",
        help: "Show NAME's signature and documentation in the pager (also `?NAME`).",
        handler: pinfo,
    },
    Magic {
        name: "time",
        kind: Kind::Line,
        usage: "CODE",
        help: "Time one statement or expression: CPU times (user, sys, total), Wall time; returns its value.",
        handler: time::time_line,
    },
    Magic {
        name: "time",
        kind: Kind::Cell,
        usage: "",
        help: "Time the cell (compilation excluded); its variables, items and value are kept.",
        handler: time::time_cell,
    },
    Magic {
        name: "timeit",
        kind: Kind::Line,
        usage: "[-n N] [-r R] [-p P] [-q] [-o] CODE",
        help: "Mean ± std. dev. of R runs of N loops (N chosen automatically unless -n).",
        handler: time::timeit_line,
    },
    Magic {
        name: "timeit",
        kind: Kind::Cell,
        usage: "[-n N] [-r R] [-p P] [-q] [-o] [SETUP]",
        help: "%timeit for the cell after an untimed SETUP; -o returns the result, -q is quiet.",
        handler: time::timeit_cell,
    },
    Magic {
        name: "capture",
        kind: Kind::Cell,
        usage: "[--no-stdout] [--no-stderr] [--no-display] [NAME]",
        help: "Run the cell keeping its outputs; NAME.show() shows them later (NAME.stdout, NAME.stderr).",
        handler: capture::capture,
    },
    Magic {
        name: "env",
        kind: Kind::Line,
        usage: "[NAME[=VALUE]]",
        help: "List the environment, show NAME, or set NAME=VALUE (also `%env NAME VALUE`).",
        handler: shell::env,
    },
    Magic {
        name: "who",
        kind: Kind::Line,
        usage: "[TYPE...]",
        help: "The session's variables (only those of the given types, if any).",
        handler: session::who,
    },
    Magic {
        name: "whos",
        kind: Kind::Line,
        usage: "[TYPE...]",
        help: "The session's variables with their types, as a table.",
        handler: session::whos,
    },
    Magic {
        name: "history",
        kind: Kind::Line,
        usage: "[-n] [RANGE...]",
        help: "The session's inputs; -n numbers them; RANGE is N, N-M or N:M (M excluded).",
        handler: session::history,
    },
    Magic {
        name: "writefile",
        kind: Kind::Cell,
        usage: "[-a] FILE",
        help: "Write the cell to FILE (-a appends); relative to the working directory.",
        handler: shell::writefile,
    },
    Magic {
        name: "bash",
        kind: Kind::Cell,
        usage: "",
        help: "Run the cell with bash; output is streamed; a non-zero exit status is an error.",
        handler: shell::bash,
    },
    Magic {
        name: "sh",
        kind: Kind::Cell,
        usage: "",
        help: "Run the cell with sh; output is streamed; a non-zero exit status is an error.",
        handler: shell::sh,
    },
    Magic {
        name: "pwd",
        kind: Kind::Line,
        usage: "",
        help: "The working directory of the code the cells run.",
        handler: shell::pwd,
    },
    Magic {
        name: "cd",
        kind: Kind::Line,
        usage: "[DIR | -]",
        help: "Change the working directory (no DIR: home; -: the previous one).",
        handler: shell::cd,
    },
    mpirun::MAGIC,
];

/// Looks a magic up by kind and name.
pub(crate) fn find(kind: Kind, name: &str) -> Option<&'static Magic> {
    MAGICS.iter().find(|m| m.kind == kind && m.name == name)
}

/// The text of `%lsmagic`, generated from [`MAGICS`].
pub(crate) fn lsmagic_text() -> String {
    let mut out = String::from("Available line magics:\n");
    for kind in [Kind::Line, Kind::Cell] {
        if kind == Kind::Cell {
            out.push_str("\nAvailable cell magics:\n");
        }
        for m in MAGICS.iter().filter(|m| m.kind == kind) {
            out.push_str(&format!("  {:<50} {}\n", m.synopsis(), m.help));
        }
    }
    out.push_str(
        "\n`!COMMAND` lines run COMMAND with sh (output streamed, exit status reported).\n\
         evcxr commands (lines starting with `:`, e.g. `:dep`, `:vars`, `:opt`) also work; \
         `:help` lists them.\n",
    );
    out
}

fn lsmagic(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        return Err(call.usage_error("%lsmagic takes no arguments"));
    }
    call.print(lsmagic_text());
    Ok(CellValue::new())
}

/// IPython's `%pinfo` / `?name`: the hover documentation of `name`, sent to the pager.
fn pinfo(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let name = call.args.trim();
    if name.is_empty() {
        return Err(call.usage_error("%pinfo needs a name (or write ?NAME)"));
    }
    match call.engine.inspect(name, name.len()) {
        Some((plain, html)) => {
            let mut data = Map::new();
            data.insert("text/plain".into(), Value::String(plain));
            data.insert("text/html".into(), Value::String(html));
            (call.sink)(Output::Page { data });
        }
        // IPython's words, on stdout, and the cell still succeeds.
        None => call.print(format!("Object `{name}` not found.\n")),
    }
    Ok(CellValue::new())
}

fn unknown(kind: Kind, name: &str) -> CellError {
    let known: Vec<String> = MAGICS
        .iter()
        .map(|m| format!("{}{}", m.kind.prefix(), m.name))
        .collect();
    CellError::new(
        "UsageError",
        format!(
            "unknown magic {}{}; known magics: {}",
            kind.prefix(),
            name,
            known.join(", ")
        ),
    )
}

/// One piece of a cell: code for evcxr, a shell command or a magic invocation; each a
/// slice of the cell.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Code(&'a str),
    /// A `!command` line: the command.
    Shell(&'a str),
    Magic {
        kind: Kind,
        name: &'a str,
        args: &'a str,
        body: &'a str,
    },
}

/// Splits a cell into code and magics (see the module docs).
pub(crate) fn split(cell: &str) -> Vec<Piece<'_>> {
    let trimmed = cell.trim_start_matches(['\n', '\r', ' ', '\t']);
    if let Some(name) = trimmed.trim_end().strip_prefix('?')
        && !name.contains('\n')
    {
        return vec![Piece::Magic {
            kind: Kind::Line,
            name: "pinfo",
            args: name.trim_start_matches('?').trim(),
            body: "",
        }];
    }
    if let Some(rest) = trimmed.strip_prefix("%%") {
        let (first, body) = rest.split_once('\n').unwrap_or((rest, ""));
        let (name, args) = name_and_args(first.trim_end_matches('\r'));
        return vec![Piece::Magic {
            kind: Kind::Cell,
            name,
            args,
            body,
        }];
    }
    let mut pieces = Vec::new();
    // Start of the code lines not yet in a piece.
    let mut code_start = 0;
    let mut at = 0;
    fn flush<'a>(pieces: &mut Vec<Piece<'a>>, code: &'a str) {
        if !code.trim().is_empty() {
            pieces.push(Piece::Code(code));
        }
    }
    for line in cell.split_inclusive('\n') {
        let line_start = at;
        at += line.len();
        let stripped = line.trim_start();
        let content = stripped.trim_end_matches(['\n', '\r']);
        if let Some(rest) = content.strip_prefix('%')
            && !rest.starts_with('%')
        {
            flush(&mut pieces, &cell[code_start..line_start]);
            code_start = at;
            let (name, args) = name_and_args(rest);
            pieces.push(Piece::Magic {
                kind: Kind::Line,
                name,
                args,
                body: "",
            });
        } else if let Some(command) = content.strip_prefix('!')
            && !command.starts_with('=')
        {
            flush(&mut pieces, &cell[code_start..line_start]);
            code_start = at;
            pieces.push(Piece::Shell(command.trim()));
        }
    }
    flush(&mut pieces, &cell[code_start..]);
    if pieces.is_empty() {
        pieces.push(Piece::Code(cell));
    }
    pieces
}

fn name_and_args(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    }
}

/// Runs a cell: magics through the registry, `!` lines through the shell, everything else
/// through evcxr. The value of the last piece is the cell's value; the first error stops
/// the cell. The cell is recorded in the session's input history first (`%history`).
pub(crate) fn run_cell(
    engine: &mut Engine,
    cell: &str,
    sink: Sink,
    input: InputReader<'_>,
) -> Result<CellValue, CellError> {
    engine.record_input(cell);
    run_pieces(engine, cell, sink, input)
}

/// [`run_cell`] without recording the input (a magic running its body).
pub(crate) fn run_pieces(
    engine: &mut Engine,
    cell: &str,
    sink: Sink,
    input: InputReader<'_>,
) -> Result<CellValue, CellError> {
    let mut value = CellValue::new();
    for piece in split(cell) {
        value = match piece {
            Piece::Code(code) => {
                let mut source = CellSource::new(cell);
                source.push_user(offset_in(cell, code));
                engine.execute_source(source, sink.clone(), input)?
            }
            Piece::Shell(command) => shell::run_line(engine, command, &sink)?,
            Piece::Magic {
                kind,
                name,
                args,
                body,
            } => {
                let magic = find(kind, name).ok_or_else(|| unknown(kind, name))?;
                let mut call = Call {
                    magic,
                    cell,
                    args,
                    body,
                    engine,
                    sink: sink.clone(),
                    input,
                };
                (magic.handler)(&mut call)?
            }
        };
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_magic_is_dispatched_and_listed() {
        let listing = lsmagic_text();
        for magic in MAGICS {
            let cell = match magic.kind {
                Kind::Line => format!("%{} {}", magic.name, "x"),
                Kind::Cell => format!("%%{} \nx", magic.name),
            };
            match split(&cell).as_slice() {
                [Piece::Magic { kind, name, .. }] => {
                    let found = find(*kind, name).expect("dispatch finds the registry entry");
                    assert!(std::ptr::eq(found, magic), "{cell:?} dispatches elsewhere");
                }
                other => panic!("{cell:?} split into {other:?}"),
            }
            let synopsis = format!("{}{}", magic.kind.prefix(), magic.name);
            assert!(
                listing.contains(&synopsis) && listing.contains(magic.help),
                "%lsmagic lacks {synopsis}"
            );
        }
    }

    #[test]
    fn names_are_unique_per_kind() {
        for (i, a) in MAGICS.iter().enumerate() {
            for b in &MAGICS[i + 1..] {
                assert!(a.kind != b.kind || a.name != b.name, "{} twice", a.name);
            }
        }
    }

    #[test]
    fn unknown_magic_lists_known_ones() {
        let e = unknown(Kind::Line, "nope");
        assert!(e.evalue.contains("%nope"));
        for m in MAGICS {
            assert!(e.evalue.contains(&format!("{}{}", m.kind.prefix(), m.name)));
        }
    }

    #[test]
    fn splitting_cells() {
        assert_eq!(split("1 + 1"), vec![Piece::Code("1 + 1")]);
        for cell in ["?par_map", "\n??par_map \n", "%pinfo par_map"] {
            assert_eq!(
                split(cell),
                vec![Piece::Magic {
                    kind: Kind::Line,
                    name: "pinfo",
                    args: "par_map",
                    body: ""
                }],
                "{cell:?}"
            );
        }
        // `x?` is Rust's `?` operator, not the pager.
        assert_eq!(split("x?"), vec![Piece::Code("x?")]);
        assert_eq!(
            split("\n%%timeit -n 3\nlet x = 1;\nx"),
            vec![Piece::Magic {
                kind: Kind::Cell,
                name: "timeit",
                args: "-n 3",
                body: "let x = 1;\nx"
            }]
        );
        assert_eq!(
            split("let a = 1;\n%time a + 1\n:vars\n"),
            vec![
                Piece::Code("let a = 1;\n"),
                Piece::Magic {
                    kind: Kind::Line,
                    name: "time",
                    args: "a + 1",
                    body: ""
                },
                Piece::Code(":vars\n"),
            ]
        );
        assert_eq!(
            split("let a = 1;\n  !ls -l\na != 2"),
            vec![
                Piece::Code("let a = 1;\n"),
                Piece::Shell("ls -l"),
                Piece::Code("a != 2"),
            ]
        );
    }
}
