//! What a progress bar shows, as tqdm writes it: `desc:  42%|██████▎        | 20/48
//! [00:01<00:01, 18.52it/s]`, as text and as HTML.

use std::time::Duration;

/// The state of a bar at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot<'a> {
    pub(super) desc: Option<&'a str>,
    pub(super) done: u64,
    pub(super) total: Option<u64>,
    pub(super) elapsed: Duration,
}

/// Columns of the text bar.
const WIDTH: usize = 25;

impl Snapshot<'_> {
    fn fraction(&self) -> Option<f64> {
        let total = self.total?;
        Some(if total == 0 {
            1.0
        } else {
            (self.done as f64 / total as f64).clamp(0.0, 1.0)
        })
    }

    /// Items per second so far.
    fn rate(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.0 && self.done > 0).then(|| self.done as f64 / secs)
    }

    /// `[00:01<00:01, 18.52it/s]`, tqdm's times and rate (`?` while unknown).
    fn times(&self) -> String {
        let rate = self.rate();
        let rate_text = match rate {
            Some(r) if r >= 1.0 => format!("{r:.2}it/s"),
            Some(r) => format!("{:.2}s/it", 1.0 / r),
            None => "?it/s".to_owned(),
        };
        match self.total {
            Some(total) => {
                let remaining = match rate {
                    Some(r) => clock(Duration::from_secs_f64(
                        total.saturating_sub(self.done) as f64 / r,
                    )),
                    None => "?".to_owned(),
                };
                format!("[{}<{remaining}, {rate_text}]", clock(self.elapsed))
            }
            None => format!("[{}, {rate_text}]", clock(self.elapsed)),
        }
    }

    fn prefix(&self) -> String {
        self.desc.map_or_else(String::new, |d| format!("{d}: "))
    }

    /// The text bar, one line.
    pub(super) fn text(&self) -> String {
        match self.fraction() {
            Some(f) => format!(
                "{}{:3.0}%|{}| {}/{} {}",
                self.prefix(),
                100.0 * f,
                bar(f),
                self.done,
                self.total.unwrap_or(0),
                self.times()
            ),
            None => format!("{}{}it {}", self.prefix(), self.done, self.times()),
        }
    }

    /// The HTML bar: a `<progress>` element between the description and the figures.
    pub(super) fn html(&self) -> String {
        let figures = match self.fraction() {
            Some(f) => format!(
                "{:3.0}% {}/{} {}",
                100.0 * f,
                self.done,
                self.total.unwrap_or(0),
                self.times()
            ),
            None => format!("{}it {}", self.done, self.times()),
        };
        let meter = match self.total {
            Some(total) => format!(
                "<progress value=\"{}\" max=\"{}\" style=\"width:24em\"></progress>",
                self.done.min(total),
                total.max(1)
            ),
            // Without a total, `<progress>` without a value is the "busy" animation.
            None => "<progress style=\"width:24em\"></progress>".to_owned(),
        };
        format!(
            "<div class=\"paralelo-progress\" style=\"display:flex;align-items:center;\
             gap:0.6em;font-family:monospace\"><span>{}</span>{meter}<span>{}</span></div>",
            escape(self.desc.unwrap_or("")),
            escape(&figures)
        )
    }
}

/// tqdm's `format_interval`: `05:07`, or `1:02:03` from an hour on.
fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    let (minutes, s) = (secs / 60, secs % 60);
    let (h, m) = (minutes / 60, minutes % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A bar of [`WIDTH`] columns, filled to `fraction` in eighths of a block.
fn bar(fraction: f64) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (fraction * (WIDTH * 8) as f64).round() as usize;
    let full = eighths / 8;
    let mut text = "█".repeat(full);
    if full < WIDTH {
        text.push(PARTIAL[eighths % 8]);
        text += &" ".repeat(WIDTH - full - 1);
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(done: u64, total: Option<u64>, secs: f64) -> Snapshot<'static> {
        Snapshot {
            desc: Some("bloques"),
            done,
            total,
            elapsed: Duration::from_secs_f64(secs),
        }
    }

    #[test]
    fn text_is_tqdms_line() {
        assert_eq!(
            at(20, Some(48), 1.08).text(),
            "bloques:  42%|██████████▍              | 20/48 [00:01<00:01, 18.52it/s]"
        );
        assert_eq!(
            at(48, Some(48), 2.5).text(),
            "bloques: 100%|█████████████████████████| 48/48 [00:02<00:00, 19.20it/s]"
        );
        assert_eq!(at(0, Some(10), 0.0).text().matches('?').count(), 2);
        assert_eq!(at(7, None, 2.0).text(), "bloques: 7it [00:02, 3.50it/s]");
        assert_eq!(at(1, None, 4.0).text(), "bloques: 1it [00:04, 4.00s/it]");
    }

    #[test]
    fn bars_have_a_fixed_width() {
        for f in [0.0, 0.01, 0.5, 0.99, 1.0] {
            assert_eq!(bar(f).chars().count(), WIDTH, "{f}");
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_secs(307)), "05:07");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn html_has_a_meter_and_the_figures() {
        let html = at(20, Some(48), 1.08).html();
        assert!(html.contains("<progress value=\"20\" max=\"48\""), "{html}");
        assert!(
            html.contains("42% 20/48 [00:01&lt;00:01, 18.52it/s]"),
            "{html}"
        );
    }
}
