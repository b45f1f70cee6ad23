//! IPython.display's helpers for notebooks: [`display`], [`DisplayHandle::update`] and
//! [`clear_output`], plus Python's [`input`].
//!
//! In a `paralelo-kernel` notebook, `display(value)` shows `value` as an output of the cell
//! right away (not only at the end, as the cell's last expression is), a [`DisplayHandle`]
//! replaces that output in place (a progress line that updates itself), and
//! [`clear_output`] empties the cell's output area.
//!
//! `display` shows a value's `Debug` text as `text/plain`. A type with a richer form (an HTML
//! table, an image) offers it from its `Debug` impl with [`offer_mime`]; `display` then sends
//! both, and Jupyter shows the richest it can render.
//!
//! # Where the output goes
//!
//! The module works anywhere and needs no kernel to compile; what a call prints depends on
//! who runs the code, read from the environment at each call:
//!
//! | running under | `display` / `display_mime` | `update` | `clear_output` |
//! |---|---|---|---|
//! | `paralelo-kernel` (it sets `PARALELO_KERNEL_DISPLAY=1` for its evaluation process) | one private marker line the kernel turns into `display_data` | `update_display_data`: the output is replaced | `clear_output` |
//! | stock evcxr (`evcxr_jupyter`, the evcxr REPL: `EVCXR_IS_RUNTIME` is set) | a bundle with a richer type than `text/plain` is printed in evcxr's content protocol (`EVCXR_BEGIN_CONTENT mime` … `EVCXR_END_CONTENT`, one block per type), so a table shows as HTML; a plain-text value is printed as a line of text | shown like a new `display`: evcxr cannot replace an output already shown | nothing |
//! | anything else (a program, a test, a terminal) | the `text/plain` form as a line | the new `text/plain` as a line | nothing |
//!
//! evcxr collects content blocks into the cell's result, one per mime type, shown when the
//! cell ends: under stock evcxr, several rich displays in one cell show only the last one.
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

use std::cell::RefCell;
use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of every marker line; the kernel looks for it at the start of a line.
pub const MARKER: &str = "PARALELO_DISPLAY ";

/// The environment variable `paralelo-kernel` sets (to `1`) in its evaluation process: only
/// then are [`MARKER`] lines printed.
pub const KERNEL_ENV: &str = "PARALELO_KERNEL_DISPLAY";

/// Who shows the output, read from the environment (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frontend {
    /// `paralelo-kernel`: marker lines.
    Kernel,
    /// Stock evcxr: its content protocol for rich bundles, text otherwise.
    Evcxr,
    /// A program or a terminal: plain text.
    Terminal,
}

pub(crate) fn frontend() -> Frontend {
    if std::env::var_os(KERNEL_ENV).is_some_and(|v| v == "1") {
        Frontend::Kernel
    } else if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
        Frontend::Evcxr
    } else {
        Frontend::Terminal
    }
}

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

    /// Replaces the displayed output with `value`, as [`display`] shows it.
    pub fn update<T: Debug>(&self, value: T) {
        emit_bundle("update", Some(&self.id), &bundle_of(&value));
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

/// Shows `value` as an output of the running cell: its `Debug` text as `text/plain`, plus
/// whatever richer forms its `Debug` impl offers with [`offer_mime`].
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
    emit_bundle("display", Some(&id), &bundle_of(&value));
    DisplayHandle { id }
}

/// Offers richer forms of the value being formatted, for [`display`]; call it from a type's
/// `Debug` impl with the exact text that impl writes and the extra mime types.
///
/// While `display` formats a value with `Debug`, offers are collected; an offer whose text is
/// the whole `Debug` text (the value itself, or a reference to it, not an element of a
/// collection) adds its mime types to the displayed bundle. Outside `display` this does
/// nothing, so `{:?}` elsewhere costs one thread-local check.
///
/// # Examples
///
/// ```
/// use std::fmt;
/// use paralelo::display::{display, offer_mime};
///
/// struct Bold(&'static str);
///
/// impl fmt::Debug for Bold {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         offer_mime(self.0, &[("text/html", &format!("<b>{}</b>", self.0))]);
///         f.write_str(self.0)
///     }
/// }
///
/// display(Bold("hola")); // text/plain "hola" and text/html "<b>hola</b>"
/// ```
pub fn offer_mime(text: &str, bundle: &[(&str, &str)]) {
    OFFERS.with(|offers| {
        if let Some(offers) = offers.borrow_mut().as_mut() {
            offers.push(Offer {
                text: text.to_owned(),
                bundle: bundle
                    .iter()
                    .map(|(mime, content)| ((*mime).to_owned(), (*content).to_owned()))
                    .collect(),
            });
        }
    });
}

