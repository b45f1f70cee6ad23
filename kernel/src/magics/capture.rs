//! `%%capture [--no-stdout] [--no-stderr] [--no-display] [NAME]`: IPython's, for Rust.
//!
//! The cell runs (magics included) with its outputs kept instead of shown. With NAME, the
//! session gets a variable `NAME` of type `__paralelo_capture::CapturedIo`, defined in the
//! session by the kernel: `NAME.stdout` and `NAME.stderr` are the texts, `NAME.show()`
//! shows every output again, in order (rich ones through `paralelo::display`). An error
//! still ends the cell and is shown.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::Call;
use crate::output::{CellError, CellValue, Output, Sink};

/// The type of the NAME variable, defined in the session.
const CAPTURED_IO: &str = r#"mod __paralelo_capture {
    pub enum Piece { Stdout(String), Stderr(String), Display(Vec<(String, String)>) }
    pub struct CapturedIo { pub stdout: String, pub stderr: String, pub outputs: Vec<Piece> }
    impl CapturedIo {
        pub fn new(outputs: Vec<Piece>) -> CapturedIo {
            let (mut stdout, mut stderr) = (String::new(), String::new());
            for piece in &outputs {
                match piece {
                    Piece::Stdout(text) => stdout.push_str(text),
                    Piece::Stderr(text) => stderr.push_str(text),
                    Piece::Display(_) => {}
                }
            }
            CapturedIo { stdout, stderr, outputs }
        }
        /// Shows the captured outputs again, in order.
        pub fn show(&self) {
            use std::io::Write;
            for piece in &self.outputs {
                match piece {
                    Piece::Stdout(text) => {
                        print!("{text}");
                        let _ = std::io::stdout().flush();
                    }
                    Piece::Stderr(text) => eprint!("{text}"),
                    Piece::Display(bundle) => {
                        let bundle: Vec<(&str, &str)> =
                            bundle.iter().map(|(m, c)| (m.as_str(), c.as_str())).collect();
                        paralelo::display::display_mime(&bundle);
                    }
                }
            }
        }
    }
    impl std::fmt::Debug for CapturedIo {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let rich = self.outputs.iter().filter(|p| matches!(p, Piece::Display(_))).count();
            write!(f, "CapturedIo {{ stdout: {} bytes, stderr: {} bytes, outputs: {rich} }}",
                self.stdout.len(), self.stderr.len())
        }
    }
}"#;

/// What `%%capture` keeps.
#[derive(Debug, Default, Clone, Copy)]
struct Keep {
    stdout: bool,
    stderr: bool,
    display: bool,
}

pub(super) fn capture(call: &mut Call<'_>) -> Result<CellValue, CellError> {
    let mut keep = Keep {
        stdout: true,
        stderr: true,
        display: true,
    };
    let mut name = None;
    for arg in call.args.split_whitespace() {
        match arg {
            "--no-stdout" => keep.stdout = false,
            "--no-stderr" => keep.stderr = false,
            "--no-display" => keep.display = false,
            option if option.starts_with('-') => {
                return Err(call.usage_error(format!("%%capture: unknown option {option}")));
            }
            _ if name.is_some() => {
                return Err(call.usage_error("%%capture takes one NAME"));
            }
            word => {
                let valid = word
                    .chars()
                    .next()
                    .is_some_and(|c| c == '_' || c.is_alphabetic())
                    && word.chars().all(|c| c == '_' || c.is_alphanumeric());
                if !valid {
                    return Err(call.usage_error(format!("%%capture: {word:?} is not a name")));
                }
                name = Some(word.to_owned());
            }
        }
    }
    let kept: Arc<Mutex<Vec<Output>>> = Arc::default();
    let store = kept.clone();
    let shown = call.sink.clone();
    let sink: Sink = Arc::new(move |output: Output| {
        let captured = match &output {
            Output::Stdout(_) => keep.stdout,
            Output::Stderr(_) => keep.stderr,
            Output::Display { .. } | Output::Clear { .. } => keep.display,
            Output::Page { .. } => false,
        };
        if captured {
            store.lock().unwrap_or_else(|e| e.into_inner()).push(output);
        } else {
            shown(output);
        }
    });
    let result = super::run_pieces(call.engine, call.body, sink, call.input);
    let mut outputs = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
    if let Ok(value) = &result
        && !value.is_empty()
        && keep.display
    {
        outputs.push(Output::Display {
            data: value.clone(),
            display_id: None,
            update: false,
        });
    }
    if let Some(name) = name {
        let code = format!(
            "{CAPTURED_IO}\nlet {name}: __paralelo_capture::CapturedIo = \
             __paralelo_capture::CapturedIo::new(vec![{}]);",
            pieces(&outputs)
        );
        let quiet: Sink = Arc::new(|_| {});
        call.engine.execute(&code, quiet, &|_, _| String::new())?;
    }
    result.map(|_| CellValue::new())
}

/// The captured outputs as Rust expressions of `__paralelo_capture::Piece`.
fn pieces(outputs: &[Output]) -> String {
    let mut out = Vec::new();
    for output in outputs {
        match output {
            Output::Stdout(text) => out.push(format!(
                "__paralelo_capture::Piece::Stdout({text:?}.to_owned())"
            )),
            Output::Stderr(text) => out.push(format!(
                "__paralelo_capture::Piece::Stderr({text:?}.to_owned())"
            )),
            Output::Display { data, .. } => {
                let bundle: Vec<String> = data
                    .iter()
                    .map(|(mime, content)| {
                        let content = match content {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        format!("({mime:?}.to_owned(), {content:?}.to_owned())")
                    })
                    .collect();
                out.push(format!(
                    "__paralelo_capture::Piece::Display(vec![{}])",
                    bundle.join(", ")
                ));
            }
            Output::Clear { .. } | Output::Page { .. } => {}
        }
    }
    out.join(",\n")
}
