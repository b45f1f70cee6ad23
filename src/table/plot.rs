//! `TimingPlot`: a timing table as a chart — SVG in Jupyter (feature `plot`), text elsewhere.

use std::fmt;
use std::time::Duration;

use super::{Language, TimingTable};
use crate::timing::format_time;

/// A chart of a [`TimingTable`], made by [`TimingTable::plot`]: the wall time of every row
/// (median, with the min–max spread), and, when rows have worker counts, their speedup
/// beside the ideal one (speedup = workers).
///
/// In Jupyter it shows as an SVG image (`image/svg+xml`, drawn with `plotters`) when the
/// crate's `plot` feature is on (the `paralelo-kernel` enables it); everywhere else, and
/// always as `text/plain`, as a text chart of bars.
///
/// # Examples
///
/// ```
/// use paralelo::prelude::*;
/// use std::time::Duration;
///
/// let mut table = TimingTable::new("Speedup");
/// table.row("1 worker").wall(Duration::from_millis(400));
/// table.row("2 workers").workers(2).wall(Duration::from_millis(210));
/// let chart = table.plot();
/// let text = chart.to_string();
/// assert!(text.contains("1.90×") && text.contains("┊"));
/// chart.evcxr_display(); // text/plain (and image/svg+xml with the `plot` feature)
/// ```
#[derive(Clone)]
pub struct TimingPlot {
    title: Option<String>,
    language: Language,
    bars: Vec<Bar>,
}

#[derive(Clone)]
struct Bar {
    name: String,
    workers: usize,
    wall: Duration,
    min: Duration,
    max: Duration,
    speedup: Option<f64>,
    busy: bool,
}

/// Columns of the text chart's longest bar.
const TEXT_WIDTH: usize = 40;

impl TimingTable {
    /// The table as a chart: wall times, and speedups against the ideal line when rows have
    /// worker counts. A cell that ends with `tabla.plot()` shows it.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    /// use std::time::Duration;
    ///
    /// let mut table = TimingTable::new("t");
    /// table.language("es");
    /// table.row("un hilo").wall(Duration::from_secs(1));
    /// assert!(table.plot().to_string().contains("Tiempo real"));
    /// ```
    pub fn plot(&self) -> TimingPlot {
        TimingPlot {
            title: self.title.clone(),
            language: self.language,
            bars: self
                .rows
                .iter()
                .map(|r| Bar {
                    name: r.name.clone(),
                    workers: r.workers,
                    wall: r.wall,
                    min: r.min(),
                    max: r.max(),
                    speedup: self.speedup_of(r),
                    busy: r.busy_share.is_some(),
                })
                .collect(),
        }
    }
}

impl TimingPlot {
    /// Whether the chart has a speedup part: some row ran on more than one worker.
    fn has_workers(&self) -> bool {
        self.bars.iter().any(|b| b.workers > 1)
    }

    /// Shows the chart in Jupyter: `text/plain`, and `image/svg+xml` with the `plot` feature.
    ///
    /// # Examples
    ///
    /// ```
    /// use paralelo::prelude::*;
    ///
    /// TimingTable::new("vacía").plot().evcxr_display();
    /// ```
    pub fn evcxr_display(&self) {
        let text = format!("EVCXR_BEGIN_CONTENT text/plain\n{self}\nEVCXR_END_CONTENT");
        #[cfg(feature = "plot")]
        let text = format!(
            "{text}\nEVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.to_svg()
        );
        println!("{text}");
    }

    fn number(&self, text: String) -> String {
        self.language.number(text)
    }
}

/// The text chart; for [`display`](crate::display::display) it also offers the SVG chart
/// (with the `plot` feature).
impl fmt::Debug for TimingPlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_string();
        #[cfg(feature = "plot")]
        crate::display::offer_mime(&text, &[("image/svg+xml", &self.to_svg())]);
        f.write_str(&text)
    }
}

