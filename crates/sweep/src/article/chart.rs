//! The scenario figures as grouped bar charts: per server, its bar (or its
//! group of bars, one per metric) with min-max whiskers, coloured as the
//! server is in every figure, in panels one above the other.

use super::report::{ScenarioResult, ServerResult};
use crate::draw::{Drawing, colour, failed};
use crate::serving::plan::{MARKED_SPREAD, ServingScale, is_marked};
use crate::serving::report::Point;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One server's bars: its label, the executor that picks its colour, and
/// one value per metric of the panel.
pub struct Bars {
    /// The label under the group.
    pub label: String,
    /// The executor, for the colour shared with every other figure.
    pub executor: String,
    /// Drawn paler with a solid edge: the one-worker variant of a server
    /// that also runs with one worker per core.
    pub pale: bool,
    /// `(x, median, min, max)` per metric, `None` where unmeasured.
    pub values: Vec<Option<Point>>,
}

/// One panel: bars grouped per server, one bar per metric.
pub struct BarPanel {
    /// The panel's caption.
    pub caption: String,
    /// The y axis' label.
    pub y_label: String,
    /// Logarithmic y axis (the bars then start at the axis' floor).
    pub y_log: bool,
    /// The metrics of each group, in bar order, for the caption's legend.
    pub metrics: Vec<String>,
    /// Whether each bar is labelled with its median.
    pub value_labels: bool,
    /// The groups, left to right.
    pub groups: Vec<Bars>,
}

/// A chart: a title, panels one above the other, and a footnote.
pub struct BarChart {
    /// The title above the panels.
    pub title: String,
    /// The panels, top to bottom.
    pub panels: Vec<BarPanel>,
    /// One line under the panels.
    pub footnote: String,
}

impl Drawing for BarChart {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(failed)?;
        let (body, note) = root.split_vertically(root.dim_in_pixel().1.saturating_sub(36));
        note.draw(&Text::new(
            self.footnote.clone(),
            (20, 8),
            ("sans-serif", 14).into_font().color(&BLACK.mix(0.75)),
        ))
        .map_err(failed)?;
        let body = body
            .titled(&self.title, ("sans-serif", 24))
            .map_err(failed)?;
        let areas = body.split_evenly((self.panels.len().max(1), 1));
        for (area, panel) in areas.iter().zip(&self.panels) {
            draw_panel(area, panel)?;
        }
        Ok(())
    }

    fn size(&self) -> (u32, u32) {
        (1400, 90 + 430 * self.panels.len().max(1) as u32)
    }
}

/// The y range of a panel, padded above for the value labels; for a log
/// axis, the decades around the values.
fn y_range(panel: &BarPanel) -> (f64, f64) {
    let values: Vec<f64> = panel
        .groups
        .iter()
        .flat_map(|group| group.values.iter().flatten())
        .flat_map(|point| [point.1, point.2, point.3])
        .filter(|v| v.is_finite() && (!panel.y_log || *v > 0.0))
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match (low.is_finite(), panel.y_log) {
        (false, _) => (1.0, 10.0),
        // Whole decades, so that a log axis always has labelled ticks.
        (true, true) => (
            10f64.powf((low / 1.5).log10().floor()),
            10f64.powf((high * 1.5).log10().ceil()),
        ),
        (true, false) => (0.0, if high > 0.0 { high * 1.2 } else { 1.0 }),
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &BarPanel,
) -> anyhow::Result<()> {
    let (y0, y1) = y_range(panel);
    let n = panel.groups.len().max(1);
    let x = -0.5..(n as f64 - 0.5);
    match panel.y_log {
        false => draw_bars(area, panel, x, y0..y1, y0),
        true => draw_bars(area, panel, x, (y0..y1).log_scale(), y0),
    }
}

fn draw_bars<DB, Y>(
    area: &DrawingArea<DB, Shift>,
    panel: &BarPanel,
    x: std::ops::Range<f64>,
    y: Y,
    floor: f64,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let n = panel.groups.len();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.caption, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(failed)?;
    // A label at each group's centre, none between them.
    let label_of = |v: &f64| {
        let index = v.round();
        if (v - index).abs() < 1e-6 && index >= 0.0 {
            panel
                .groups
                .get(index as usize)
                .map_or(String::new(), |group| group.label.clone())
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1) * 2 + 1)
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v| crate::table::trim_number(*v))
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(failed)?;
    let metrics = panel.metrics.len().max(1);
    let width = 0.8 / metrics as f64;
    for (index, group) in panel.groups.iter().enumerate() {
        let base = colour(&group.executor);
        if group.values.iter().all(Option::is_none) {
            let style = ("sans-serif", 13)
                .into_font()
                .color(&BLACK.mix(0.6))
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series([Text::new("not run", (index as f64, floor), style)])
                .map_err(failed)?;
        }
        for (metric, value) in group.values.iter().enumerate() {
            let Some(point) = value else { continue };
            let left = index as f64 - 0.4 + width * metric as f64;
            let (right, centre) = (left + width * 0.92, left + width * 0.46);
            // Later metrics of a group (p99 beside p50) are paler.
            let strength = if metric == 0 { 1.0 } else { 0.45 };
            let fill = if group.pale {
                base.mix(0.35 * strength)
            } else {
                base.mix(strength)
            };
            chart
                .draw_series([
                    Rectangle::new([(left, floor), (right, point.1)], fill.filled()),
                    Rectangle::new(
                        [(left, floor), (right, point.1)],
                        ShapeStyle::from(&base).stroke_width(1),
                    ),
                ])
                .map_err(failed)?;
            if point.3 > point.2 {
                let whisker = ShapeStyle::from(&BLACK.mix(0.8)).stroke_width(1);
                let cap = width * 0.2;
                chart
                    .draw_series([
                        PathElement::new(vec![(centre, point.2), (centre, point.3)], whisker),
                        PathElement::new(
                            vec![(centre - cap, point.2), (centre + cap, point.2)],
                            whisker,
                        ),
                        PathElement::new(
                            vec![(centre - cap, point.3), (centre + cap, point.3)],
                            whisker,
                        ),
                    ])
                    .map_err(failed)?;
            }
            let mut text = if panel.value_labels {
                crate::table::trim_number(point.1.round())
            } else {
                String::new()
            };
            if is_marked(point) {
                text.push_str(" *");
            }
            if !text.is_empty() {
                let style = ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series([Text::new(text, (centre, point.3.max(point.1)), style)])
                    .map_err(failed)?;
            }
        }
    }
    Ok(())
}

