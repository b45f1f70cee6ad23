//! The evaluation engine: one `evcxr::CommandContext` with `paralelo` preloaded.
//!
//! The engine owns the evcxr context and two forwarder threads that turn the evaluation
//! child's stdout and stderr into [`Output`]s, delivered to whoever executes the current cell
//! (the Jupyter server or the headless runner). Display markers printed by
//! `paralelo::display` become [`Output::Display`] and [`Output::Clear`].
//!
//! Warm starts come from a persistent evcxr work directory (its `target/` keeps `paralelo`
//! and its dependencies built): see `cache::prepare_environment`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Map, Value};

use crate::panics::{CellPanic, PanicFilter};

mod compile_error;
mod source;

pub(crate) use source::CellSource;

use crate::output::{CellError, CellValue, DISPLAY_MARKER, Output, Sink};

/// Settings read from the environment at start.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    /// Path of the `paralelo` crate to preload; `None` disables preloading.
    pub(crate) paralelo_path: Option<PathBuf>,
    /// evcxr optimisation level for cells and dependencies.
    pub(crate) opt_level: String,
}

impl EngineConfig {
    /// Reads `PARALELO_PATH` (empty or `none` disables the preload) and `PARALELO_OPT_LEVEL`.
    pub(crate) fn from_env() -> EngineConfig {
        let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paralelo_path = match std::env::var_os("PARALELO_PATH") {
            Some(p) if p.is_empty() || p == "none" => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(default),
        };
        let opt_level = std::env::var("PARALELO_OPT_LEVEL").unwrap_or_else(|_| "1".to_owned());
        EngineConfig {
            paralelo_path,
            opt_level,
        }
    }
}

struct Inner {
    sink: Option<Sink>,
    /// Only for stderr: turns the cell's panic into its error.
    filter: Option<PanicFilter>,
}

impl Inner {
    fn deliver(&mut self, output: Output) {
        match &self.sink {
            Some(sink) => sink(output),
            None => log_stray(&output),
        }
    }
}

struct Forwarder {
    inner: Arc<Mutex<Inner>>,
}

impl Forwarder {
    /// Forwards lines from `rx` to the current sink, holding the lock while a line is in
    /// flight so that [`Engine::finish_outputs`] can wait for the last one.
    fn spawn(rx: crossbeam_channel::Receiver<String>, is_stdout: bool) -> Forwarder {
        let inner = Arc::new(Mutex::new(Inner {
            sink: None,
            filter: (!is_stdout).then(PanicFilter::default),
        }));
        let shared = inner.clone();
        std::thread::Builder::new()
            .name(if is_stdout { "stdout" } else { "stderr" }.into())
            .spawn(move || {
                loop {
                    let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
                    match rx.recv_timeout(Duration::from_millis(5)) {
                        Ok(line) => match guard.filter.as_mut() {
                            None => guard.deliver(parse_stdout_line(line)),
                            Some(filter) => {
                                for shown in filter.line(&line) {
                                    guard.deliver(Output::Stderr(format!("{shown}\n")));
                                }
                            }
                        },
                        Err(e) if e.is_disconnected() => return,
                        Err(_) => {}
                    }
                    drop(guard);
                }
            })
            .expect("spawning an output thread");
        Forwarder { inner }
    }

    fn start(&self, sink: Sink) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sink = Some(sink);
    }

    /// Whether a panic's message has been read whole.
    fn has_panic_message(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .filter
            .as_ref()
            .is_some_and(PanicFilter::has_panic_message)
    }

    /// Flushes pending lines, detaches the sink and returns the cell's panic, if it
    /// `panicked`.
    fn finish(&self, panicked: bool) -> Option<CellPanic> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut panic = None;
        if let Some(filter) = inner.filter.as_mut() {
            let (lines, cell_panic) = filter.finish(panicked);
            panic = cell_panic;
            for line in lines {
                inner.deliver(Output::Stderr(format!("{line}\n")));
            }
        }
        inner.sink = None;
        panic
    }
}

fn log_stray(output: &Output) {
    match output {
        Output::Stdout(s) | Output::Stderr(s) => eprint!("{s}"),
        other => eprintln!("paralelo-kernel: output outside a cell dropped: {other:?}"),
    }
}

