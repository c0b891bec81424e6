//! The server sweep's results: medians per point, charts, results.csv and a
//! REPORT.md whose every number is computed from the rows.

use super::chart::{Chart, Line, Panel};
use super::plan::{self, Axis, Figure, ServingPlan, ServingScale, is_marked, spread_share};
use super::{HOLD_RPS, Row};
use crate::machine::Machine;
use crate::table::{Align, Table, settings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The sweep's settings and totals, for the report's header and results.json.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The exact command line.
    pub command: String,
    /// UTC date and time the sweep started.
    pub started: String,
    /// Wall time of the whole sweep.
    pub duration_s: f64,
    /// The plan's estimate of it.
    pub estimate_s: f64,
    /// Kernel rounds per request.
    pub cpu_rounds: u64,
    /// The calibration: rounds per millisecond of one core.
    pub rounds_per_ms: f64,
    /// The feature store's URL.
    pub upstream: String,
    /// Load probes run (and failed starts or stops).
    pub probes: usize,
    /// Rows with an error.
    pub failed: usize,
}

/// One point of a line: x, then the median, min and max of the repeats.
pub type Point = (f64, f64, f64, f64);

/// One curve of one panel.
#[derive(Debug, Clone, Serialize)]
pub struct LineResult {
    /// The series' label.
    pub label: String,
    /// The serving model.
    pub executor: String,
    /// `--gil`.
    pub gil: bool,
    /// The points, in x order.
    pub points: Vec<Point>,
}

impl LineResult {
    /// The point at `x`, if measured.
    pub fn at(&self, x: f64) -> Option<Point> {
        self.points.iter().copied().find(|p| p.0 == x)
    }

