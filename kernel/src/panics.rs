//! Recognises panics in the evaluation child's stderr.
//!
//! evcxr catches a panicking cell, says so (`EvalOutputs::panicked`, a `vendor/evcxr`
//! change) and leaves the message to the panic hook's text on stderr (with
//! `RUST_BACKTRACE=1`, which evcxr sets for its child). This filter reads that text: panic
//! blocks are held until the cell ends; if the cell panicked, the block whose backtrace
//! passes through evcxr's `run_user_code_N` (else the last one: the panic that reached
//! evcxr's catch) is the cell's own panic and becomes the cell's error, shown once; the
//! others (a worker whose panic the library turned into an error value) keep their message
//! on stderr. Backtraces are dropped: they show evcxr's internals, not the learner's code.
//! The cell's panic needs only its message: the rest of a slow backtrace is swallowed as
//! it arrives, even after the cell ended.

/// Lines in, lines out, plus the cell's panic when there was one.
#[derive(Debug, Default)]
pub(crate) struct PanicFilter {
    /// The panic block being read.
    block: Option<Block>,
    /// Panic blocks read in this cell.
    held: Vec<Block>,
    /// An empty line held back: the panic hook prints one before `thread '…' panicked`.
    blank: bool,
}

/// A panic of the cell itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CellPanic {
    /// Where it happened, as the panic hook printed it (`src/lib.rs:22:5`).
    pub(crate) location: Option<String>,
    /// The panic message.
    pub(crate) message: String,
}

#[derive(Debug, Default, Clone)]
struct Block {
    message: Vec<String>,
    in_backtrace: bool,
    from_cell: bool,
    /// Already reported at the end of a cell: the rest of it is only swallowed.
    reported: bool,
}

impl Block {
    fn to_panic(&self) -> CellPanic {
        let first = &self.message[0];
        let text: Vec<&str> = self.message.iter().skip(1).map(String::as_str).collect();
        CellPanic {
            location: location(first),
            message: if text.is_empty() {
                first.clone()
            } else {
                text.join("\n")
            },
        }
    }
}

/// `src/lib.rs:22:5` from `thread '<unnamed>' (17252) panicked at src/lib.rs:22:5:`.
fn location(first_line: &str) -> Option<String> {
    let (_, rest) = first_line.split_once(" panicked at ")?;
    let rest = rest.trim_end();
    Some(rest.strip_suffix(':').unwrap_or(rest).to_owned())
}

fn is_panic_line(line: &str) -> bool {
    line.starts_with("thread '") && line.contains(" panicked at ")
}

