//! Line charts of the server figures: one or more panels side by side, each
//! with named lines, optional log axes and a dashed reference line.

use crate::draw::{Drawing, SIZE, by_language, colour, dashes, legend_heading};
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
}

/// A chart: a title, panels side by side, and a footnote.
pub struct Chart {
    /// The title above the panels.
    pub title: String,
    /// The panels.
    pub panels: Vec<Panel>,
    /// One line under the panels.
    pub footnote: String,
}

impl Drawing for Chart {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        draw_on(root, self)
    }
}

fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("cannot draw: {error:?}");
    root.fill(&WHITE).map_err(fail)?;
    let (body, note) = root.split_vertically(SIZE.1 - 36);
    note.draw(&Text::new(
        chart.footnote.clone(),
        (20, 8),
        ("sans-serif", 15).into_font().color(&BLACK.mix(0.75)),
    ))
    .map_err(fail)?;
    let body = body
        .titled(&chart.title, ("sans-serif", 24))
        .map_err(fail)?;
    let areas = body.split_evenly((1, chart.panels.len().max(1)));
    for (area, panel) in areas.iter().zip(&chart.panels) {
        draw_panel(area, panel)?;
    }
    Ok(())
}

/// The x and y ranges of a panel, padded, and safe for log axes.
fn ranges(panel: &Panel) -> ((f64, f64), (f64, f64)) {
    let xs = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().flat_map(|p| [p.1, p.2, p.3]))
        .chain(panel.reference.iter().map(|r| r.0));
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
) -> anyhow::Result<()> {
    let ((x0, x1), (y0, y1)) = ranges(panel);
    match (panel.x_log, panel.y_log) {
        (false, false) => draw_lines(area, panel, x0..x1, y0..y1),
        (true, false) => draw_lines(area, panel, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_lines(area, panel, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_lines(area, panel, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
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
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(fail)?;
    // Grouped by language in the legend, Rust first, each group under its
    // name when the panel has more than one, as in the fan-out figures.
    for (opens, line) in by_language(&panel.lines, |line| line.executor.as_str()) {
        let language = Language::of(&line.executor);
        if let Some(language) = opens {
            legend_heading(&mut chart, language)?;
        }
        let colour = colour(&line.executor);
        let style = ShapeStyle::from(&colour).stroke_width(2);
        let points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, p.1)).collect();
        let series = match dashes(language, line.dashed) {
            Some((dash, gap)) => {
                chart.draw_series(DashedLineSeries::new(points.clone(), dash, gap, style))
            }
            None => chart.draw_series(LineSeries::new(points.clone(), style)),
        }
        .map_err(fail)?;
        series
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(fail)?;
        chart
            .draw_series(line.points.iter().filter(|p| p.3 > p.2).map(|p| {
                PathElement::new(
                    vec![(p.0, p.2), (p.0, p.3)],
                    ShapeStyle::from(&colour.mix(0.6)),
                )
            }))
            .map_err(fail)?;
    }
    if let Some((value, label)) = &panel.reference {
        let (x0, x1) = ranges(panel).0;
        let style = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, *value), (x1, *value)],
                4,
                4,
                style,
            ))
            .map_err(fail)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(fail)?;
    Ok(())
}
