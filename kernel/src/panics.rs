//! Recognises panics in the evaluation child's stderr.
//!
//! evcxr catches a panicking cell and reports it only through the panic hook's text on
//! stderr (with `RUST_BACKTRACE=1`, which evcxr sets for its child). This filter reads that
//! text: a panic whose backtrace passes through evcxr's `run_user_code_N` is the cell's own
//! panic and becomes the cell's error; a panic on another thread (a worker whose panic the
//! library turns into an error value) keeps its message on stderr. Backtraces are dropped:
//! they show evcxr's internals, not the learner's code.

/// Lines in, lines out, plus the cell's panic message when there was one.
#[derive(Debug, Default)]
pub(crate) struct PanicFilter {
    block: Option<Block>,
    /// The cell's own panic, once its block has ended.
    pub(crate) cell_panic: Option<CellPanic>,
}

/// A panic of the cell itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CellPanic {
    /// Where it happened, as the panic hook printed it (`src/lib.rs:22:5`).
    pub(crate) location: Option<String>,
    /// The panic message.
    pub(crate) message: String,
}

/// `src/lib.rs:22:5` from `thread '<unnamed>' (17252) panicked at src/lib.rs:22:5:`.
fn location(first_line: &str) -> Option<String> {
    let (_, rest) = first_line.split_once(" panicked at ")?;
    let rest = rest.trim_end();
    Some(rest.strip_suffix(':').unwrap_or(rest).to_owned())
}

#[derive(Debug, Default)]
struct Block {
    message: Vec<String>,
    in_backtrace: bool,
    from_cell: bool,
}

fn is_panic_line(line: &str) -> bool {
    line.starts_with("thread '") && line.contains(" panicked at ")
}

impl PanicFilter {
    /// Feeds one stderr line; returns the lines to show now.
    pub(crate) fn line(&mut self, line: &str) -> Vec<String> {
        let mut shown = Vec::new();
        if is_panic_line(line) {
            shown.extend(self.finish());
            self.block = Some(Block {
                message: vec![line.to_owned()],
                ..Block::default()
            });
            return shown;
        }
        let Some(block) = self.block.as_mut() else {
            return vec![line.to_owned()];
        };
        if !block.in_backtrace {
            if line == "stack backtrace:" {
                block.in_backtrace = true;
            } else if line.starts_with("note: run with `RUST_BACKTRACE") {
                shown.extend(self.finish());
            } else {
                block.message.push(line.to_owned());
            }
            return shown;
        }
        if line.starts_with(' ') {
            if line.contains("run_user_code_") {
                block.from_cell = true;
            }
            return shown;
        }
        let is_note = line.starts_with("note: Some details are omitted");
        shown.extend(self.finish());
        if !is_note {
            shown.push(line.to_owned());
        }
        shown
    }

    /// Ends a pending block (at the end of a cell); returns lines to show.
    pub(crate) fn finish(&mut self) -> Vec<String> {
        let Some(block) = self.block.take() else {
            return Vec::new();
        };
        // Without a backtrace we cannot tell whose panic it was: treat it as the cell's only
        // when the cell has not already panicked.
        let from_cell = block.from_cell || !block.in_backtrace && self.cell_panic.is_none();
        if from_cell && self.cell_panic.is_none() {
            let text: Vec<&str> = block.message.iter().skip(1).map(String::as_str).collect();
            let first = block.message[0].clone();
            let message = if text.is_empty() {
                first.clone()
            } else {
                text.join("\n")
            };
            self.cell_panic = Some(CellPanic {
                location: location(&first),
                message,
            });
            Vec::new()
        } else {
            block.message
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(filter: &mut PanicFilter, text: &str) -> Vec<String> {
        let mut shown = Vec::new();
        for line in text.lines() {
            shown.extend(filter.line(line));
        }
        shown.extend(filter.finish());
        shown
    }

    #[test]
    fn the_cells_panic_becomes_its_error() {
        let mut f = PanicFilter::default();
        let shown = feed(
            &mut f,
            "before\n\nthread '<unnamed>' (17252) panicked at src/lib.rs:22:1:\nboom\nstack backtrace:\n   0: x\n   2: ctx::run_user_code_2::{{closure}}\n             at here\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\nafter",
        );
        assert_eq!(shown, vec!["before", "", "after"]);
        assert_eq!(
            f.cell_panic,
            Some(CellPanic {
                location: Some("src/lib.rs:22:1".into()),
                message: "boom".into()
            })
        );
    }

    #[test]
    fn a_worker_panic_stays_on_stderr_without_backtrace() {
        let mut f = PanicFilter::default();
        let shown = feed(
            &mut f,
            "thread '<unnamed>' (1) panicked at src/lib.rs:3:1:\ntask failed\nstack backtrace:\n   0: rayon::x\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
        );
        assert_eq!(
            shown,
            vec![
                "thread '<unnamed>' (1) panicked at src/lib.rs:3:1:",
                "task failed"
            ]
        );
        assert_eq!(f.cell_panic, None);
    }
}