    /// The point with the largest median.
    pub fn best(&self) -> Option<Point> {
        self.points
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// A figure's medians: one or more panels (the latency figure has p50, p99
/// and p999), each a list of lines.
#[derive(Debug, Clone, Serialize)]
pub struct FigureResult {
    /// The figure.
    pub figure: Figure,
    /// (metric, lines) per panel.
    pub panels: Vec<(String, Vec<LineResult>)>,
    /// The machine's bound less the load generator's and the store's CPU,
    /// measured at tokio-mt's best point (figure 1 only).
    pub net_bound: Option<NetBound>,
    /// Per series at W = 1 (figure 1 only): the closed-loop rate at one
    /// connection, 1000 / a request's latency alone, at x = 1.
    pub alone: Vec<LineResult>,
    /// Per series of a workers figure: at each W, requests answered per
    /// second of the server's CPU time in the search's chosen probe
    /// (achieved RPS over the cores its processes kept busy), to compare
    /// servers per unit of CPU time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_cpu: Vec<LineResult>,
}

/// The throughput bound of this machine for the mix, from the CPU a request
/// measurably costs the server, and net of the CPU that the load generator
/// and the feature store take from the same cores.
///
/// The kernel is calibrated once per sweep, and this machine's single-core
/// speed drifts by up to 1.7x, so the nominal `cpu_ms` is not what a request
/// costs during the run; the server's own CPU time per request, measured at
/// tokio-mt's best point, is (kernel, HTTP and fetch together).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NetBound {
    /// Server CPU per request at that point, in ms.
    pub server_cpu_ms_per_request: f64,
    /// `cores x 1000 / server_cpu_ms_per_request`.
    pub bound_rps: f64,
    /// Load generator CPU, ms per second of probe.
    pub load_cpu_ms_per_s: f64,
    /// Feature store CPU, ms per second of probe.
    pub store_cpu_ms_per_s: f64,
    /// `(cores x 1000 - load - store) / server_cpu_ms_per_request`.
    pub net_rps: f64,
}

/// Medians per point of every figure but the article's scenario figures,
/// which [`crate::article::report`] summarizes.
pub fn summarize(plan: &ServingPlan, rows: &[Row], cores: usize) -> Vec<FigureResult> {
    plan.figures
        .iter()
        .filter(|figure| figure.axis != Axis::Scenario)
        .map(|figure| {
            let (figure, rows): (Figure, Vec<&Row>) = if figure.id == crate::talk::FIGURE_ID {
                crate::talk::with_shared(figure, rows)
            } else {
                let rows = rows
                    .iter()
                    .filter(|row| row.figure == figure.id && row.error.is_none())
                    .collect();
                (figure.clone(), rows)
            };
            let figure = &figure;
            let panels = match figure.axis {
                Axis::Workers => vec![(
                    "max sustainable RPS".to_owned(),
                    lines(figure, &rows, max_sustainable),
                )],
                Axis::Load => ["p50", "p99", "p999"]
                    .into_iter()
                    .map(|name| {
                        (
                            format!("{name} latency"),
                            latency_lines(figure, &rows, name),
                        )
                    })
                    .collect(),
                Axis::Scenario => Vec::new(),
                Axis::Connections => vec![(
                    "peak RSS (MiB)".to_owned(),
                    lines(figure, &rows, |rows| {
                        rows.iter()
                            .find(|row| row.step == "hold")
                            .map(|row| row.server_peak_rss_kb as f64 / 1024.0)
                    }),
                )],
            };
            let net_bound = (figure.axis == Axis::Workers)
                .then(|| net_bound(&rows, &plan.scale, cores))
                .flatten();
            let alone = lines(figure, &rows, |rows| {
                rows.iter()
                    .find(|row| row.step == "alone")
                    .map(|row| row.achieved_rps)
            })
            .into_iter()
            .filter(|line| !line.points.is_empty())
            .collect();
            let per_cpu = if figure.axis == Axis::Workers {
                lines(figure, &rows, requests_per_cpu_second)
                    .into_iter()
                    .filter(|line| !line.points.is_empty())
                    .collect()
            } else {
                Vec::new()
            };
            FigureResult {
                figure: figure.clone(),
                panels,
                net_bound,
                alone,
                per_cpu,
            }
        })
        .collect()
}

/// The maximum of one server's search: the rate of its chosen probe (see
/// [`Row::chosen`]); 0 when it searched and sustained nothing.
fn max_sustainable(rows: &[&Row]) -> Option<f64> {
    let searched = rows
        .iter()
        .any(|row| ["closed", "search", "confirm"].contains(&row.step.as_str()));
    rows.iter()
        .find(|row| row.chosen)
        .and_then(|row| row.offered_rps)
        .or(searched.then_some(0.0))
}

/// Requests answered per second of server CPU in a search's chosen probe.
fn requests_per_cpu_second(rows: &[&Row]) -> Option<f64> {
    let chosen = rows.iter().find(|row| row.chosen)?;
    let busy_cores = chosen.server_cpu_ms / (chosen.window_s * 1e3);
    (busy_cores > 0.0).then(|| chosen.achieved_rps / busy_cores)
}

/// A point's median for a sentence, with its mark when its repeats differ.
fn value(point: &Point, unit: &str) -> String {
    if is_marked(point) {
        format!(
            "{:.0} {unit} (marked: its repeats span {:.0}-{:.0}, {:.0}%)",
            point.1,
            point.2,
            point.3,
            100.0 * spread_share(point)
        )
    } else {
        format!("{:.0} {unit}", point.1)
    }
}

/// One line per series, x the row's x, y `value` of each repeat's rows, as median and range.
fn lines(
    figure: &Figure,
    rows: &[&Row],
    value: impl Fn(&[&Row]) -> Option<f64>,
) -> Vec<LineResult> {
    figure
        .series
        .iter()
        .map(|series| {
            let label = series.label();
            // (x bits, repeat) -> rows: x values are exact, as they were planned.
            let mut groups: BTreeMap<(u64, u32), Vec<&Row>> = BTreeMap::new();
            for row in rows.iter().filter(|row| row.series == label) {
                groups
                    .entry((row.x.to_bits(), row.repeat))
                    .or_default()
                    .push(row);
            }
            let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for ((x, _), rows) in &groups {
                if let Some(y) = value(rows) {
                    by_x.entry(*x).or_default().push(y);
                }
            }
            let mut points: Vec<Point> = by_x
                .into_iter()
                .map(|(x, ys)| spread(f64::from_bits(x), ys))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            LineResult {
                label,
                executor: series.executor.to_owned(),
                gil: series.gil,
                points,
            }
        })
        .collect()
}

/// The latency figure's lines: x the offered rate, y one percentile.
fn latency_lines(figure: &Figure, rows: &[&Row], percentile: &str) -> Vec<LineResult> {
    let shares: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|row| row.step == "share")
        .collect();
    let by_share = lines(figure, &shares, |rows| {
        let row = rows.first()?;
        Some(match percentile {
            "p50" => row.p50_ms,
            "p99" => row.p99_ms,
            _ => row.p999_ms,
        })
    });
    let offered = lines(figure, &shares, |rows| rows.first()?.offered_rps);
    // Re-key each point from the share to the median offered rate at it.
    by_share
        .into_iter()
        .zip(offered)
        .map(|(mut line, rates)| {
            for point in &mut line.points {
                if let Some(rate) = rates.at(point.0) {
                    point.0 = rate.1;
                }
            }
            line
        })
        .collect()
}