/// A richer form offered by a `Debug` impl while [`display`] formats a value.
struct Offer {
    text: String,
    bundle: Vec<(String, String)>,
}

thread_local! {
    /// `Some` while [`bundle_of`] formats a value on this thread.
    static OFFERS: RefCell<Option<Vec<Offer>>> = const { RefCell::new(None) };
}

/// The mime bundle `display` sends for `value`: `text/plain` first, then offered forms.
fn bundle_of<T: Debug>(value: &T) -> Vec<(String, String)> {
    // A `Debug` impl that itself calls `display` must not see (or steal) the outer offers.
    let outer = OFFERS.with(|o| o.replace(Some(Vec::new())));
    let text = plain(value);
    let offers = OFFERS.with(|o| o.replace(outer)).unwrap_or_default();
    let mut bundle = vec![("text/plain".to_owned(), text)];
    if let Some(offer) = offers.into_iter().find(|o| o.text == bundle[0].1) {
        for (mime, content) in offer.bundle {
            if !bundle.iter().any(|(m, _)| *m == mime) {
                bundle.push((mime, content));
            }
        }
    }
    bundle
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
    // Only the kernel can clear an output area; elsewhere there is nothing to clear.
    if frontend() == Frontend::Kernel {
        let line = serde_json::json!({ "op": "clear", "wait": wait });
        write_text(&format!("{MARKER}{line}\n"));
    }
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

fn emit_bundle(op: &str, id: Option<&str>, bundle: &[(String, String)]) {
    let pairs: Vec<(&str, &str)> = bundle
        .iter()
        .map(|(m, c)| (m.as_str(), c.as_str()))
        .collect();
    emit(op, id, &pairs);
}

fn emit(op: &str, id: Option<&str>, bundle: &[(&str, &str)]) {
    write_text(&rendered(frontend(), op, id, bundle));
}

/// What one `display` or `update` prints for `frontend`.
fn rendered(frontend: Frontend, op: &str, id: Option<&str>, bundle: &[(&str, &str)]) -> String {
    let plain = bundle
        .iter()
        .find(|(mime, _)| *mime == "text/plain")
        .map(|(_, text)| *text);
    let as_line = |text: &str| {
        if text.ends_with('\n') {
            text.to_owned()
        } else {
            format!("{text}\n")
        }
    };
    match frontend {
        Frontend::Kernel => {
            let data: serde_json::Map<String, serde_json::Value> = bundle
                .iter()
                .map(|(mime, content)| ((*mime).to_owned(), serde_json::Value::from(*content)))
                .collect();
            let line = serde_json::json!({ "op": op, "display_id": id, "data": data });
            format!("{MARKER}{line}\n")
        }
        Frontend::Evcxr if bundle.iter().any(|(mime, _)| *mime != "text/plain") => {
            let mut text = String::new();
            for (mime, content) in bundle {
                text.push_str(&format!(
                    "EVCXR_BEGIN_CONTENT {mime}\n{}EVCXR_END_CONTENT\n",
                    as_line(content)
                ));
            }
            text
        }
        Frontend::Evcxr | Frontend::Terminal => plain.map(as_line).unwrap_or_default(),
    }
}

fn write_text(text: &str) {
    if text.is_empty() {
        return;
    }
    // One write, so a marker or a content block never interleaves with other output.
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

    struct Table;

    impl Debug for Table {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            offer_mime("| t |", &[("text/html", "<table></table>")]);
            f.write_str("| t |")
        }
    }

    fn mimes(bundle: &[(String, String)]) -> Vec<&str> {
        bundle.iter().map(|(m, _)| m.as_str()).collect()
    }

    #[test]
    fn offered_html_goes_with_the_plain_text() {
        let bundle = bundle_of(&Table);
        assert_eq!(mimes(&bundle), ["text/plain", "text/html"]);
        assert_eq!(bundle[0].1, "| t |");
        assert_eq!(bundle[1].1, "<table></table>");
        // Through references too.
        assert_eq!(mimes(&bundle_of(&&Table)), ["text/plain", "text/html"]);
    }

    #[test]
    fn a_timing_table_is_displayed_as_html_too() {
        let mut table = crate::TimingTable::new("t");
        table.row("a").wall(std::time::Duration::from_millis(1));
        let bundle = bundle_of(&table);
        assert_eq!(mimes(&bundle), ["text/plain", "text/html"]);
        assert_eq!(bundle[0].1, table.to_string());
        assert_eq!(bundle[1].1, table.to_html());
    }

    #[test]
    fn offers_of_elements_and_outside_display_are_ignored() {
        assert_eq!(mimes(&bundle_of(&vec![Table, Table])), ["text/plain"]);
        assert_eq!(format!("{:?}", Table), "| t |");
        assert_eq!(mimes(&bundle_of(&42)), ["text/plain"]);
    }

    /// Between these lines the child's output is the module's, not the test harness's.
    const BEGIN: &str = "<<<display output>>>";
    const END: &str = "<<<end of display output>>>";
    /// Set for the child process only.
    const CHILD: &str = "PARALELO_DISPLAY_TEST_CHILD";

    /// Run by [`what_each_frontend_sees`] in a child process with the environment under test
    /// (it does nothing in the normal test run).
    #[test]
    fn child_displays_a_few_things() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        println!("{BEGIN}");
        display(42);
        let handle = display("a");
        handle.update("b");
        display(&Table);
        display_mime(&[("text/html", "<b>x</b>")]);
        clear_output(false);
        println!("{END}");
    }

    /// The output of [`child_displays_a_few_things`] run with `env` set (and the other
    /// frontends' variables removed).
    fn child_output(env: &[(&str, &str)]) -> String {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "display::tests::child_displays_a_few_things",
                "--nocapture",
                "--test-threads=1",
            ])
            .env_remove(KERNEL_ENV)
            .env_remove("EVCXR_IS_RUNTIME")
            .env(CHILD, "1");
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let start = text.find(BEGIN).expect("begin line") + BEGIN.len() + 1;
        let end = text.find(END).expect("end line");
        text[start..end].to_owned()
    }

    #[test]
    fn what_each_frontend_sees() {
        // A program or a terminal: the text/plain form, an update prints the new text, an
        // HTML-only bundle and clear_output print nothing.
        assert_eq!(child_output(&[]), "42\n\"a\"\n\"b\"\n| t |\n");
        // Stock evcxr: plain values as text, rich bundles in evcxr's content protocol.
        assert_eq!(
            child_output(&[("EVCXR_IS_RUNTIME", "1")]),
            "42\n\"a\"\n\"b\"\n\
             EVCXR_BEGIN_CONTENT text/plain\n| t |\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/html\n<table></table>\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/html\n<b>x</b>\nEVCXR_END_CONTENT\n"
        );
        // paralelo-kernel (which is evcxr too): one marker line per call.
        let kernel = child_output(&[("EVCXR_IS_RUNTIME", "1"), (KERNEL_ENV, "1")]);
        let markers: Vec<serde_json::Value> = kernel
            .lines()
            .map(|line| {
                let json = line
                    .strip_prefix(MARKER)
                    .unwrap_or_else(|| panic!("{line:?}"));
                serde_json::from_str(json).unwrap()
            })
            .collect();
        let ops: Vec<&str> = markers.iter().map(|m| m["op"].as_str().unwrap()).collect();
        assert_eq!(
            ops,
            [
                "display", "display", "update", "display", "display", "clear"
            ]
        );
        assert_eq!(markers[0]["data"]["text/plain"], "42");
        assert_eq!(markers[1]["display_id"], markers[2]["display_id"]);
        assert_eq!(markers[2]["data"]["text/plain"], "\"b\"");
        assert_eq!(markers[3]["data"]["text/html"], "<table></table>");
    }

    #[test]
    fn plain_text_is_debug() {
        assert_eq!(plain(&42), "42");
        assert_eq!(plain(&"hi"), "\"hi\"");
    }
}