/// The text chart: one bar per row for the wall time, then (with worker counts) one per
/// row for the speedup, with `┊` where the ideal speedup would end.
impl fmt::Display for TimingPlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.language.words();
        let name_width = self
            .bars
            .iter()
            .map(|b| b.name.chars().count())
            .max()
            .unwrap_or(0);
        let pad = |name: &str| {
            let n = name.chars().count();
            format!("{name}{}", " ".repeat(name_width - n))
        };
        if let Some(title) = &self.title {
            writeln!(f, "{title}")?;
        }
        writeln!(f, "{}", w.wall_chart)?;
        let longest = self.bars.iter().map(|b| b.wall).max().unwrap_or_default();
        for b in &self.bars {
            let bar = blocks(ratio(b.wall.as_secs_f64(), longest.as_secs_f64()));
            let spread = if b.max > b.min {
                format!(
                    " ({} – {})",
                    self.number(format_time(b.min)),
                    self.number(format_time(b.max))
                )
            } else {
                String::new()
            };
            let busy = if b.busy { " !" } else { "" };
            writeln!(
                f,
                "  {} │{bar} {}{spread}{busy}",
                pad(&b.name),
                self.number(format_time(b.wall))
            )?;
        }
        if self.has_workers() {
            writeln!(f, "{} (┊ = {})", w.speedup_chart, w.ideal)?;
            let scale = self
                .bars
                .iter()
                .flat_map(|b| [b.speedup.unwrap_or(0.0), b.workers as f64])
                .fold(1.0, f64::max);
            for b in &self.bars {
                let s = b.speedup.unwrap_or(0.0);
                let mut bar = blocks(ratio(s, scale));
                let ideal = (ratio(b.workers as f64, scale) * TEXT_WIDTH as f64).round() as usize;
                let drawn = bar.chars().count();
                if ideal > drawn {
                    bar += &" ".repeat(ideal - drawn - 1);
                    bar.push('┊');
                }
                writeln!(
                    f,
                    "  {} │{bar} {}",
                    pad(&b.name),
                    self.number(format!("{s:.2}×"))
                )?;
            }
        }
        Ok(())
    }
}