/// The median of the repeats (the mean of the middle two when they are
/// even in number), their min and their max.
pub(crate) fn spread(x: f64, mut ys: Vec<f64>) -> Point {
    ys.sort_by(f64::total_cmp);
    let n = ys.len();
    let median = if n.is_multiple_of(2) {
        (ys[n / 2 - 1] + ys[n / 2]) / 2.0
    } else {
        ys[n / 2]
    };
    (x, median, ys[0], ys[n - 1])
}

/// The bound net of the load generator's and the store's CPU, measured at
/// tokio-mt's best point (the chosen probe of its best search).
fn net_bound(rows: &[&Row], scale: &ServingScale, cores: usize) -> Option<NetBound> {
    let best = rows
        .iter()
        .filter(|row| row.series == "tokio-mt" && row.chosen)
        .max_by(|a, b| a.achieved_rps.total_cmp(&b.achieved_rps))?;
    let per_s = |ms: f64| ms / best.window_s.max(1e-9);
    let load_cpu_ms_per_s = per_s(best.load_cpu_ms);
    let store_cpu_ms_per_s = per_s(best.store_cpu_ms.unwrap_or(0.0));
    let server_cpu_ms_per_request =
        best.server_cpu_ms / (best.achieved_rps * best.window_s).max(1.0);
    let cpu_ms = if server_cpu_ms_per_request > 0.0 {
        server_cpu_ms_per_request
    } else {
        scale.cpu_ms as f64
    };
    let cores_ms = cores as f64 * 1000.0;
    Some(NetBound {
        server_cpu_ms_per_request: cpu_ms,
        bound_rps: cores_ms / cpu_ms,
        load_cpu_ms_per_s,
        store_cpu_ms_per_s,
        net_rps: (cores_ms - load_cpu_ms_per_s - store_cpu_ms_per_s) / cpu_ms,
    })
}

