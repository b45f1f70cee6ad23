//! IPython.display's helpers for notebooks: [`display`], [`DisplayHandle::update`] and
//! [`clear_output`], plus Python's [`input`].
//!
//! In a `paralelo-kernel` notebook, `display(value)` shows `value` as an output of the cell
//! right away (not only at the end, as the cell's last expression is), a [`DisplayHandle`]
//! replaces that output in place (a progress line that updates itself), and
//! [`clear_output`] empties the cell's output area.
//!
//! These functions only print one line per call on standard output: a marker that the kernel
//! turns into Jupyter's `display_data`, `update_display_data` or `clear_output` message. Outside
//! a notebook (a program, a test, the evcxr REPL) that line is what you see, so the module
//! works anywhere and needs no kernel to compile.
//!
//! # Examples
//!
//! ```
//! use paralelo::display::{clear_output, display, display_mime};
//!
//! display(6 * 7);
//! let progress = display("0 of 3 done");
//! for done in 1..=3 {
//!     progress.update(format!("{done} of 3 done"));
//! }
//! display_mime(&[("text/plain", "bold"), ("text/html", "<b>bold</b>")]);
//! clear_output(false);
//! ```

use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of every marker line; the kernel looks for it at the start of a line.
pub const MARKER: &str = "PARALELO_DISPLAY ";

/// A displayed output that can be replaced in place, as IPython's `DisplayHandle`.
///
/// Returned by [`display`] and [`display_mime`].
///
/// # Examples
///
/// ```
/// let bar = paralelo::display::display("[          ]");
/// bar.update("[#####     ]");
/// bar.update("[##########]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayHandle {
    id: String,
}

impl DisplayHandle {
    /// The display id the kernel uses to find this output (unique in the process).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces the displayed output with `value`'s `Debug` text.
    pub fn update<T: Debug>(&self, value: T) {
        emit("update", Some(&self.id), &[("text/plain", &plain(&value))]);
    }

    /// Replaces the displayed output with a mime bundle (pairs of mime type and content).
    pub fn update_mime(&self, bundle: &[(&str, &str)]) {
        emit("update", Some(&self.id), bundle);
    }

    /// Shows nothing when a handle is a cell's last expression (the output is already shown).
    #[doc(hidden)]
    pub fn evcxr_display(&self) {}
}

impl Debug for DisplayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DisplayHandle({})", self.id)
    }
}

/// Shows `value` (its `Debug` text, as `text/plain`) as an output of the running cell.
///
/// Returns a handle to update that output later.
///
/// # Examples
///
/// ```
/// paralelo::display::display(vec![1, 2, 3]);
/// ```
pub fn display<T: Debug>(value: T) -> DisplayHandle {
    let id = new_id();
    emit("display", Some(&id), &[("text/plain", &plain(&value))]);
    DisplayHandle { id }
}

/// Shows a mime bundle, e.g. `[("text/plain", text), ("text/html", html)]`; Jupyter picks the
/// richest type it can render. Include `text/plain` for consoles and the headless runner.
///
/// # Examples
///
/// ```
/// paralelo::display::display_mime(&[("text/plain", "x = 1"), ("text/html", "<i>x</i> = 1")]);
/// ```
pub fn display_mime(bundle: &[(&str, &str)]) -> DisplayHandle {
    let id = new_id();
    emit("display", Some(&id), bundle);
    DisplayHandle { id }
}

/// Clears the cell's output area; with `wait`, only once the next output arrives (no flicker).
///
/// # Examples
///
/// ```
/// paralelo::display::clear_output(true);
/// ```
pub fn clear_output(wait: bool) {
    let line = serde_json::json!({ "op": "clear", "wait": wait });
    write_line(&line);
}

/// Reads one line from the user, like Python's `input(prompt)`; the trailing newline is removed.
///
/// In a notebook the frontend shows a text box (Jupyter's `input_request`); in a program it
/// prints `prompt` and reads standard input. Returns an empty string when there is no input
/// (end of file, or a frontend that does not allow input).
///
/// # Examples
///
/// ```no_run
/// let name = paralelo::display::input("¿Cómo te llamas? ");
/// println!("Hola, {name}");
/// ```
pub fn input(prompt: &str) -> String {
    read_input(prompt, false)
}

/// [`input`] for secrets: the frontend hides what is typed.
pub fn input_password(prompt: &str) -> String {
    read_input(prompt, true)
}

fn read_input(prompt: &str, password: bool) -> String {
    let mut out = std::io::stdout().lock();
    // evcxr's evaluation child (the kernel's) asks its parent through this line.
    let _ = if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
        let command = if password {
            "EVCXR_INPUT_REQUEST_PASSWORD"
        } else {
            "EVCXR_INPUT_REQUEST"
        };
        writeln!(out, "{command}:{prompt}")
    } else {
        write!(out, "{prompt}")
    };
    let _ = out.flush();
    drop(out);
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return String::new();
    }
    line.trim_end_matches(['\n', '\r']).to_owned()
}

fn plain<T: Debug>(value: &T) -> String {
    format!("{value:?}")
}

fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn emit(op: &str, id: Option<&str>, bundle: &[(&str, &str)]) {
    let data: serde_json::Map<String, serde_json::Value> = bundle
        .iter()
        .map(|(mime, content)| ((*mime).to_owned(), serde_json::Value::from(*content)))
        .collect();
    let line = serde_json::json!({ "op": op, "display_id": id, "data": data });
    write_line(&line);
}

fn write_line(value: &serde_json::Value) {
    // One write of one line, so the marker never interleaves with other output.
    let text = format!("{MARKER}{value}\n");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed stdout leaves nothing to show the output on: ignoring the error is right.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn plain_text_is_debug() {
        assert_eq!(plain(&42), "42");
        assert_eq!(plain(&"hi"), "\"hi\"");
    }
}
