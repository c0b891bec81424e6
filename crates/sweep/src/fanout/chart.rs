//! The fan-out figures' charts: wall time or memory against N, one line per
//! executor, and the phase figures' stacked bars; drawn through
//! [`crate::draw`], which owns the colours, the font and the output.

use super::phases::Phase;
use super::plan::Measure;
use super::results::{FigureResult, HELD_SHARE};
use crate::draw::{Drawing, SIZE, by_language, colour, dashes, legend_heading};
use crate::table::{thousands, trim_number};
use anyhow::anyhow;
use lab::baselines::Language;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One colour per phase, in [`Phase::ALL`]'s order: the waits that only
/// scale with the store (connect, wait) in cool colours, the work on the
/// response in greens, and the runtime's own delay (queue) in red.
const PHASE_PALETTE: [RGBColor; 6] = [
    RGBColor(120, 144, 196),
    RGBColor(200, 200, 200),
    RGBColor(23, 190, 207),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
];

/// The colour of `phase` in every phase figure.
pub fn phase_colour(phase: Phase) -> RGBColor {
    let index = Phase::ALL
        .iter()
        .position(|&p| p == phase)
        .expect("every phase is in Phase::ALL");
    PHASE_PALETTE[index]
}

impl Drawing for FigureResult {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        draw_figure(root, self)
    }
}

/// The y values of every plotted point and bound, for the axis ranges.
fn y_values(figure: &FigureResult) -> impl Iterator<Item = f64> + '_ {
    let measure = figure.figure.measure;
    figure
        .series
        .iter()
        .flat_map(move |s| s.points.iter().filter_map(move |p| p.y(measure)))
        .flat_map(|spread| [spread.min, spread.max])
        .chain(figure.bound.iter().map(|b| b.value))
        .filter(|v| v.is_finite())
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &FigureResult,
) -> anyhow::Result<()> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    root.fill(&WHITE).map_err(fail)?;
    if figure.figure.measure == Measure::Phases {
        return draw_phases(root, figure);
    }
    let max_n = f64::from(*figure.figure.ns.iter().max().unwrap_or(&1));
    let wall = figure.figure.measure == Measure::WallTime;
    // Seconds read better than milliseconds once runs take more than 2 s.
    let y_scale = if wall && y_values(figure).fold(0.0, f64::max) >= 2000.0 {
        1e-3
    } else {
        1.0
    };
    let y_max = y_values(figure).fold(0.0, f64::max) * y_scale;
    let y_label = match (wall, y_scale == 1.0) {
        (true, true) => "wall time (ms)",
        (true, false) => "wall time (s)",
        (false, _) => "peak RSS per extra request in flight (KiB, log)",
    };
    let x_label = if figure.figure.in_flight_axis {
        "requests in flight N (log)"
    } else {
        "feature batches N"
    };
    let footnote = footnote(figure);
    let (plot_area, note_area) = root.split_vertically(SIZE.1 - 40);
    note_area
        .draw(&Text::new(
            footnote,
            (20, 8),
            ("sans-serif", 15).into_font().color(&BLACK.mix(0.75)),
        ))
        .map_err(fail)?;
    let axes = Axes {
        x_label,
        y_label,
        y_scale,
    };
    if figure.figure.in_flight_axis {
        let x = (0.7..max_n * 1.4).log_scale();
        if wall {
            draw_chart(&plot_area, figure, &axes, x, 0.0..(y_max * 1.12).max(1.0))
        } else {
            let y_min = y_values(figure)
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            let y_min = if y_min.is_finite() { y_min / 2.0 } else { 0.1 };
            let y = (y_min.max(0.01)..(y_max * 2.0).max(y_min * 10.0)).log_scale();
            draw_chart(&plot_area, figure, &axes, x, y)
        }
    } else {
        let x = 0.0..max_n * 1.05 + 0.5;
        draw_chart(&plot_area, figure, &axes, x, 0.0..(y_max * 1.12).max(1.0))
    }
}

struct Axes {
    x_label: &'static str,
    y_label: &'static str,
    /// Multiplies wall milliseconds into the y axis's unit.
    y_scale: f64,
}