impl ScenarioResult {
    /// The figure as a chart: max sustainable QPS per server, and p50 and
    /// p99 at 90% of it, on a log axis.
    pub fn chart(&self, scale: &ServingScale, cores: usize) -> BarChart {
        let pool = cores.max(1) as u32;
        let pale = |server: &ServerResult| {
            server.workers == 1
                && pool > 1
                && self
                    .servers
                    .iter()
                    .any(|other| other.executor == server.executor && other.workers == pool)
        };
        let groups = |values: &dyn Fn(&ServerResult) -> Vec<Option<Point>>| {
            self.servers
                .iter()
                .map(|server| Bars {
                    label: server.label.clone(),
                    executor: server.executor.clone(),
                    pale: pale(server),
                    values: values(server),
                })
                .collect::<Vec<_>>()
        };
        let qps = groups(&|server| vec![server.qps]);
        // A log axis where the servers differ by more than 20x (the cpu
        // scenario): a linear one would flatten the slow ones to nothing.
        let medians: Vec<f64> = qps
            .iter()
            .filter_map(|group| group.values[0].map(|point| point.1))
            .filter(|&median| median > 0.0)
            .collect();
        let (low, high) = medians
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(low, high), &v| {
                (low.min(v), high.max(v))
            });
        let qps_log = high > 20.0 * low;
        let latency = groups(&|server| {
            let at = server.at(0.9);
            vec![at.map(|(p50, _)| p50), at.map(|(_, p99)| p99)]
        });
        BarChart {
            title: self.figure.title.to_owned(),
            panels: vec![
                BarPanel {
                    caption: format!("max sustainable QPS, GET {}", self.scenario.route),
                    y_label: if qps_log {
                        "requests/s (log)".to_owned()
                    } else {
                        "requests/s".to_owned()
                    },
                    y_log: qps_log,
                    metrics: vec!["QPS".to_owned()],
                    value_labels: true,
                    groups: qps,
                },
                BarPanel {
                    caption: "p50 (solid) and p99 (pale) at 90% of each server's max".to_owned(),
                    y_label: "latency (ms, log)".to_owned(),
                    y_log: true,
                    metrics: vec!["p50".to_owned(), "p99".to_owned()],
                    value_labels: false,
                    groups: latency,
                },
            ],
            footnote: format!(
                "{cores} cores shared with the load generator and the feature store; median of {} repeat(s), whiskers min-max, *: repeats differ by more than {:.0}%; pale bars: one worker",
                scale.repeat,
                MARKED_SPREAD * 100.0
            ),
        }
    }
}