impl FigureResult {
    /// The figure as a chart: the throughput figure as small multiples,
    /// one panel per family of [`plan::FAMILIES`] on one y axis; the
    /// latency figure one panel per percentile, or, with more than
    /// [`plan::MAX_SERIES_PER_PANEL`] series, p50 and p99 per family.
    pub fn chart(&self, scale: &ServingScale, cores: usize) -> Chart {
        let (x_label, x_log, y_log) = match self.figure.axis {
            Axis::Workers => ("workers W (log)", true, false),
            Axis::Load => ("offered load (requests/s)", false, true),
            Axis::Connections => ("keep-alive connections held (log)", true, true),
            Axis::Scenario => ("server", false, false),
        };
        let reference = match self.figure.axis {
            Axis::Workers => Some(match self.net_bound {
                Some(bound) => (
                    bound.net_rps,
                    format!(
                        "net bound ({:.2} ms/request)",
                        bound.server_cpu_ms_per_request
                    ),
                ),
                None => (
                    scale.cpu_bound_rps(cores),
                    format!("bound: {cores} x 1000 / {} ms", scale.cpu_ms),
                ),
            }),
            Axis::Load => Some((
                scale.p99_bound_ms(),
                format!("p99 bound {:.0} ms", scale.p99_bound_ms()),
            )),
            Axis::Connections | Axis::Scenario => None,
        };
        let panel = |caption: String, metric: &str, lines: Vec<&LineResult>| Panel {
            caption,
            x_label: x_label.to_owned(),
            y_label: match self.figure.axis {
                Axis::Load => format!("{metric} (ms, log)"),
                _ => metric.to_owned(),
            },
            x_log,
            y_log,
            lines: lines
                .into_iter()
                .filter(|line| !line.points.is_empty())
                .map(|line| Line {
                    label: line.label.clone(),
                    executor: line.executor.clone(),
                    dashed: line.gil,
                    points: line.points.clone(),
                })
                .collect(),
            reference: reference.clone(),
            x_powers_of_two: self.figure.axis == Axis::Workers,
        };
        let series = self.figure.series.len();
        let by_family = match self.figure.axis {
            Axis::Workers => true,
            Axis::Load => series > plan::MAX_SERIES_PER_PANEL,
            Axis::Connections | Axis::Scenario => false,
        };
        let (panels, columns) = if by_family {
            let metrics: Vec<&(String, Vec<LineResult>)> = self
                .panels
                .iter()
                .filter(|(metric, _)| !metric.starts_with("p999"))
                .collect();
            let families: Vec<usize> = (0..plan::FAMILIES.len())
                .filter(|&family| {
                    self.figure
                        .series
                        .iter()
                        .any(|series| plan::family_of(series.executor) == family)
                })
                .collect();
            let mut panels = Vec::new();
            for (metric, lines) in &metrics {
                for &family in &families {
                    let members = lines
                        .iter()
                        .filter(|line| plan::family_of(&line.executor) == family)
                        .collect();
                    let caption = if metrics.len() > 1 {
                        format!("{metric}: {}", plan::FAMILIES[family].0)
                    } else {
                        plan::FAMILIES[family].0.to_owned()
                    };
                    panels.push(panel(caption, metric, members));
                }
            }
            let columns = if metrics.len() > 1 {
                families.len()
            } else {
                families.len().min(2)
            };
            (panels, columns.max(1))
        } else {
            let panels: Vec<Panel> = self
                .panels
                .iter()
                .map(|(metric, lines)| {
                    let caption = if self.panels.len() > 1 {
                        metric.clone()
                    } else {
                        String::new()
                    };
                    panel(caption, metric, lines.iter().collect())
                })
                .collect();
            let columns = panels.len().max(1);
            (panels, columns)
        };
        Chart {
            title: self.figure.title.to_owned(),
            panels,
            columns,
            share_y: by_family,
            footnote: format!(
                "{cores} cores; io {} ms + cpu {} ms per request; median of {} repeat(s), whiskers min-max, ring: repeats differ by more than {:.0}%; dashed: --gil (Rust), long dashes: Python, dots: Go",
                scale.io_ms,
                scale.cpu_ms,
                scale.repeat,
                plan::MARKED_SPREAD * 100.0
            ),
        }
    }
}

/// results.csv: one line per probe.
pub fn to_csv(rows: &[Row]) -> String {
    let mut csv = String::from(
        "figure,series,executor,workers,gil,x,repeat,step,connections,offered_rps,achieved_rps,answered_rps,ok,errors,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,sustained,chosen,server_cpu_ms,load_cpu_ms,store_cpu_ms,server_peak_rss_kb,server_rss_kb,server_processes,window_s,error\n",
    );
    for r in rows {
        let optional = |value: Option<f64>| value.map_or(String::new(), |v| format!("{v:.1}"));
        let error = r.error.as_deref().unwrap_or("").replace(['"', '\n'], "'");
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{:.1},{:.1},{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{},{},{:.0},{:.0},{},{},{},{},{:.2},\"{error}\"",
            r.figure,
            r.series,
            r.executor,
            r.workers,
            r.gil,
            r.x,
            r.repeat,
            r.step,
            r.connections,
            optional(r.offered_rps),
            r.achieved_rps,
            r.answered_rps,
            r.ok,
            r.errors,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.p999_ms,
            r.max_ms,
            r.sustained,
            r.chosen,
            r.server_cpu_ms,
            r.load_cpu_ms,
            optional(r.store_cpu_ms),
            r.server_peak_rss_kb,
            r.server_rss_kb,
            r.server_processes,
            r.window_s
        );
    }
    csv
}

