//! Line charts of the server figures: panels in a grid (small multiples
//! that can share one y axis), each with named lines, optional log axes, a
//! dashed reference line, and its legend beside the data, never over it.
//! A point whose repeats differ by more than [`plan::MARKED_SPREAD`] gets a
//! ring.

use super::plan;
use crate::draw::{Drawing, SIZE, by_language, colour, dashes};
use anyhow::anyhow;
use lab::baselines::Language;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: a label, the executor that picks its colour, and its points
/// `(x, median, min, max)`.
pub struct Line {
    /// The legend's text.
    pub label: String,
    /// The executor, for the colour shared with every other figure.
    pub executor: String,
    /// Drawn dashed (the GIL variants).
    pub dashed: bool,
    /// `(x, median, min, max)`, in x order.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// One panel of a chart.
pub struct Panel {
    /// The panel's caption.
    pub caption: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// The lines.
    pub lines: Vec<Line>,
    /// A horizontal reference line: its value and its label.
    pub reference: Option<(f64, String)>,
    /// Ticks at the powers of two (1, 2, 4, ... 32) on a log x axis, for
    /// the workers axis, instead of plotters' decimal ticks.
    pub x_powers_of_two: bool,
}

/// A chart: a title, a grid of panels, and a footnote.
pub struct Chart {
    /// The title above the panels.
    pub title: String,
    /// The panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// One y range for all the panels with the same y label.
    pub share_y: bool,
    /// One line under the panels.
    pub footnote: String,
}

/// The width of the legend beside each panel's data.
const LEGEND_WIDTH: u32 = 200;

impl Drawing for Chart {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        draw_on(root, self)
    }

    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(self.columns.max(1)) as u32;
        let columns = self.columns.max(1) as u32;
        if rows <= 1 && columns <= 1 {
            SIZE
        } else {
            // Each panel wide enough for its data and its legend.
            (columns * 700, 90 + rows * 420)
        }
    }
}

fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    root.fill(&WHITE).map_err(fail)?;
    let (body, note) = root.split_vertically(root.dim_in_pixel().1.saturating_sub(36));
    note.draw(&Text::new(
        chart.footnote.clone(),
        (20, 8),
        ("sans-serif", 15).into_font().color(&BLACK.mix(0.75)),
    ))
    .map_err(fail)?;
    let body = body
        .titled(&chart.title, ("sans-serif", 24))
        .map_err(fail)?;
    let columns = chart.columns.max(1);
    let rows = chart.panels.len().div_ceil(columns).max(1);
    let areas = body.split_evenly((rows, columns));
    for (area, panel) in areas.iter().zip(&chart.panels) {
        let shared: Vec<&Panel> = if chart.share_y {
            chart
                .panels
                .iter()
                .filter(|other| other.y_label == panel.y_label)
                .collect()
        } else {
            vec![panel]
        };
        draw_panel(area, panel, &shared)?;
    }
    Ok(())
}