impl PanicFilter {
    /// Feeds one stderr line; returns the lines to show now.
    pub(crate) fn line(&mut self, line: &str) -> Vec<String> {
        let mut shown = Vec::new();
        if self.block.is_none() {
            if std::mem::take(&mut self.blank) && !is_panic_line(line) {
                shown.push(String::new());
            }
            if line.is_empty() {
                self.blank = true;
                return shown;
            }
        }
        if is_panic_line(line) {
            self.close();
            self.block = Some(Block {
                message: vec![line.to_owned()],
                ..Block::default()
            });
            return shown;
        }
        let Some(block) = self.block.as_mut() else {
            shown.push(line.to_owned());
            return shown;
        };
        if !block.in_backtrace {
            if line == "stack backtrace:" {
                block.in_backtrace = true;
            } else if line.starts_with("note: run with `RUST_BACKTRACE") {
                self.close();
            } else if !block.reported {
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
        self.close();
        if !line.starts_with("note: Some details are omitted") {
            shown.push(line.to_owned());
        }
        shown
    }

    /// Ends the block being read, keeping it for the end of the cell.
    fn close(&mut self) {
        if let Some(block) = self.block.take()
            && !block.reported
        {
            self.held.push(block);
        }
    }

    /// Whether a panic's message has been read whole (its backtrace may still come).
    pub(crate) fn has_panic_message(&self) -> bool {
        match &self.block {
            Some(block) => block.in_backtrace && !block.reported || !self.held.is_empty(),
            None => !self.held.is_empty(),
        }
    }

    /// Ends the cell: returns the lines to show (other panics' messages, a held blank line)
    /// and, when the cell `panicked`, its panic.
    pub(crate) fn finish(&mut self, panicked: bool) -> (Vec<String>, Option<CellPanic>) {
        let mut blocks = std::mem::take(&mut self.held);
        if let Some(block) = self.block.as_mut()
            && !block.reported
        {
            blocks.push(block.clone());
            block.reported = true;
        }
        let cell = if panicked {
            blocks
                .iter()
                .position(|b| b.from_cell)
                .or(blocks.len().checked_sub(1))
        } else {
            None
        };
        let mut shown = Vec::new();
        let mut panic = None;
        for (i, block) in blocks.into_iter().enumerate() {
            if Some(i) == cell {
                panic = Some(block.to_panic());
            } else {
                shown.extend(block.message);
            }
        }
        if self.block.is_none() && std::mem::take(&mut self.blank) {
            shown.push(String::new());
        }
        (shown, panic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(
        filter: &mut PanicFilter,
        text: &str,
        panicked: bool,
    ) -> (Vec<String>, Option<CellPanic>) {
        let mut shown = Vec::new();
        for line in text.lines() {
            shown.extend(filter.line(line));
        }
        let (rest, panic) = filter.finish(panicked);
        shown.extend(rest);
        (shown, panic)
    }

    #[test]
    fn the_cells_panic_becomes_its_error() {
        let mut f = PanicFilter::default();
        let (shown, panic) = feed(
            &mut f,
            "before\n\nthread '<unnamed>' (17252) panicked at src/lib.rs:22:1:\nboom\nstack backtrace:\n   0: x\n   2: ctx::run_user_code_2::{{closure}}\n             at here\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\nafter",
            true,
        );
        // The blank line the hook prints before the panic goes with it.
        assert_eq!(shown, vec!["before", "after"]);
        assert_eq!(
            panic,
            Some(CellPanic {
                location: Some("src/lib.rs:22:1".into()),
                message: "boom".into()
            })
        );
    }

    #[test]
    fn a_slow_backtrace_is_not_waited_for() {
        let mut f = PanicFilter::default();
        for line in [
            "thread 'x' (1) panicked at src/lib.rs:3:1:",
            "boom",
            "stack backtrace:",
        ] {
            assert!(f.line(line).is_empty());
        }
        assert!(f.has_panic_message());
        let (shown, panic) = f.finish(true);
        assert!(shown.is_empty());
        assert_eq!(panic.unwrap().message, "boom");
        // The rest arrives during the next cell and is swallowed.
        assert!(f.line("   9: frame").is_empty());
        assert!(
            f.line("note: Some details are omitted, run with `RUST_BACKTRACE=full`")
                .is_empty()
        );
        assert_eq!(f.line("next cell"), vec!["next cell"]);
        assert_eq!(f.finish(false), (vec![], None));
    }

    #[test]
    fn blank_lines_of_the_cell_stay() {
        let mut f = PanicFilter::default();
        assert_eq!(feed(&mut f, "a\n\nb\n", false).0, vec!["a", "", "b"]);
        assert_eq!(feed(&mut f, "a\n", false).0, vec!["a"]);
        let mut f = PanicFilter::default();
        assert_eq!(f.line(""), Vec::<String>::new());
        assert_eq!(f.finish(false).0, vec![""]);
    }

    #[test]
    fn a_worker_panic_stays_on_stderr() {
        let mut f = PanicFilter::default();
        let worker = "thread '<unnamed>' (1) panicked at src/lib.rs:3:1:\ntask failed\nstack backtrace:\n   0: rayon::x\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.";
        let (shown, panic) = feed(&mut f, worker, false);
        assert_eq!(
            shown,
            vec![
                "thread '<unnamed>' (1) panicked at src/lib.rs:3:1:",
                "task failed"
            ]
        );
        assert_eq!(panic, None);
        // With the cell's own panic after it, the worker's stays on stderr.
        let cell = "\nthread 'main' (2) panicked at src/lib.rs:9:1:\nboom\nstack backtrace:\n   1: run_user_code_3\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.";
        let (shown, panic) = feed(&mut f, &format!("{worker}\n{cell}"), true);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(panic.unwrap().message, "boom");
    }
}
