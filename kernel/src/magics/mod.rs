//! IPython-style magics: one static registry, `%lsmagic` generated from it.
//!
//! A cell whose first line starts with `%%name` runs the cell magic `name` on the rest of
//! the cell. Otherwise every line that starts with `%name` is a line magic on the rest of
//! that line, and the lines between magics run as ordinary code, in order. Lines starting
//! with `:` are evcxr's commands and pass through untouched. A cell that is only `?name` (or
//! `??name`) is IPython's shorthand for `%pinfo name`; `name?` is not, since in Rust it is
//! the `?` operator.

mod mpirun;
mod time;

use serde_json::{Map, Value};

use crate::engine::{CellError, CellValue, Engine, InputReader, Output, Sink};

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
        usage: "EXPR",
        help: "Time one expression: CPU times (user, sys, total), Wall time; returns its value.",
        handler: time::time_line,
    },
    Magic {
        name: "time",
        kind: Kind::Cell,
        usage: "",
        help: "Time the cell (compilation excluded); its variables and value are kept.",
        handler: time::time_cell,
    },
    Magic {
        name: "timeit",
        kind: Kind::Line,
        usage: "[-n N] [-r R] [-p P] [-q] [-o] EXPR",
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
            let synopsis = format!("{}{} {}", kind.prefix(), m.name, m.usage);
            out.push_str(&format!("  {:<42} {}\n", synopsis.trim_end(), m.help));
        }
    }
    out.push_str(
        "\nevcxr commands (lines starting with `:`, e.g. `:dep`, `:vars`, `:opt`) also work; \
         `:help` lists them.\n",
    );
    out
}

fn lsmagic(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    if !call.args.trim().is_empty() {
        return Err(CellError::new("UsageError", "%lsmagic takes no arguments"));
    }
    call.print(lsmagic_text());
    Ok(CellValue::new())
}

/// IPython's `%pinfo` / `?name`: the hover documentation of `name`, sent to the pager.
fn pinfo(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let name = call.args.trim();
    if name.is_empty() {
        return Err(CellError::new(
            "UsageError",
            "%pinfo needs a name: %pinfo NAME (or ?NAME)",
        ));
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

/// One piece of a cell: code for evcxr or a magic invocation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Code(String),
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
        let (name, args) = name_and_args(first);
        return vec![Piece::Magic {
            kind: Kind::Cell,
            name,
            args,
            body,
        }];
    }
    let mut pieces = Vec::new();
    let mut code = String::new();
    for line in cell.split_inclusive('\n') {
        let stripped = line.trim_start();
        match stripped.strip_prefix('%') {
            Some(rest) if !rest.starts_with('%') => {
                if !code.trim().is_empty() {
                    pieces.push(Piece::Code(std::mem::take(&mut code)));
                }
                code.clear();
                let (name, args) = name_and_args(rest.trim_end_matches(['\n', '\r']));
                pieces.push(Piece::Magic {
                    kind: Kind::Line,
                    name,
                    args,
                    body: "",
                });
            }
            _ => code.push_str(line),
        }
    }
    if !code.trim().is_empty() || pieces.is_empty() {
        pieces.push(Piece::Code(code));
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

/// Runs a cell: magics through the registry, everything else through evcxr. The value of
/// the last piece is the cell's value; the first error stops the cell.
pub(crate) fn run_cell(
    engine: &mut Engine,
    cell: &str,
    sink: Sink,
    input: InputReader<'_>,
) -> Result<CellValue, CellError> {
    let mut value = CellValue::new();
    for piece in split(cell) {
        value = match piece {
            Piece::Code(code) => engine.execute(&code, sink.clone(), input)?,
            Piece::Magic {
                kind,
                name,
                args,
                body,
            } => {
                let magic = find(kind, name).ok_or_else(|| unknown(kind, name))?;
                let mut call = Call {
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
        assert_eq!(split("1 + 1"), vec![Piece::Code("1 + 1".into())]);
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
        assert_eq!(split("x?"), vec![Piece::Code("x?".into())]);
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
                Piece::Code("let a = 1;\n".into()),
                Piece::Magic {
                    kind: Kind::Line,
                    name: "time",
                    args: "a + 1",
                    body: ""
                },
                Piece::Code(":vars\n".into()),
            ]
        );
    }
}
