//! A running cell's outputs printed as they arrive (papermill's `--log-output`), and kept
//! for the notebook.
//!
//! Each line of stdout and stderr is printed when the cell prints it. A display is printed
//! when it is shown; its updates (a progress bar) are not, and when the cell ends each
//! display whose state changed since it was printed is printed once more, in its last state
//! — or, with `--progress`, every update is printed as it comes. `clear_output` cannot
//! clear a log: it only applies to the outputs stored in the notebook.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::outputs::text_of;
use crate::output::{Output, Sink};

#[derive(Default)]
struct State {
    outputs: Vec<Output>,
    /// Display id → (text printed last, text now).
    displays: Vec<(String, String, String)>,
}

/// The printer and store of one cell's outputs.
#[derive(Clone)]
pub(crate) struct Live {
    state: Arc<Mutex<State>>,
    progress: bool,
}

/// The text a display prints as: its `text/plain`, else the names of its forms.
pub(crate) fn display_text(data: &Map<String, Value>) -> String {
    match data.get("text/plain") {
        Some(text) => text_of(Some(text)),
        None => {
            let mimes: Vec<&str> = data.keys().map(String::as_str).collect();
            format!("<display: {}>", mimes.join(", "))
        }
    }
}

fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

impl Live {
    pub(crate) fn new(progress: bool) -> Live {
        Live {
            state: Arc::default(),
            progress,
        }
    }

    /// The sink to hand the engine.
    pub(crate) fn sink(&self) -> Sink {
        let live = self.clone();
        Arc::new(move |output| live.receive(output))
    }

    fn receive(&self, output: Output) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &output {
            Output::Stdout(text) => print_line(text),
            Output::Stderr(text) => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
            }
            Output::Display {
                data,
                display_id,
                update,
            } => {
                let text = display_text(data);
                let known = display_id
                    .as_ref()
                    .and_then(|id| state.displays.iter_mut().find(|(i, _, _)| i == id));
                match (update, known) {
                    (true, Some(entry)) if !self.progress => entry.2 = text,
                    (true, Some(entry)) => {
                        print_line(&text);
                        entry.1 = text.clone();
                        entry.2 = text;
                    }
                    // An update of a display this cell did not show (an earlier cell's).
                    (true, None) if !self.progress => {
                        if let Some(id) = display_id {
                            state.displays.push((id.clone(), String::new(), text));
                        }
                    }
                    _ => {
                        print_line(&text);
                        if let Some(id) = display_id {
                            state.displays.push((id.clone(), text.clone(), text));
                        }
                    }
                }
            }
            Output::Page { data } => print_line(&crate::output::page_text(data)),
            Output::Clear { .. } => {}
        }
        state.outputs.push(output);
    }

    /// Prints each display's last state if it was not printed yet; returns the outputs.
    pub(crate) fn finish(&self) -> Vec<Output> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (_, printed, now) in &state.displays {
            if printed != now {
                print_line(now);
            }
        }
        state.displays.clear();
        std::mem::take(&mut state.outputs)
    }
}