fn ratio(value: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (value / whole).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// A bar of `fraction` × [`TEXT_WIDTH`] columns, in eighths of a block.
fn blocks(fraction: f64) -> String {
    const PARTIAL: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (fraction * TEXT_WIDTH as f64 * 8.0).round() as usize;
    format!("{}{}", "█".repeat(eighths / 8), PARTIAL[eighths % 8])
}

#[cfg(feature = "plot")]
mod svg {
    use plotters::prelude::*;

    use super::TimingPlot;
    use crate::timing::format_time;

    type Fallible = Result<(), Box<dyn std::error::Error>>;

    impl TimingPlot {
        /// The chart as an SVG document (feature `plot`).
        ///
        /// # Examples
        ///
        /// ```
        /// use paralelo::prelude::*;
        /// use std::time::Duration;
        ///
        /// let mut table = TimingTable::new("t");
        /// table.row("1").wall(Duration::from_secs(2));
        /// table.row("2").workers(2).wall(Duration::from_secs(1));
        /// let svg = table.plot().to_svg();
        /// assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
        /// ```
        pub fn to_svg(&self) -> String {
            let speedup = self.has_workers();
            let width = if speedup { 960 } else { 560 };
            let height = (110 + 44 * self.bars.len() as u32).max(300);
            let mut svg = String::new();
            let drawn = {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                self.draw(root, speedup)
            };
            match drawn {
                Ok(()) => svg,
                Err(e) => format!(
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\">\
                     <text x=\"4\" y=\"24\">{}</text></svg>",
                    super::super::render::escape(&e.to_string())
                ),
            }
        }

        fn draw(
            &self,
            root: DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
            speedup: bool,
        ) -> Fallible {
            root.fill(&WHITE)?;
            let root = match &self.title {
                Some(title) => root.titled(title, ("sans-serif", 18))?,
                None => root,
            };
            if speedup {
                let (left, right) = root.split_horizontally(root.dim_in_pixel().0 * 55 / 100);
                self.draw_walls(&left)?;
                self.draw_speedups(&right)?;
            } else {
                self.draw_walls(&root)?;
            }
            root.present()?;
            Ok(())
        }

        /// Horizontal bars of the median wall times, a whisker for min–max, the row's name
        /// above its bar.
        fn draw_walls(
            &self,
            area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        ) -> Fallible {
            let w = self.language.words();
            let n = self.bars.len().max(1) as f64;
            let longest = self
                .bars
                .iter()
                .map(|b| b.max.as_secs_f64())
                .fold(0.0, f64::max)
                .max(1e-9);
            let mut chart = ChartBuilder::on(area)
                .caption(w.wall_chart, ("sans-serif", 15))
                .margin(12)
                .x_label_area_size(28)
                .y_label_area_size(4)
                .build_cartesian_2d(0.0..longest * 1.3, 0.0..n)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .disable_y_axis()
                .x_labels(5)
                .x_label_formatter(&|s| {
                    self.number(format_time(std::time::Duration::from_secs_f64(s.max(0.0))))
                })
                .draw()?;
            for (i, b) in self.bars.iter().enumerate() {
                // Row 0 at the top.
                let top = n - i as f64;
                let color = if b.busy {
                    RGBColor(204, 85, 85)
                } else {
                    RGBColor(70, 120, 180)
                };
                let wall = b.wall.as_secs_f64();
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, top - 0.85), (wall, top - 0.5)],
                    color.filled(),
                )))?;
                let middle = top - 0.675;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(b.min.as_secs_f64(), middle), (b.max.as_secs_f64(), middle)],
                    BLACK.stroke_width(1),
                )))?;
                chart.draw_series(std::iter::once(Text::new(
                    format!("{}{}", b.name, if b.busy { " (!)" } else { "" }),
                    (0.0, top - 0.12),
                    ("sans-serif", 13),
                )))?;
                chart.draw_series(std::iter::once(Text::new(
                    self.number(format_time(b.wall)),
                    (b.max.as_secs_f64().max(wall) + longest * 0.02, top - 0.55),
                    ("sans-serif", 12),
                )))?;
            }
            Ok(())
        }

        /// Speedup against workers: the ideal line (speedup = workers) and a point per row.
        fn draw_speedups(
            &self,
            area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        ) -> Fallible {
            let w = self.language.words();
            let most_workers = self
                .bars
                .iter()
                .map(|b| b.workers)
                .max()
                .unwrap_or(1)
                .max(1) as f64;
            let top = self
                .bars
                .iter()
                .map(|b| b.speedup.unwrap_or(0.0))
                .fold(most_workers, f64::max)
                * 1.15;
            let mut chart = ChartBuilder::on(area)
                .caption(w.speedup_chart, ("sans-serif", 15))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(40)
                .build_cartesian_2d(0.0..most_workers + 0.5, 0.0..top)?;
            chart
                .configure_mesh()
                .x_desc(w.workers)
                .y_desc(w.speedup)
                .x_labels((most_workers as usize + 1).min(12))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| self.number(format!("{y:.1}×")))
                .draw()?;
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (most_workers, most_workers)],
                    RGBColor(150, 150, 150).stroke_width(2),
                ))?
                .label(w.ideal)
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(150, 150, 150))
                });
            for (i, b) in self.bars.iter().enumerate() {
                let Some(s) = b.speedup else { continue };
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (b.workers as f64, s),
                        5,
                        color.filled(),
                    )))?
                    .label(format!("{} — {}", b.name, self.number(format!("{s:.2}×"))))
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 12))
                .draw()?;
            Ok(())
        }
    }
}