/// Renders REPORT.md.
pub fn render(
    machine: &Machine,
    info: &Info,
    plan: &ServingPlan,
    results: &[FigureResult],
) -> String {
    let scale = &plan.scale;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# runtime-lab server sweep: {} set on {} cores\n",
        scale.name, machine.cores
    );
    let _ = writeln!(
        md,
        "Generated by the command below; never edited by hand.\n\n```sh\n{}\n```\n",
        info.command
    );
    let mut rows = vec![("started", info.started.clone())];
    rows.extend(
        machine.settings(
            "logical CPUs, shared by the server, the load generator and the feature store",
        ),
    );
    rows.extend([
        (
            "workload",
            format!(
                "each `GET /predict?id=N` fetches one batch from the feature store, which answers after {} ms, then preprocesses it for {} ms of calibrated CPU ({} kernel rounds, {:.1} rounds/ms): {:.0}% I/O, {:.0}% CPU",
                scale.io_ms,
                scale.cpu_ms,
                info.cpu_rounds,
                info.rounds_per_ms,
                100.0 * scale.io_ms as f64 / (scale.io_ms + scale.cpu_ms) as f64,
                100.0 * scale.cpu_ms as f64 / (scale.io_ms + scale.cpu_ms) as f64
            ),
        ),
        (
            "processes",
            format!(
                "feature store ({}), each server (`runtime-lab serve`, started fresh for every point and stopped with SIGTERM) and each load (`runtime-lab load --json`) run as separate processes on the same {} cores; the CPU time of all three is measured per probe (results.csv), and a server's CPU and memory are its whole process tree's (for a baseline, the baseline's own processes, without the `runtime-lab serve` that started it)",
                info.upstream, machine.cores
            ),
        ),
        (
            "max sustainable",
            format!(
                "the highest offered open-loop rate at which the successful answers arriving inside the measured window (`answered_rps`, whatever each request's start: the server's rate of answers, which above its capacity is the capacity, however long the window) come at least {:.0}% as fast, with no failed request and a p99 (from each request's intended start) of at most {:.0} ms ({}x the unloaded {} ms). Searched, not guessed: a closed-loop probe (every answer completed in its window counts, as wrk counts) gives the first estimate; open-loop probes then step up by one resolution step, then two, four, ... while sustained, and down the same way while not, bracket the maximum between the highest sustained and the lowest unsustained rate, and halve the bracket until its ends are within {:.0}% (the resolution); the answer must then hold over one {:.1} s confirmation probe, or the search goes on below it with long probes only (at most {} open-loop probes; results.csv's `step` says which probe was which, and `chosen` marks the answer). An open-loop probe lasts at least {} requests' worth of its rate, so that one request more or less is a small share of it",
                plan::SUSTAINED_SHARE * 100.0,
                scale.p99_bound_ms(),
                plan::P99_BOUND_FACTOR,
                scale.io_ms + scale.cpu_ms,
                scale.resolution * 100.0,
                scale.confirm.as_secs_f64(),
                plan::MAX_SEARCH_PROBES,
                plan::MIN_PROBE_REQUESTS
            ),
        ),
        (
            "method",
            format!(
                "{:.1} s search probes and {:.1} s confirmation and latency probes, each after {:.1} s of warm-up; {} repeat(s) per point, series rotated each repeat; each point is the median of its repeats with their min-max, and a point whose repeats differ by more than {:.0}% of its median is marked (* in tables, a ring in plots); load connections: 4 per worker (32 to 256) in closed loop, enough for the p99 bound in open loop; async-std's executor is sized to W with ASYNC_STD_THREAD_COUNT{}",
                scale.probe.as_secs_f64(),
                scale.confirm.as_secs_f64(),
                scale.warmup.as_secs_f64(),
                scale.repeat,
                plan::MARKED_SPREAD * 100.0,
                scale.python_workers.as_ref().map_or(String::new(), |only| format!(
                    "; the Python server baselines run at W = {} only (each worker is an interpreter, or a thread of one, that takes most of a second to start)",
                    only.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ))
            ),
        ),
        (
            "probes",
            format!(
                "{} ({} failed) in {:.0} s (planned {:.0} s)",
                info.probes, info.failed, info.duration_s, info.estimate_s
            ),
        ),
    ]);
    md.push_str(&settings(rows));
    md.push('\n');
    if !plan.absent.is_empty() {
        md.push_str("Not run:\n\n");
        for (executor, reason) in &plan.absent {
            let _ = writeln!(md, "- `{executor}`: {reason}");
        }
        md.push('\n');
    }
    for result in results {
        let figure = &result.figure;
        let _ = writeln!(md, "## Figure {}\n", figure.title);
        let _ = writeln!(md, "Reproduces {}.\n", figure.reproduces);
        let _ = writeln!(md, "![figure {}](fig{}.png)\n", figure.id, figure.id);
        for sentence in findings(result, scale, machine.cores) {
            let _ = writeln!(md, "- {sentence}");
        }
        let _ = writeln!(md, "- {}", marked_sentence(result, scale));
        md.push('\n');
        render_table(&mut md, result);
    }
    md
}