/// The x and y ranges of a panel, padded, and safe for log axes; the y
/// range spans every panel of `shared` (the panel itself among them).
fn ranges(panel: &Panel, shared: &[&Panel]) -> ((f64, f64), (f64, f64)) {
    let xs = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = shared.iter().flat_map(|panel| {
        panel
            .lines
            .iter()
            .flat_map(|l| l.points.iter().flat_map(|p| [p.1, p.2, p.3]))
            .chain(panel.reference.iter().map(|r| r.0))
    });
    let span = |values: Vec<f64>, log: bool| {
        let values: Vec<f64> = values
            .into_iter()
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match (low.is_finite(), log) {
            (false, _) => (1.0, 10.0),
            (true, true) => (low / 1.5, high * 1.5),
            (true, false) => (0.0, if high > 0.0 { high * 1.1 } else { 1.0 }),
        }
    };
    (
        span(xs.collect(), panel.x_log),
        span(ys.collect(), panel.y_log),
    )
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    shared: &[&Panel],
) -> anyhow::Result<()> {
    let ((x0, x1), (y0, y1)) = ranges(panel, shared);
    let (width, _) = area.dim_in_pixel();
    let (data, legend) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    draw_legend(&legend, panel)?;
    if panel.x_powers_of_two {
        // The workers axis: log2(W) on a linear axis, labelled 2^v, so the
        // ticks fall on 1, 2, 4, 8, 16, 32.
        let (l0, l1) = (x0.max(0.5).log2(), x1.log2());
        let (l0, l1) = (l0.min(0.0) - 0.3, l1.max(l0 + 1.0) + 0.3);
        return match panel.y_log {
            false => draw_lines(&data, panel, l0..l1, y0..y1),
            true => draw_lines(&data, panel, l0..l1, (y0..y1).log_scale()),
        };
    }
    match (panel.x_log, panel.y_log) {
        (false, false) => draw_lines(&data, panel, x0..x1, y0..y1),
        (true, false) => draw_lines(&data, panel, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_lines(&data, panel, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_lines(&data, panel, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
}

/// Draws one legend entry's sample at height `y` of the legend strip.
type LegendMark<'a, DB> = dyn Fn(
        &DrawingArea<DB, Shift>,
        i32,
    ) -> Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>
    + 'a;

/// The legend of `panel` in its own strip beside the data: one entry per
/// line, grouped by language, then the reference line and the ring.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> anyhow::Result<()> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    let font = ("sans-serif", 13).into_font();
    let mut y = 40;
    let mut entry = |label: String, mark: &LegendMark<'_, DB>| -> anyhow::Result<()> {
        mark(area, y).map_err(fail)?;
        area.draw(&Text::new(label, (30, y - 7), font.clone()))
            .map_err(fail)?;
        y += 18;
        Ok(())
    };
    for (opens, line) in by_language(&panel.lines, |line| line.executor.as_str()) {
        if let Some(language) = opens {
            entry(format!("{}:", language.as_str()), &|_, _| Ok(()))?;
        }
        let colour = colour(&line.executor);
        let dash = dashes(Language::of(&line.executor), line.dashed);
        entry(line.label.clone(), &move |area, y| {
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let segments: Vec<(i32, i32)> = match dash {
                // Dashes of the line's own pattern, scaled to the sample.
                Some((on, off)) => {
                    let (on, off) = (on.clamp(2, 8) as i32, off.clamp(2, 5) as i32);
                    (0..)
                        .map(|i| 4 + i * (on + off))
                        .take_while(|&x| x < 26)
                        .map(|x| (x, (x + on).min(26)))
                        .collect()
                }
                None => vec![(4, 26)],
            };
            for (from, to) in segments {
                area.draw(&PathElement::new(vec![(from, y), (to, y)], style))?;
            }
            area.draw(&Circle::new((15, y), 3, colour.filled()))
        })?;
    }
    if let Some((_, label)) = &panel.reference {
        entry(label.clone(), &|area, y| {
            let style = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
            for from in [4, 12, 20] {
                area.draw(&PathElement::new(vec![(from, y), (from + 4, y)], style))?;
            }
            Ok(())
        })?;
    }
    entry(
        format!("ring: repeats differ > {:.0}%", plan::MARKED_SPREAD * 100.0),
        &|area, y| {
            area.draw(&Circle::new(
                (15, y),
                6,
                ShapeStyle::from(&BLACK).stroke_width(1),
            ))
        },
    )?;
    Ok(())
}

fn draw_lines<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    x: X,
    y: Y,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
        .map_err(fail)?;
    let powers_of_two = |v: &f64| {
        let w = 2f64.powf(*v);
        if (w - w.round()).abs() < 1e-6 {
            format!("{w:.0}")
        } else {
            String::new()
        }
    };
    // Whole numbers without a decimal point (`100`, not `100.0`); small
    // values keep the digits that tell them apart.
    let plain = |v: &f64| {
        if v.abs() >= 10.0 || (v - v.round()).abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.y_labels(10).y_label_formatter(&plain);
    if panel.x_powers_of_two {
        mesh.x_labels(8).x_label_formatter(&powers_of_two);
    } else {
        mesh.x_label_formatter(&plain);
    }
    mesh.x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(fail)?;
    // The x of a point on this panel's axis.
    let x_of = |x: f64| if panel.x_powers_of_two { x.log2() } else { x };
    for line in &panel.lines {
        let language = Language::of(&line.executor);
        let colour = colour(&line.executor);
        let style = ShapeStyle::from(&colour).stroke_width(2);
        let points: Vec<(f64, f64)> = line.points.iter().map(|p| (x_of(p.0), p.1)).collect();
        match dashes(language, line.dashed) {
            Some((dash, gap)) => {
                chart.draw_series(DashedLineSeries::new(points.clone(), dash, gap, style))
            }
            None => chart.draw_series(LineSeries::new(points.clone(), style)),
        }
        .map_err(fail)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(fail)?;
        chart
            .draw_series(line.points.iter().filter(|p| p.3 > p.2).map(|p| {
                PathElement::new(
                    vec![(x_of(p.0), p.2), (x_of(p.0), p.3)],
                    ShapeStyle::from(&colour.mix(0.6)),
                )
            }))
            .map_err(fail)?;
        chart
            .draw_series(line.points.iter().filter(|p| plan::is_marked(p)).map(|p| {
                Circle::new(
                    (x_of(p.0), p.1),
                    7,
                    ShapeStyle::from(&colour).stroke_width(2),
                )
            }))
            .map_err(fail)?;
    }
    if let Some((value, _)) = &panel.reference {
        let range = chart.x_range();
        let (x0, x1) = (range.start, range.end);
        let style = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, *value), (x1, *value)],
                4,
                4,
                style,
            ))
            .map_err(fail)?;
    }
    Ok(())
}