/// Turns one stdout line into an output: a display marker or plain text.
pub(crate) fn parse_stdout_line(line: String) -> Output {
    if let Some(json) = line.strip_prefix(DISPLAY_MARKER)
        && let Ok(Value::Object(marker)) = serde_json::from_str::<Value>(json)
    {
        let op = marker.get("op").and_then(Value::as_str).unwrap_or("");
        let display_id = marker
            .get("display_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let data = marker
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match op {
            "display" | "update" => {
                return Output::Display {
                    data,
                    display_id,
                    update: op == "update",
                };
            }
            "clear" => {
                return Output::Clear {
                    wait: marker.get("wait").and_then(Value::as_bool).unwrap_or(false),
                };
            }
            _ => {}
        }
    }
    Output::Stdout(format!("{line}\n"))
}

/// Asks the user for a line of input (`prompt`, `password`) on behalf of a running cell.
pub(crate) type InputReader<'a> = &'a dyn Fn(&str, bool) -> String;

/// An evcxr context with `paralelo` loaded.
pub(crate) struct Engine {
    ctx: evcxr::CommandContext,
    stdout: Forwarder,
    stderr: Forwarder,
    stderr_probe: crossbeam_channel::Receiver<String>,
    /// Wall time spent creating the context and preloading.
    pub(crate) startup: Duration,
    /// Set when the preload failed: the message explains why (cells still run).
    pub(crate) preload_error: Option<String>,
    /// Time evcxr spent compiling the last executed code.
    pub(crate) last_compile: Duration,
    /// Whether cells get [`INTERRUPT_HOOK`] (paralelo is loaded).
    interrupt_hook: bool,
    /// The session's inputs (`%history`, `history_request`).
    pub(crate) history: crate::history::History,
    /// The number the next recorded input gets; `None`: do not record it (Jupyter's
    /// `store_history: false`). Reset to the next number after each record.
    pub(crate) next_input: Option<u64>,
    /// Environment changes made with `%env`, for the shell commands the kernel starts.
    pub(crate) env_changes: std::collections::BTreeMap<String, String>,
    /// The previous working directory, for `%cd -`.
    pub(crate) previous_dir: Option<PathBuf>,
    /// The process group a magic runs in the foreground, so an interrupt reaches it.
    pub(crate) foreground: Arc<Mutex<Foreground>>,
}

/// A magic's foreground process group (a shell command, an MPI program and its build).
#[derive(Debug, Default)]
pub(crate) struct Foreground {
    /// The group the kernel's interrupt sends `SIGINT` to.
    pub(crate) group: Option<i32>,
    /// Set by the interrupt, so the magic reports the stop as an interrupt.
    pub(crate) interrupted: bool,
}

/// Run at the start of every cell: makes `SIGINT` (the kernel's interrupt) stop `paralelo`'s
/// parallel work between tasks instead of killing the evaluation process.
///
/// Every cell is its own shared library with its own copy of `paralelo`'s statics (evcxr
/// links dependencies statically), so each cell installs the handler for its copy.
const INTERRUPT_HOOK: &str = "let _ = paralelo::interrupt::on_sigint();";

/// Defined in every session (an evcxr item, so part of every cell's crate): gives each `Debug`
/// value the `evcxr_display` method evcxr tries first for a cell's value.
///
/// evcxr compiles a cell that ends in an expression with `(value).evcxr_display()` and, when
/// that does not compile, again with `Debug` formatting: two compiles for most values. With
/// this trait the first compile succeeds and prints what the second would (`text/plain`, the
/// `Debug` text), so a cell costs one compile. Inherent `evcxr_display` methods (the timing
/// tables' HTML) still win, as Rust prefers inherent methods. It lives in the session, not
/// in `paralelo`: a trait that exists but is not imported makes rustc's error one evcxr does
/// not fall back from. A `()` value (a cell ending in a `for` loop or a `println!` without
/// `;`) shows nothing, as IPython shows nothing for `None`.
const DEBUG_VALUE_TRAIT: &str = "trait __ParaleloDebugValue { fn evcxr_display(&self); }\n\
impl<T: std::fmt::Debug + ?Sized> __ParaleloDebugValue for T {\n\
    fn evcxr_display(&self) {\n\
        use std::io::Write;\n\
        if std::any::type_name::<T>() == \"()\" { return; }\n\
        let text = format!(\"EVCXR_BEGIN_CONTENT text/plain\\n{self:?}\\nEVCXR_END_CONTENT\\n\");\n\
        let mut out = std::io::stdout().lock();\n\
        let _ = out.write_all(text.as_bytes());\n\
        let _ = out.flush();\n\
    }\n\
}\n";

/// Inserts [`INTERRUPT_HOOK`] before the first line of Rust code (after evcxr commands,
/// blank lines and comments); command-only cells are left alone.
fn with_interrupt_hook(source: &mut CellSource) {
    let first_code_line = source.code().lines().position(|line| {
        let trimmed = line.trim_start();
        !(trimmed.is_empty() || trimmed.starts_with(':') || trimmed.starts_with("//"))
    });
    if let Some(index) = first_code_line {
        source.insert_generated_line(index, INTERRUPT_HOOK);
    }
}

impl Engine {
    /// Starts evcxr's child process and preloads `paralelo` as configured.
    ///
    /// # Errors
    ///
    /// When evcxr cannot start (no cargo/rustc, unwritable work directory).
    pub(crate) fn start(config: &EngineConfig) -> Result<Engine> {
        let started = Instant::now();
        // No warm-up evaluation (see vendor/evcxr/PATCHES.md): the setup cell below is the
        // first code evaluated, before any completion or hover request can arrive.
        let (ctx, outputs) = evcxr::CommandContext::new_without_warm_up()
            .map_err(|e| anyhow::anyhow!("evcxr could not start: {e}"))?;
        if std::env::var_os("PARALELO_KERNEL_TRACE").is_some() {
            eprintln!(
                "trace: evcxr context in {:.2}s",
                started.elapsed().as_secs_f64()
            );
        }
        let stderr_probe = outputs.stderr.clone();
        let stdout = Forwarder::spawn(outputs.stdout, true);
        let stderr = Forwarder::spawn(outputs.stderr, false);
        let mut setup = format!(":opt {}\n", config.opt_level);
        if let Some(path) = &config.paralelo_path {
            let path = path.canonicalize().unwrap_or_else(|_| path.clone());
            let path = path
                .display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            // `plot`: `TimingTable::plot()` shows as SVG in notebooks (plotters, pure Rust).
            setup.push_str(&format!(
                ":dep paralelo = {{ path = \"{path}\", features = [\"plot\"] }}\nuse paralelo::prelude::*;\n"
            ));
        }
        // evcxr's `:` commands must come before any code.
        setup.push_str(DEBUG_VALUE_TRAIT);
        let mut engine = Engine {
            ctx,
            stdout,
            stderr,
            stderr_probe,
            startup: Duration::ZERO,
            preload_error: None,
            last_compile: Duration::ZERO,
            interrupt_hook: false,
            history: crate::history::History::default(),
            next_input: Some(1),
            env_changes: std::collections::BTreeMap::new(),
            previous_dir: None,
            foreground: Arc::default(),
        };
        let errors = Arc::new(Mutex::new(String::new()));
        let collect = errors.clone();
        let sink: Sink = Arc::new(move |o| {
            if let Output::Stderr(s) | Output::Stdout(s) = o {
                collect
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&s);
            }
        });
        if let Err(e) = engine.execute(&setup, sink, &|_, _| String::new()) {
            let printed = errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
            engine.preload_error = Some(format!(
                "paralelo could not be preloaded from {:?}: {}\n{}{}",
                config.paralelo_path,
                e.evalue,
                e.traceback.join("\n"),
                printed
            ));
        }
        engine.interrupt_hook = config.paralelo_path.is_some() && engine.preload_error.is_none();
        engine.startup = started.elapsed();
        Ok(engine)
    }

    /// Runs `code` (Rust and evcxr `:` commands), streaming outputs to `sink`.
    ///
    /// Returns the cell's value (mime bundle, possibly empty) or its error.
    pub(crate) fn execute(
        &mut self,
        code: &str,
        sink: Sink,
        input: InputReader<'_>,
    ) -> Result<CellValue, CellError> {
        self.execute_source(CellSource::plain(code), sink, input)
    }

    /// [`Engine::execute`] for code the kernel built around the user's (a magic's wrapper):
    /// compile errors point at the user's lines.
    pub(crate) fn execute_source(
        &mut self,
        mut source: CellSource,
        sink: Sink,
        input: InputReader<'_>,
    ) -> Result<CellValue, CellError> {
        self.stdout.start(sink.clone());
        self.stderr.start(sink);
        let mut callbacks = evcxr::EvalCallbacks {
            input_reader: &|req| input(&req.prompt, req.is_password),
        };
        let started = Instant::now();
        if self.interrupt_hook {
            with_interrupt_hook(&mut source);
        }
        let result = self
            .ctx
            .execute_with_callbacks(source.code(), &mut callbacks);
        let panicked = result.as_ref().is_ok_and(|o| o.panicked);
        let panic = self.finish_outputs(panicked);
        self.last_compile = Duration::ZERO;
        match result {
            Ok(outputs) => {
                if std::env::var_os("PARALELO_KERNEL_TRACE").is_some() {
                    let phases: Vec<String> = outputs
                        .phases
                        .iter()
                        .map(|p| format!("{} {:.2}s", p.name, p.duration.as_secs_f64()))
                        .collect();
                    eprintln!(
                        "trace: {:.2}s total: {}",
                        started.elapsed().as_secs_f64(),
                        phases.join(", ")
                    );
                }
                let run: Duration = outputs
                    .phases
                    .iter()
                    .filter(|p| p.name == "Execution")
                    .map(|p| p.duration)
                    .sum();
                self.last_compile = started.elapsed().saturating_sub(run);
                if let Some(panic) = panic {
                    return Err(panic_error(panic, &source));
                }
                if panicked {
                    // A panic hook that printed nothing we could read.
                    return Err(CellError::new(
                        "Panic",
                        "the cell panicked (its message was not printed on stderr)",
                    ));
                }
                if let Some(text) = outputs.question_mark_error {
                    // As a failing cell in IPython: one `error` (nothing on stderr), so
                    // nbclient, papermill and the runner see that the cell did not finish.
                    return Err(question_mark_error(&text));
                }
                let mut value = Map::new();
                let mut mimes: Vec<_> = outputs.content_by_mime_type.into_iter().collect();
                mimes.sort();
                for (mime, content) in mimes {
                    value.insert(mime, Value::String(content));
                }
                Ok(value)
            }
            Err(e) => Err(convert_error(e, &source)),
        }
    }

    /// Records `cell` as the next input of the history, unless told not to (see
    /// [`Engine::next_input`]).
    pub(crate) fn record_input(&mut self, cell: &str) {
        if let Some(count) = self.next_input {
            self.history.push(count, cell);
            self.next_input = Some(count + 1);
        }
    }

    /// The session's variables and their types, as evcxr knows them, sorted by name; the
    /// kernel's own (`__paralelo…`) are left out.
    pub(crate) fn variables(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = self
            .ctx
            .variables_and_types()
            .filter(|(name, _)| !name.starts_with("__paralelo"))
            .map(|(name, ty)| (name.to_owned(), ty.to_owned()))
            .collect();
        vars.sort();
        vars
    }

    /// The evaluation process's id.
    pub(crate) fn child_pid(&self) -> u32 {
        self.ctx
            .process_handle()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .id()
    }

    /// Waits until the child's last output line has reached the sink, then detaches it;
    /// returns the cell's panic, if it panicked. When evcxr says the cell `panicked`, its
    /// message may still be on its way (stderr is read by another thread): wait for it.
    fn finish_outputs(&mut self, panicked: bool) -> Option<CellPanic> {
        // evcxr waits for stdout to drain; stderr is read by another thread, so give it a
        // moment to arrive and drain.
        std::thread::sleep(Duration::from_millis(2));
        let deadline = Instant::now() + Duration::from_millis(200);
        while !self.stderr_probe.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if panicked {
            // The hook prints the message first, then the backtrace (evcxr sets
            // RUST_BACKTRACE=1), which is not waited for (see `panics`).
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.stderr.has_panic_message() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.stdout.finish(false);
        self.stderr.finish(panicked)
    }

    /// Completions at byte offset `pos` of `code`: (matches, cursor_start, cursor_end).
    pub(crate) fn complete(&mut self, code: &str, pos: usize) -> (Vec<String>, usize, usize) {
        match self.ctx.completions(code, pos) {
            Ok(c) => {
                let mut matches: Vec<String> = c.completions.into_iter().map(|c| c.code).collect();
                matches.dedup();
                (matches, c.start_offset, c.end_offset)
            }
            Err(_) => (Vec::new(), pos, pos),
        }
    }

    /// Documentation for the expression ending at `pos`: (plain text, html), if any.
    pub(crate) fn inspect(&mut self, code: &str, pos: usize) -> Option<(String, String)> {
        let (plain, html) = self.ctx.hover_at(code, pos).ok()?;
        if plain == "No documentation found" || plain.is_empty() {
            None
        } else {
            Some((plain, html))
        }
    }

    /// The evaluation child process (to kill it on interrupt).
    pub(crate) fn process_handle(&self) -> Arc<Mutex<std::process::Child>> {
        self.ctx.process_handle()
    }
}

/// The error a `?` returned, as its cell's error: `evalue` is its text (all of it, as
/// IPython's `str(exception)`), the traceback its lines.
fn question_mark_error(text: &str) -> CellError {
    let text = text.trim_end();
    if text.is_empty() {
        return CellError::new("Error", "a `?` in the cell returned an error");
    }
    let mut error = CellError::new("Error", text);
    error.traceback = std::iter::once(format!("Error: {}", text.lines().next().unwrap_or("")))
        .chain(text.lines().skip(1).map(str::to_owned))
        .collect();
    error
}

/// The cell's error for its panic: the message, and where in the cell it happened.
fn panic_error(panic: CellPanic, source: &CellSource) -> CellError {
    let location = panic.location.as_deref().map(|l| cell_location(l, source));
    let traceback = match &location {
        Some(place) => format!("The cell panicked at {place}:\n{}", panic.message),
        None => format!("The cell panicked: {}", panic.message),
    };
    CellError {
        ename: "Panic".into(),
        evalue: panic.message,
        traceback: vec![traceback],
    }
}

/// `cell:LINE:COLUMN` for a location in evcxr's generated crate (`src/lib.rs:22:5`) on a
/// line of the cell; the line's text when it is code of an earlier cell (an item defined
/// there); other locations (a dependency's file) as they are.
fn cell_location(location: &str, source: &CellSource) -> String {
    let mut parts = location.rsplitn(3, ':');
    let (Some(column), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return location.to_owned();
    };
    let (Ok(line), Ok(column)) = (line.parse::<usize>(), column.parse::<usize>()) else {
        return location.to_owned();
    };
    if file != "src/lib.rs" {
        return location.to_owned();
    }
    let Some(dir) = std::env::var_os("EVCXR_TMPDIR") else {
        return location.to_owned();
    };
    let generated = std::fs::read_to_string(Path::new(&dir).join("src").join("lib.rs"));
    let Some(text) = generated
        .ok()
        .and_then(|g| g.lines().nth(line.saturating_sub(1)).map(str::to_owned))
    else {
        return location.to_owned();
    };
    let found = source
        .code()
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == text)
        .find_map(|(i, _)| source.user_position(i + 1, column));
    match found {
        Some((line, column)) => format!("cell:{line}:{column}"),
        None => format!("`{}` (code of an earlier cell)", text.trim()),
    }
}