/// Draws the chart on any pair of f64 axes (linear or log).
fn draw_chart<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    figure: &FigureResult,
    axes: &Axes,
    x: X,
    y: Y,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    let caption = format!("{} ({} cores)", figure.figure.title, figure.cores);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .x_label_formatter(&|v| trim_number(*v))
        .y_label_formatter(&|v| trim_number(*v))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(fail)?;

    let measure = figure.figure.measure;
    let scale = if measure == Measure::WallTime {
        axes.y_scale
    } else {
        1.0
    };
    let bound: Vec<(f64, f64)> = figure
        .bound
        .iter()
        .map(|b| (f64::from(b.n), b.value * scale))
        .collect();
    if !bound.is_empty() {
        let style = BLACK.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(bound, 10, 6, style))
            .map_err(fail)?
            .label(figure.bound_label.clone())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (8, 0)], style)
                    + PathElement::new(vec![(12, 0), (20, 0)], style)
            });
    }

    // Grouped by language in the legend, Rust first, each group under its
    // name when the figure has more than one.
    for (opens, series) in by_language(&figure.series, |series| series.executor) {
        let language = Language::of(series.executor);
        if let Some(language) = opens {
            legend_heading(&mut chart, language)?;
        }
        let base = colour(series.executor);
        let style = if series.gil {
            base.mix(0.55).stroke_width(2)
        } else {
            base.stroke_width(3)
        };
        let points: Vec<(f64, f64, f64, f64)> = series
            .points
            .iter()
            .filter_map(|p| {
                p.y(measure).map(|s| {
                    (
                        f64::from(p.n),
                        s.median * scale,
                        s.min * scale,
                        s.max * scale,
                    )
                })
            })
            .collect();
        // Points that did not hold N in flight are drawn hollow.
        let short: Vec<bool> = series
            .points
            .iter()
            .filter(|p| p.y(measure).is_some())
            .map(|p| figure.figure.in_flight_axis && p.short_of_n)
            .collect();
        // A failed point is not drawn: the legend names it instead.
        let label = match &series.stop {
            Some(stop) if stop.failed => {
                format!("{} (failed at N = {})", series.label, thousands(stop.n))
            }
            Some(stop) => format!("{} (stops at N = {})", series.label, thousands(stop.n)),
            None => series.label.clone(),
        };
        let line = points.iter().map(|&(x, y, _, _)| (x, y));
        let drawn = match dashes(language, false) {
            None => chart.draw_series(LineSeries::new(line, style)),
            Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(line, dash, gap, style)),
        };
        let gil = series.gil;
        drawn.map_err(fail)?.label(label).legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (20, 0)], style)
                + marker(language, gil, style, 10, false)
        });
        chart
            .draw_series(points.iter().map(|&(x, median, min, max)| {
                ErrorBar::new_vertical(x, min, median, max, style, 10)
            }))
            .map_err(fail)?;
        chart
            .draw_series(points.iter().zip(&short).map(|(&(x, y, _, _), &hollow)| {
                // A white disc under a hollow marker hides the line through it.
                let disc = if hollow { 6 } else { 0 };
                EmptyElement::at((x, y))
                    + Circle::new((0, 0), disc, WHITE.filled())
                    + marker(language, gil, style, 0, hollow)
            }))
            .map_err(fail)?;
        // A curve that stops ends in a cross and the word "stop" at its last point.
        if let (Some(_), Some(&(x, y, _, _))) = (&series.stop, points.last()) {
            let font = ("sans-serif", 17).into_font().color(&base);
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, y))
                        + Cross::new((0, 0), 9, base.stroke_width(3))
                        + Text::new("stop", (12, -22), font),
                ))
                .map_err(fail)?;
        }
    }
    let any_short = figure.figure.in_flight_axis
        && figure
            .series
            .iter()
            .any(|s| s.points.iter().any(|p| p.short_of_n));
    if any_short {
        let grey = BLACK.mix(0.7).stroke_width(2);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(fail)?
            .label(format!(
                "hollow: held < {:.0}% of N in flight at once",
                100.0 * HELD_SHARE
            ))
            .legend(move |(x, y)| EmptyElement::at((x, y)) + Circle::new((10, 0), 6, grey));
    }
    chart
        .configure_series_labels()
        // Memory curves sit high and the floor low; time curves rise to the right.
        .position(if measure == Measure::MemoryPerRequest {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperLeft
        })
        .label_font(("sans-serif", 17))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(fail)?;
    Ok(())
}