/// How many of a figure's points are marked: their repeats differ by more
/// than [`plan::MARKED_SPREAD`].
pub fn marked_counts(result: &FigureResult) -> (usize, usize) {
    let points = || {
        result
            .panels
            .iter()
            .flat_map(|(_, lines)| lines)
            .flat_map(|line| &line.points)
    };
    (
        points().filter(|point| is_marked(point)).count(),
        points().count(),
    )
}

fn marked_sentence(result: &FigureResult, scale: &ServingScale) -> String {
    let (marked, total) = marked_counts(result);
    if scale.repeat < 2 {
        return format!(
            "One repeat per point: no spread to mark ({total} points); rerun with --repeat 2 or more to see it."
        );
    }
    format!(
        "{marked} of {total} points are marked (their {} repeats differ by more than {:.0}% of the median; * in the table, a ring in the plot); a sentence above that quotes a marked point says so.",
        scale.repeat,
        plan::MARKED_SPREAD * 100.0
    )
}

fn render_table(md: &mut String, result: &FigureResult) {
    let (x_name, unit) = match result.figure.axis {
        Axis::Workers => ("W", "RPS"),
        Axis::Load => ("offered RPS", "ms"),
        Axis::Connections | Axis::Scenario => ("connections", "MiB"),
    };
    for (metric, lines) in &result.panels {
        let mut table = Table::new([
            ("series".to_owned(), Align::Left),
            (x_name.to_owned(), Align::Right),
            (format!("{metric} median ({unit})"), Align::Right),
            ("min-max".to_owned(), Align::Right),
            ("spread".to_owned(), Align::Right),
        ]);
        for line in lines {
            for point in &line.points {
                let (x, median, min, max) = point;
                table.row([
                    line.label.clone(),
                    format!("{x:.0}"),
                    format!("{median:.1}"),
                    format!("{min:.1}-{max:.1}"),
                    format!(
                        "{:.0}%{}",
                        100.0 * spread_share(point).min(9.99),
                        if is_marked(point) { " *" } else { "" }
                    ),
                ]);
            }
        }
        md.push_str(&table.render());
        md.push('\n');
    }
}

fn line<'a>(result: &'a FigureResult, label: &str) -> Option<&'a LineResult> {
    result
        .panels
        .first()?
        .1
        .iter()
        .find(|line| line.label == label)
}