fn convert_error(error: evcxr::Error, source: &CellSource) -> CellError {
    match error {
        evcxr::Error::CompilationErrors(errors) => {
            let mut traceback = Vec::new();
            let mut first = None;
            for e in &errors {
                if first.is_none() {
                    first = Some(e.message());
                }
                traceback.push(compile_error::render(e, source));
            }
            CellError {
                ename: "CompilationError".into(),
                evalue: first.unwrap_or_else(|| "compilation failed".into()),
                traceback,
            }
        }
        evcxr::Error::SubprocessTerminated(message) => CellError::new(
            "RuntimeRestarted",
            format!(
                "{}\nThe Rust runtime stopped and was restarted: variables were lost; \
                 paralelo and `use` items are still loaded.",
                message.trim_end()
            ),
        ),
        evcxr::Error::TypeRedefinedVariablesLost(vars) => CellError::new(
            "VariablesLost",
            format!(
                "a type redefinition lost these variables: {}",
                vars.join(", ")
            ),
        ),
        evcxr::Error::Message(message) => {
            let ename = if message.contains("panicked") || message.contains("Panic") {
                "Panic"
            } else {
                "Error"
            };
            CellError::new(ename, message.trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interrupt_hook_goes_before_the_first_code_line() {
        let hooked = |code: &str| {
            let mut source = CellSource::plain(code);
            with_interrupt_hook(&mut source);
            source.code().to_owned()
        };
        assert_eq!(hooked(":vars\n"), ":vars\n");
        assert_eq!(
            hooked(":dep x\n// c\nlet a = 1;\na"),
            format!(":dep x\n// c\n{INTERRUPT_HOOK}\nlet a = 1;\na")
        );
    }

    #[test]
    fn display_markers_become_outputs() {
        let line = format!(
            "{DISPLAY_MARKER}{{\"op\":\"update\",\"display_id\":\"a\",\"data\":{{\"text/plain\":\"1\"}}}}"
        );
        match parse_stdout_line(line) {
            Output::Display {
                display_id,
                update,
                data,
            } => {
                assert_eq!(display_id.as_deref(), Some("a"));
                assert!(update);
                assert_eq!(data["text/plain"], "1");
            }
            other => panic!("{other:?}"),
        }
        let clear = format!("{DISPLAY_MARKER}{{\"op\":\"clear\",\"wait\":true}}");
        assert_eq!(parse_stdout_line(clear), Output::Clear { wait: true });
        assert_eq!(
            parse_stdout_line("plain".into()),
            Output::Stdout("plain\n".into())
        );
    }
}