/// A phase figure: one bar per executor at the figure's largest N, the
/// medians of its six phases stacked in [`Phase::ALL`]'s order, with a legend
/// of the phases; a figure whose runs measured no phases says so in its plot.
fn draw_phases<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &FigureResult,
) -> anyhow::Result<()> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    let n = figure.figure.ns.last().copied().unwrap_or(1);
    let (plot_area, note_area) = root.split_vertically(SIZE.1 - 40);
    note_area
        .draw(&Text::new(
            footnote(figure),
            (20, 8),
            ("sans-serif", 15).into_font().color(&BLACK.mix(0.75)),
        ))
        .map_err(fail)?;
    // One bar per series, with its label; no bar where the series has no
    // phases at N.
    let bars: Vec<(String, Vec<(Phase, f64)>)> = figure
        .series
        .iter()
        .map(|series| {
            let phases = series.at(n).and_then(|p| p.phases.as_ref());
            let label = match (series.at(n), phases) {
                (None, _) => format!("{} (not run)", series.label),
                (Some(_), None) => format!("{} (no phases)", series.label),
                (Some(_), Some(_)) => series.label.clone(),
            };
            let stacked = phases.map_or_else(Vec::new, |phases| {
                Phase::ALL
                    .iter()
                    .filter_map(|&phase| phases.get(phase).map(|s| (phase, s.p50.max(0.0))))
                    .collect()
            });
            (label, stacked)
        })
        .collect();
    let tallest = bars
        .iter()
        .map(|(_, stacked)| stacked.iter().map(|(_, ms)| ms).sum::<f64>())
        .fold(0.0, f64::max);
    let count = bars.len().max(1) as u32;
    let caption = format!(
        "{} at N = {} ({} cores)",
        figure.figure.title,
        thousands(n),
        figure.cores
    );
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(caption, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((0..count).into_segmented(), 0.0..(tallest * 1.15).max(1.0))
        .map_err(fail)?;
    let labels: Vec<String> = bars.iter().map(|(label, _)| label.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len().max(1))
        .x_desc("executor")
        .y_desc("median time per request in each phase (ms)")
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(index) | SegmentValue::Exact(index) => {
                labels.get(*index as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|v| trim_number(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(fail)?;
    for phase in Phase::ALL {
        let style = phase_colour(phase).filled();
        let segments: Vec<Rectangle<(SegmentValue<u32>, f64)>> = bars
            .iter()
            .enumerate()
            .filter_map(|(index, (_, stacked))| {
                let below: f64 = stacked
                    .iter()
                    .take_while(|(p, _)| *p != phase)
                    .map(|(_, ms)| ms)
                    .sum();
                let (_, height) = stacked.iter().find(|(p, _)| *p == phase)?;
                let index = index as u32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(index), below),
                        (SegmentValue::Exact(index + 1), below + height),
                    ],
                    style,
                );
                bar.set_margin(0, 0, 14, 14);
                Some(bar)
            })
            .collect();
        chart
            .draw_series(segments)
            .map_err(fail)?
            .label(phase.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], style));
    }
    if tallest == 0.0 {
        plot_area
            .draw(&Text::new(
                "phases not measured: the runs did not report phases_ms",
                (SIZE.0 as i32 / 2 - 260, SIZE.1 as i32 / 2 - 40),
                ("sans-serif", 22).into_font().color(&BLACK.mix(0.7)),
            ))
            .map_err(fail)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 17))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(fail)?;
    Ok(())
}