/// Sentences computed from one figure's medians.
pub fn findings(result: &FigureResult, scale: &ServingScale, cores: usize) -> Vec<String> {
    let mut found = Vec::new();
    match result.figure.axis {
        Axis::Workers => {
            let (bound, per_request) = match result.net_bound {
                Some(net) => (net.bound_rps, net.server_cpu_ms_per_request),
                None => (scale.cpu_bound_rps(cores), scale.cpu_ms as f64),
            };
            if let (Some(mt), Some(net)) = (
                line(result, "tokio-mt").and_then(LineResult::best),
                result.net_bound,
            ) {
                found.push(format!(
                    "tokio-mt's best is {} at W = {:.0}. There the server spent {:.2} ms of CPU per request (the kernel, calibrated for {} ms once per sweep on a machine whose speed drifts, plus HTTP and the fetch), so the machine's bound is {:.0} RPS ({cores} cores x 1000 / {:.2} ms) and {:.0} RPS once the load generator ({:.0} ms of CPU per second) and the feature store ({:.0} ms per second) take their share of the same cores: tokio-mt reaches {:.0}% of the bound and {:.0}% of the net bound.",
                    value(&mt, "RPS"), mt.0, net.server_cpu_ms_per_request, scale.cpu_ms, net.bound_rps,
                    net.server_cpu_ms_per_request, net.net_rps, net.load_cpu_ms_per_s,
                    net.store_cpu_ms_per_s, 100.0 * mt.1 / net.bound_rps, 100.0 * mt.1 / net.net_rps
                ));
            }
            if let Some(net) = result.net_bound {
                found.push(above_bound(result, net.net_rps));
            }
            found.extend(alone_findings(result));
            if let Some(ct) = line(result, "tokio-ct") {
                if let (Some(one), Some(best)) = (ct.at(1.0), ct.best()) {
                    found.push(format!(
                        "One event loop (tokio-ct, W = 1) stops at {}, {:.0}% of the bound: its CPU work runs on one core. W event-loop processes on one port reach {} at W = {:.0} ({:.2}x one loop).",
                        value(&one, "RPS"), 100.0 * one.1 / bound, value(&best, "RPS"), best.0, best.1 / one.1.max(1e-9)
                    ));
                }
                if let Some(mt) = line(result, "tokio-mt").and_then(LineResult::best)
                    && let Some(best) = ct.best()
                {
                    found.push(format!(
                        "W event-loop processes (tokio-ct, best {} at W = {:.0}) against one work-stealing pool (tokio-mt, best {} at W = {:.0}): {:.2}x.",
                        value(&best, "RPS"), best.0, value(&mt, "RPS"), mt.0, best.1 / mt.1.max(1e-9)
                    ));
                }
            }
            if let (Some(free), Some(gil)) =
                (line(result, "threads"), line(result, "threads --gil"))
                && let (Some(free_best), Some(gil_best)) = (free.best(), gil.best())
            {
                found.push(format!(
                    "--gil on the thread pool: its best falls from {} (W = {:.0}) to {} (W = {:.0}), {:.2}x; {:.0} RPS is {:.0}% of one core's {:.0} RPS (1000 / {per_request:.2} ms): the lock holds the CPU part to about one core however many threads wait on I/O.",
                    value(&free_best, "RPS"), free_best.0, value(&gil_best, "RPS"), gil_best.0, free_best.1 / gil_best.1.max(1e-9),
                    gil_best.1, 100.0 * gil_best.1 / (bound / cores as f64), bound / cores as f64
                ));
            }
            if let (Some(processes), Some(gil)) =
                (line(result, "processes"), line(result, "processes --gil"))
                && let (Some(free_best), Some(gil_best)) = (processes.best(), gil.best())
            {
                found.push(format!(
                    "processes keep one GIL each: best {} without --gil, {} with it ({:.2}x).",
                    value(&free_best, "RPS"),
                    value(&gil_best, "RPS"),
                    free_best.1 / gil_best.1.max(1e-9)
                ));
            }
            found.extend(baseline_findings(result));
            if result.figure.id == crate::talk::FIGURE_ID {
                found.extend(crate::talk::findings(result, cores));
            }
        }
        Axis::Load => {
            let bound = scale.p99_bound_ms();
            let p99 = result
                .panels
                .iter()
                .find(|(metric, _)| metric.starts_with("p99 "));
            if let Some((_, lines)) = p99 {
                for line in lines {
                    let Some(first) = line.points.first() else {
                        continue;
                    };
                    let knee = line.points.iter().find(|p| p.1 > bound);
                    let last = line.points.last().copied().unwrap_or(*first);
                    found.push(match knee {
                        Some(knee) => format!(
                            "{}: p99 {:.1} ms at {:.0} RPS; it passes the {bound:.0} ms bound at {:.0} RPS ({:.0} ms), and reaches {:.0} ms at {:.0} RPS.",
                            line.label, first.1, first.0, knee.0, knee.1, last.1, last.0
                        ),
                        None => format!(
                            "{}: p99 {:.1} ms at {:.0} RPS and {:.1} ms at {:.0} RPS, under the {bound:.0} ms bound throughout.",
                            line.label, first.1, first.0, last.1, last.0
                        ),
                    });
                }
            }
        }
        // Summarized and reported by crate::article.
        Axis::Scenario => {}
        Axis::Connections => {
            if let Some((_, lines)) = result.panels.first() {
                for line in lines {
                    if let (Some(low), Some(high)) = (line.points.first(), line.points.last())
                        && high.0 > low.0
                    {
                        found.push(format!(
                            "{}: {:.1} MiB with {:.0} connections, {:.1} MiB with {:.0}: {:.1} KiB per extra connection (while {HOLD_RPS:.0} requests/s run over them).",
                            line.label, low.1, low.0, high.1, high.0, (high.1 - low.1) * 1024.0 / (high.0 - low.0)
                        ));
                    }
                }
            }
        }
    }
    if found.is_empty() {
        found.push("No finding: the series this figure compares did not all run.".to_owned());
    }
    for (executor, why) in &result.figure.left_out {
        found.push(format!("`{executor}` is not in this figure: {why}."));
    }
    found
}

