//! `Progress`: an iterator that counts its items and shows how far it got.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::render::Snapshot;
use crate::display::{DisplayHandle, Frontend, display_mime};

/// How often a bar is redrawn, at most: 10 times a second.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// An iterator with a progress bar, made by [`progress`](super::progress) or
/// [`.progress()`](super::ProgressIterator::progress): it yields its inner iterator's items
/// unchanged.
///
/// The bar appears with the first item asked for and shows its final state when the inner
/// iterator ends or the `Progress` is dropped (a `break` out of the loop shows how far it
/// got). See the [module docs](crate::progress) for where it is drawn.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
///
/// let primeros: Vec<u32> = progress(1..=1_000u32).desc("números").take(3).collect();
/// assert_eq!(primeros, [1, 2, 3]);
/// ```
pub struct Progress<I> {
    inner: I,
    desc: Option<String>,
    total: Option<u64>,
    done: u64,
    /// The clock is read when `done` reaches this (items between readings adapt to the rate).
    next_check: u64,
    /// Items between two readings of the clock, and when and at what count it was last read.
    stride: u64,
    last_check: Option<(Instant, u64)>,
    state: State,
}

enum State {
    NotStarted,
    Running {
        started: Instant,
        last_draw: Instant,
        sink: Sink,
    },
    Finished,
}

/// Where the bar is drawn.
enum Sink {
    /// A cell output replaced in place (`paralelo-kernel`).
    Live(DisplayHandle),
    /// A line of a terminal, redrawn by indicatif.
    Terminal(indicatif::ProgressBar),
    /// Nothing until the end; then the final state once, as a notebook output.
    FinalDisplay,
    /// Nothing until the end; then the final state once, as a line on standard error.
    FinalLine,
}

impl<I: Iterator> Progress<I> {
    pub(super) fn new(inner: I) -> Self {
        let total = match inner.size_hint() {
            (low, Some(high)) if low == high => Some(low as u64),
            _ => None,
        };
        Progress {
            inner,
            desc: None,
            total,
            done: 0,
            next_check: 0,
            stride: 1,
            last_check: None,
            state: State::NotStarted,
        }
    }
}

impl<I> Progress<I> {
    /// The number of items expected (tqdm's `total=`), for iterators that do not know it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let n = progress((0..).take_while(|&x| x < 50)).total(50).count();
    /// assert_eq!(n, 50);
    /// ```
    pub fn total(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }

    /// A label shown before the bar (tqdm's `desc=`).
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// assert_eq!(progress([1, 2]).desc("pares").sum::<i32>(), 3);
    /// ```
    pub fn desc(mut self, desc: impl Into<String>) -> Self {
        self.desc = Some(desc.into());
        self
    }

    /// How many items have been yielded so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// let mut p = progress(0..10);
    /// p.next();
    /// p.next();
    /// assert_eq!(p.count_so_far(), 2);
    /// ```
    pub fn count_so_far(&self) -> u64 {
        self.done
    }