/// A point's marker, centred `x` pixels right of its anchor: a circle for
/// Rust (a triangle under `--gil`), a square for Python, a diamond for Go;
/// hollow, and larger, where the run did not hold N requests in flight.
fn marker<DB: DrawingBackend>(
    language: Language,
    gil: bool,
    style: ShapeStyle,
    x: i32,
    hollow: bool,
) -> DynElement<'static, DB, (i32, i32)> {
    if hollow {
        let ring = ShapeStyle {
            filled: false,
            stroke_width: 2,
            ..style
        };
        return Circle::new((x, 0), 7, ring).into_dyn();
    }
    let filled = style.filled();
    match language {
        Language::Rust if gil => TriangleMarker::new((x, 0), 6, filled).into_dyn(),
        Language::Rust => Circle::new((x, 0), 4, filled).into_dyn(),
        Language::Python => Rectangle::new([(x - 5, -5), (x + 5, 5)], filled).into_dyn(),
        Language::Go => {
            Polygon::new(vec![(x, -7), (x + 7, 0), (x, 7), (x - 7, 0)], filled).into_dyn()
        }
    }
}

/// The line under the plot: cores, delays, and which executors are missing.
fn footnote(figure: &FigureResult) -> String {
    let mut note = format!(
        "{} cores; io {} ms{}; {}",
        figure.cores,
        figure.io_ms,
        if figure.cpu_ms > 0 {
            format!(" + cpu {} ms per batch", figure.cpu_ms)
        } else {
            String::new()
        },
        if figure.figure.measure == Measure::Phases {
            "each segment is a phase's p50, median of repeats (p99s in REPORT.md)"
        } else {
            "median of repeats, whiskers min-max"
        }
    );
    if !figure.figure.absent.is_empty() {
        let names: Vec<&str> = figure.figure.absent.iter().map(|a| a.executor).collect();
        note.push_str(&format!("; not run: {} (see REPORT.md)", names.join(", ")));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_and_memory_figures_draw_with_and_without_measurements() {
        use super::super::plan::PHASES_IO_AND_CPU_FIGURE;
        use super::super::results::add_memory_per_request;
        use super::super::results::fixtures::{figure, phases, point, series};
        let out = std::env::temp_dir().join(format!("runtime-lab-plot-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let timed = figure(
            PHASES_IO_AND_CPU_FIGURE,
            vec![2, 16],
            vec![
                series("tokio-ct", vec![point(16, None, Some(phases(950.0)))]),
                series("tokio-mt", vec![point(16, None, Some(phases(20.0)))]),
                series("threads", vec![point(16, None, None)]),
                series("glommio", vec![]),
            ],
        );
        let untimed = figure(
            PHASES_IO_AND_CPU_FIGURE,
            vec![2, 16],
            vec![series("tokio-ct", vec![point(16, None, None)])],
        );
        let mut threads = vec![point(1, Some(1.0), None), point(100, Some(100.0), None)];
        threads.push(point(10_000, Some(7_517.0), None));
        for (index, p) in threads.iter_mut().enumerate() {
            let kb = 5_000.0 + 292.0 * p.in_flight_peak.unwrap() * index as f64;
            p.peak_rss_kb = super::super::results::Spread::of([kb]).unwrap();
        }
        add_memory_per_request(&mut threads);
        let memory = figure(8, vec![1, 100, 10_000], vec![series("threads", threads)]);
        for (name, result) in [("timed", timed), ("untimed", untimed), ("memory", memory)] {
            let (png, svg) = (
                out.join(format!("{name}.png")),
                out.join(format!("{name}.svg")),
            );
            crate::draw::save(&result, &png, &svg).unwrap();
            assert!(std::fs::metadata(&png).unwrap().len() > 1_000, "{name}.png");
            let svg = std::fs::read_to_string(&svg).unwrap();
            if name == "memory" {
                assert!(
                    svg.contains("in flight at once"),
                    "the legend explains hollow markers"
                );
            } else {
                assert!(svg.contains("preprocess"), "the legend names the phases");
            }
        }
        let untimed_svg = std::fs::read_to_string(out.join("untimed.svg")).unwrap();
        assert!(untimed_svg.contains("phases not measured"));
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn every_executor_and_baseline_has_its_own_colour() {
        let names: Vec<&str> = crate::series_names().collect();
        let colours: std::collections::HashSet<_> = names
            .iter()
            .map(|name| {
                let RGBColor(r, g, b) = colour(name);
                (r, g, b)
            })
            .collect();
        assert_eq!(colours.len(), names.len());
    }
}