/// Whether any point sits above the net bound by more than its own spread.
fn above_bound(result: &FigureResult, net_rps: f64) -> String {
    let mut above = Vec::new();
    for line in result.panels.first().map_or(&[][..], |(_, lines)| lines) {
        for point in &line.points {
            // Its lowest repeat is above the bound: more than its spread.
            if point.2 > net_rps {
                above.push(format!(
                    "{} at W = {:.0} ({})",
                    line.label,
                    point.0,
                    value(point, "RPS")
                ));
            }
        }
    }
    if above.is_empty() {
        format!(
            "No point's lowest repeat is above the net bound of {net_rps:.0} RPS (a median above it is within its own repeats' spread)."
        )
    } else {
        format!(
            "Above the net bound of {net_rps:.0} RPS in every repeat: {}. The net bound is computed from tokio-mt's CPU per request; a model that spends less CPU per request than tokio-mt can pass it.",
            above.join("; ")
        )
    }
}

/// The blocking models at W = 1 against what one worker can serve: 1000 /
/// a request's latency alone, measured at one connection beside them.
fn alone_findings(result: &FigureResult) -> Vec<String> {
    let mut found = Vec::new();
    for alone in &result.alone {
        let Some(single) = alone.at(1.0) else {
            continue;
        };
        let Some(max) = line(result, &alone.label).and_then(|line| line.at(1.0)) else {
            continue;
        };
        let blocking = ["threads", "processes", "py-gunicorn"]
            .contains(&alone.executor.split('@').next().unwrap_or_default());
        if !blocking || single.1 <= 0.0 {
            continue;
        }
        found.push(format!(
            "{} at W = 1 sustains {}; one request alone takes {:.1} ms there (closed loop, one connection), so one blocking worker can serve {:.0} RPS: {:.0}% of it.",
            alone.label,
            value(&max, "RPS"),
            1000.0 / single.1,
            single.1,
            100.0 * max.1 / single.1
        ));
    }
    found
}

/// Each server baseline of the throughput figure against the Rust model
/// that stands for it, best point against best point, and the W at which
/// each peaks.
const BASELINE_PAIRS: [(&str, &str, &str); 3] = [
    ("py-uvicorn", "tokio-ct", "FastAPI on uvicorn, W workers"),
    (
        "py-gunicorn",
        "processes",
        "Flask on gunicorn, W sync workers",
    ),
    ("go-nethttp", "tokio-mt", "Go net/http on GOMAXPROCS = W"),
];

/// The throughput figure's sentences on the server baselines, computed from
/// each line's best median.
fn baseline_findings(result: &FigureResult) -> Vec<String> {
    let mut found = Vec::new();
    for (baseline, model, what) in BASELINE_PAIRS {
        let Some(ours) = line(result, baseline).and_then(LineResult::best) else {
            continue;
        };
        match line(result, model).and_then(LineResult::best) {
            Some(rust) if ours.1 > 0.0 => found.push(format!(
                "{baseline} ({what}) peaks at {} at W = {:.0}; {model}, the Rust model that stands for it, at {} at W = {:.0}: {model} / {baseline} = {:.2}x.",
                value(&ours, "RPS"), ours.0, value(&rust, "RPS"), rust.0, rust.1 / ours.1
            )),
            Some(rust) => found.push(format!(
                "{baseline} ({what}) sustained no rate at any W; {model} peaks at {:.0} RPS at W = {:.0}.",
                rust.1, rust.0
            )),
            None => found.push(format!(
                "{baseline} ({what}) peaks at {} at W = {:.0}; {model} did not run, so there is no ratio.",
                value(&ours, "RPS"), ours.0
            )),
        }
    }
    found
}