    fn snapshot(&self, elapsed: Duration) -> Snapshot<'_> {
        Snapshot {
            desc: self.desc.as_deref(),
            done: self.done,
            total: self.total,
            elapsed,
        }
    }

    fn start(&mut self) {
        let now = Instant::now();
        let sink = choose_sink();
        let snapshot = self.snapshot(Duration::ZERO);
        let sink = match sink {
            SinkKind::Live => Sink::Live(display_mime(&[
                ("text/plain", &snapshot.text()),
                ("text/html", &snapshot.html()),
            ])),
            SinkKind::Terminal => Sink::Terminal(terminal_bar(self.total, self.desc.as_deref())),
            SinkKind::FinalDisplay => Sink::FinalDisplay,
            SinkKind::FinalLine => Sink::FinalLine,
        };
        self.state = State::Running {
            started: now,
            last_draw: now,
            sink,
        };
        self.next_check = 1;
    }

    /// Reads the clock; redraws when the last drawing is [`REDRAW_EVERY`] old; decides
    /// after how many more items to read the clock again (about twice per redraw).
    #[cold]
    fn check(&mut self) {
        let State::Running {
            started, last_draw, ..
        } = &self.state
        else {
            return;
        };
        let (started, last_draw) = (*started, *last_draw);
        let now = Instant::now();
        let elapsed = now - started;
        // The rate since the last reading sets the next stride, which at most doubles at a
        // time: the first items (often faster or slower than the rest) cannot set a stride
        // so long that the bar stops moving.
        let (since, from) = self.last_check.unwrap_or((started, 0));
        let seconds = (now - since).as_secs_f64();
        let wanted = if seconds > 0.0 {
            ((self.done - from) as f64 / seconds * REDRAW_EVERY.as_secs_f64() / 2.0) as u64
        } else {
            u64::MAX
        };
        self.stride = wanted.clamp(1, self.stride.saturating_mul(2).min(1 << 20));
        self.last_check = Some((now, self.done));
        self.next_check = self.done + self.stride;
        if now - last_draw >= REDRAW_EVERY {
            self.draw(elapsed);
            if let State::Running { last_draw, .. } = &mut self.state {
                *last_draw = now;
            }
        }
    }

    fn draw(&self, elapsed: Duration) {
        let State::Running { sink, .. } = &self.state else {
            return;
        };
        let snapshot = self.snapshot(elapsed);
        match sink {
            Sink::Live(handle) => handle.update_mime(&[
                ("text/plain", &snapshot.text()),
                ("text/html", &snapshot.html()),
            ]),
            Sink::Terminal(bar) => bar.set_position(self.done),
            Sink::FinalDisplay | Sink::FinalLine => {}
        }
    }

    /// Shows the final state (once) and stops.
    fn finish(&mut self) {
        let State::Running { started, sink, .. } =
            std::mem::replace(&mut self.state, State::Finished)
        else {
            return;
        };
        let elapsed = started.elapsed();
        let snapshot = self.snapshot(elapsed);
        match sink {
            Sink::Live(handle) => handle.update_mime(&[
                ("text/plain", &snapshot.text()),
                ("text/html", &snapshot.html()),
            ]),
            Sink::Terminal(bar) => {
                bar.set_position(self.done);
                bar.abandon();
            }
            Sink::FinalDisplay => {
                display_mime(&[
                    ("text/plain", &snapshot.text()),
                    ("text/html", &snapshot.html()),
                ]);
            }
            Sink::FinalLine => eprintln!("{}", snapshot.text()),
        }
    }
}

impl<I: Iterator> Iterator for Progress<I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        if let State::NotStarted = self.state {
            self.start();
        }
        match self.inner.next() {
            Some(item) => {
                self.done += 1;
                if self.done >= self.next_check {
                    self.check();
                }
                Some(item)
            }
            None => {
                self.finish();
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<I> Drop for Progress<I> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<I> std::fmt::Debug for Progress<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("desc", &self.desc)
            .field("done", &self.done)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

enum SinkKind {
    Live,
    Terminal,
    FinalDisplay,
    FinalLine,
}

/// Where to draw, by the display's frontend: under `paralelo-kernel` outputs can be replaced
/// in place; stock evcxr cannot replace an output (the final state only); a terminal on
/// standard error gets a redrawn line; anything else, one line at the end.
fn choose_sink() -> SinkKind {
    match crate::display::frontend() {
        Frontend::Kernel => SinkKind::Live,
        Frontend::Evcxr => SinkKind::FinalDisplay,
        Frontend::Terminal if std::io::stderr().is_terminal() => SinkKind::Terminal,
        Frontend::Terminal => SinkKind::FinalLine,
    }
}

fn terminal_bar(total: Option<u64>, desc: Option<&str>) -> indicatif::ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            indicatif::ProgressBar::new(total),
            "{prefix}{percent:>3}%|{wide_bar}| {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}]",
        ),
        None => (
            indicatif::ProgressBar::no_length(),
            "{prefix}{pos}it [{elapsed_precise}, {per_sec}]",
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
    }
    if let Some(desc) = desc {
        bar.set_prefix(format!("{desc}: "));
    }
    bar
}
