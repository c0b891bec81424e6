//! A sweep's results: one row per (figure, series, N, repeat), the per-point
//! medians with min-max, the ideal bound per figure, and their CSV and JSON.

use super::phases::{Phase, PhasesMs, RunDetail};
use super::plan::{Figure, Limits, Measure, Plan, Scale, Series, Workers};
use pipeline::{LatencySummary, RunReport};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// How one job of the schedule ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The child ran every batch; `run` numbers the child runs of the sweep from 1.
    Ok {
        /// Sequence number of the child run.
        run: usize,
        /// Its report.
        report: Box<RunReport>,
        /// What it held in flight and its phases, when the report says.
        detail: RunDetail,
    },
    /// The child failed, timed out or lost batches.
    Failed {
        /// Sequence number of the child run.
        run: usize,
        /// Why.
        error: String,
    },
    /// Not run, because an earlier run of the same curve failed.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// A row's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured.
    Ok,
    /// The run failed: the curve stops here.
    Failed,
    /// Not run: capped by the plan, beyond the machine's limits, or after a failure.
    Skipped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One row of `results.csv`: a (figure, series, N, repeat).
///
/// Figures with the same workload share runs (figures 3 and 4 both run
/// serial on io + CPU): their rows carry the same `run` number.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Figure id.
    pub figure: u8,
    /// Series label (`threads --gil`).
    pub series: String,
    /// Executor name.
    pub executor: String,
    /// Whether the GIL was emulated.
    pub gil: bool,
    /// The x value.
    pub n: u32,
    /// 1-based repeat.
    pub repeat: u32,
    /// Sequence number of the child run, when there was one.
    pub run: Option<usize>,
    /// Ok, failed or skipped.
    pub status: Status,
    /// Why a row failed or was skipped.
    pub reason: Option<String>,
    /// The run's report.
    pub report: Option<RunReport>,
    /// `in_flight_peak` and `phases_ms`, read from the run's JSON beside the
    /// report. Not written separately: the report carries both keys once
    /// `run --json` emits them, and [`RunDetail::from_report`] reads them
    /// back from it.
    #[serde(skip)]
    pub detail: RunDetail,
}

/// A point holds N when the median of its runs' `in_flight_peak` reaches
/// this share of N; below it, the tables, plots and sentences say how many
/// requests it really held.
pub const HELD_SHARE: f64 = 0.95;

/// What figure 8 divides the extra peak RSS by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Divisor {
    /// The extra requests the runs measured in flight at once (`in_flight_peak`).
    InFlight,
    /// The extra batches N, because a run of the point or of the curve's
    /// smallest N did not report `in_flight_peak`.
    Batches,
}

/// Median and range of a point's repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median (the upper median for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, or `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut values: Vec<f64> = values.into_iter().collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Spread {
            median: values[values.len() / 2],
            min: values[0],
            max: values[values.len() - 1],
        })
    }
}

/// One measured point of a curve.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    /// The x value.
    pub n: u32,
    /// Runs that went into it.
    pub runs: usize,
    /// Wall time.
    pub wall_ms: Spread,
    /// Median of the runs' own ideal bounds.
    pub ideal_ms: f64,
    /// `ideal_ms / median wall_ms`, at most 1; `None` when a run of the
    /// point lost batches (a sweep with injected faults), since the bound
    /// is for work that was not all done.
    pub efficiency: Option<f64>,
    /// Peak RSS of the run's process.
    pub peak_rss_kb: Spread,
    /// Median peak thread count.
    pub threads_peak: f64,
    /// Median of the runs' median batch latency (fetch issued to batch preprocessed).
    pub latency_p50_ms: f64,
    /// Median CPU time to preprocess one batch (decode and kernel), as each run measured it.
    pub cpu_per_batch_ms: f64,
    /// Median CPU time of the run's process per batch, user and system: the
    /// preprocessing plus the HTTP client and the runtime around it.
    pub process_cpu_per_batch_ms: f64,
    /// Median CPU time of the upstream per batch (the embedded feature
    /// store's, all its threads), when every run measured it.
    pub upstream_cpu_per_batch_ms: Option<f64>,
    /// The requests' own CPU floor: median over the runs of (the run's
    /// process CPU + the upstream's CPU) / cores. Both share the machine's
    /// cores, so no run can take less wall time than this, whatever its
    /// runtime; `None` when the upstream's CPU was not measured.
    pub cpu_floor_ms: Option<f64>,
    /// Peak RSS above the curve's smallest N, per extra request (figure 8).
    pub kib_per_request: Option<Spread>,
    /// What [`PointResult::kib_per_request`] is per.
    pub per_request_divisor: Option<Divisor>,
    /// Median `in_flight_peak` of the runs that reported it.
    pub in_flight_peak: Option<f64>,
    /// Whether the runs held fewer than [`HELD_SHARE`] of N in flight at once.
    pub short_of_n: bool,
    /// Per phase: the median over the runs of each percentile (the largest
    /// max), when any run measured phases.
    pub phases: Option<PhasesMs>,
}

impl PointResult {
    /// The plotted value for `measure`, when the point has one (a phase
    /// figure plots [`PointResult::phases`] instead).
    pub fn y(&self, measure: Measure) -> Option<Spread> {
        match measure {
            Measure::WallTime => Some(self.wall_ms),
            Measure::MemoryPerRequest => self.kib_per_request,
            Measure::Phases => None,
        }
    }

    /// The requests in flight that the point's memory is divided by: the
    /// measured peak, or N when the runs did not report it.
    pub fn in_flight_or_n(&self) -> (f64, Divisor) {
        match self.in_flight_peak {
            Some(peak) => (peak, Divisor::InFlight),
            None => (f64::from(self.n), Divisor::Batches),
        }
    }
}

/// Where a curve stops and why.
#[derive(Debug, Clone, Serialize)]
pub struct Stop {
    /// The first N that it does not reach.
    pub n: u32,
    /// Why: a cap, a limit of this machine, or the failed run's error.
    pub reason: String,
    /// Whether a run failed there (it is then a failed point of the
    /// tables, and the plot's legend says so), rather than the plan
    /// skipping it.
    pub failed: bool,
}

/// One curve's measured points.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesResult {
    /// Label (`threads --gil`).
    pub label: String,
    /// Executor name.
    pub executor: &'static str,
    /// GIL on.
    pub gil: bool,
    /// Pool size policy.
    pub workers: Workers,
    /// Points up to the stop, ascending N.
    pub points: Vec<PointResult>,
    /// Where it stops, if it does before the figure's largest N.
    pub stop: Option<Stop>,
}

impl SeriesResult {
    /// The point at `n`, if it was measured.
    pub fn at(&self, n: u32) -> Option<&PointResult> {
        self.points.iter().find(|point| point.n == n)
    }
}

/// The dashed line of a figure at one N.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    /// The x value.
    pub n: u32,
    /// The bound, in the y axis's unit.
    pub value: f64,
}

/// One figure's results.
#[derive(Debug, Clone, Serialize)]
pub struct FigureResult {
    /// The figure as planned.
    pub figure: Figure,
    /// Cores the runs had.
    pub cores: usize,
    /// Upstream delay.
    pub io_ms: u64,
    /// CPU time per batch requested.
    pub cpu_ms: u64,
    /// Median measured CPU time per batch over the figure's runs, which the
    /// ideal line uses.
    pub cpu_per_batch_ms: f64,
    /// What the dashed line is.
    pub bound_label: String,
    /// The dashed line.
    pub bound: Vec<Bound>,
    /// The curves.
    pub series: Vec<SeriesResult>,
}

/// Builds the rows and the per-figure results from the outcomes of the jobs,
/// keyed by (spec index, 0-based repeat).
pub fn summarize(
    plan: &Plan,
    scale: &Scale,
    limits: &Limits,
    outcomes: &HashMap<(usize, u32), Outcome>,
    body_bytes: usize,
) -> (Vec<Row>, Vec<FigureResult>) {
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for figure in &plan.figures {
        let mut series_results = Vec::new();
        for (series_index, series) in figure.series.iter().enumerate() {
            let mut points = Vec::new();
            let mut stop: Option<Stop> = None;
            for point in plan
                .points
                .iter()
                .filter(|p| p.figure == figure.id && p.series == series_index)
            {
                let mut reports: Vec<(RunReport, RunDetail)> = Vec::new();
                let mut problem = None;
                let mut failed = false;
                for repeat in 0..plan.repeat {
                    let row = row_for(figure, series, point.n, repeat, &point.run, outcomes);
                    failed |= row.status == Status::Failed;
                    match (&row.report, row.status) {
                        (Some(report), Status::Ok) => {
                            reports.push((report.clone(), row.detail.clone()));
                        }
                        _ => {
                            problem.get_or_insert_with(|| row.reason.clone().unwrap_or_default());
                        }
                    }
                    rows.push(row);
                }
                match problem {
                    Some(reason) if stop.is_none() => {
                        stop = Some(Stop {
                            n: point.n,
                            reason,
                            failed,
                        });
                    }
                    None if stop.is_none() => points.push(point_result(point.n, &reports)),
                    _ => {}
                }
            }
            if figure.measure == Measure::MemoryPerRequest {
                add_memory_per_request(&mut points);
            }
            series_results.push(SeriesResult {
                label: series.label(),
                executor: series.executor,
                gil: series.gil,
                workers: series.workers,
                points,
                stop,
            });
        }
        let figure_rows: Vec<&Row> = rows.iter().filter(|r| r.figure == figure.id).collect();
        let ok_reports = || figure_rows.iter().filter_map(|row| row.report.as_ref());
        let cores = ok_reports().map(|r| r.cores).next().unwrap_or(limits.cores);
        let cpu_per_batch_ms =
            Spread::of(ok_reports().map(|r| r.cpu_per_batch_ms)).map_or(0.0, |s| s.median);
        let cpu_ms = match figure.work {
            super::plan::Work::IoOnly => 0,
            super::plan::Work::IoAndCpu => scale.cpu_ms(),
        };
        let (bound_label, bound) = match figure.measure {
            Measure::WallTime => (
                format!("ideal: io + ceil(N / {cores}) x {cpu_per_batch_ms:.1} ms cpu per batch"),
                figure
                    .ns
                    .iter()
                    .map(|&n| Bound {
                        n,
                        value: RunReport::ideal_ms(scale.io_ms, n, cores, cpu_per_batch_ms),
                    })
                    .collect(),
            ),
            Measure::Phases => (String::new(), Vec::new()),
            Measure::MemoryPerRequest => {
                let kib = body_bytes as f64 / 1024.0;
                (
                    format!("one response body ({kib:.1} KiB), for reference"),
                    figure.ns.iter().map(|&n| Bound { n, value: kib }).collect(),
                )
            }
        };
        figures.push(FigureResult {
            figure: figure.clone(),
            cores,
            io_ms: scale.io_ms,
            cpu_ms,
            cpu_per_batch_ms,
            bound_label,
            bound,
            series: series_results,
        });
    }
    (rows, figures)
}

fn row_for(
    figure: &Figure,
    series: &Series,
    n: u32,
    repeat: u32,
    planned: &Result<usize, String>,
    outcomes: &HashMap<(usize, u32), Outcome>,
) -> Row {
    let mut detail = RunDetail::default();
    let (run, status, reason, report) = match planned {
        Err(reason) => (None, Status::Skipped, Some(reason.clone()), None),
        Ok(spec) => match outcomes.get(&(*spec, repeat)) {
            Some(Outcome::Ok {
                run,
                report,
                detail: measured,
            }) => {
                detail = measured.clone();
                (Some(*run), Status::Ok, None, Some((**report).clone()))
            }
            Some(Outcome::Failed { run, error }) => {
                (Some(*run), Status::Failed, Some(error.clone()), None)
            }
            Some(Outcome::Skipped { reason }) => {
                (None, Status::Skipped, Some(reason.clone()), None)
            }
            None => (
                None,
                Status::Skipped,
                Some("not run (the sweep was interrupted)".to_owned()),
                None,
            ),
        },
    };
    Row {
        figure: figure.id,
        series: series.label(),
        executor: series.executor.to_owned(),
        gil: series.gil,
        n,
        repeat: repeat + 1,
        run,
        status,
        reason,
        report,
        detail,
    }
}

fn point_result(n: u32, runs: &[(RunReport, RunDetail)]) -> PointResult {
    let reports: Vec<RunReport> = runs.iter().map(|(report, _)| report.clone()).collect();
    let spread = |f: fn(&RunReport) -> f64| {
        Spread::of(reports.iter().map(f)).expect("a measured point has at least one run")
    };
    let in_flight_peak = Spread::of(
        runs.iter()
            .filter_map(|(_, detail)| detail.in_flight_peak.map(|peak| peak as f64)),
    )
    .map(|spread| spread.median);
    let wall_ms = spread(|r| r.wall_ms);
    let ideal_ms = spread(|r| r.ideal_ms).median;
    PointResult {
        n,
        runs: reports.len(),
        wall_ms,
        ideal_ms,
        efficiency: point_efficiency(ideal_ms, wall_ms.median, &reports),
        peak_rss_kb: spread(|r| r.peak_rss_kb as f64),
        threads_peak: spread(|r| r.threads_peak as f64).median,
        latency_p50_ms: spread(|r| r.latency_ms.p50).median,
        cpu_per_batch_ms: spread(|r| r.cpu_per_batch_ms).median,
        process_cpu_per_batch_ms: spread(|r| {
            (r.cpu_user_ms + r.cpu_sys_ms) / f64::from(r.batches.max(1))
        })
        .median,
        upstream_cpu_per_batch_ms: every_run(&reports, |r| {
            r.upstream_cpu_ms
                .map(|cpu| cpu / f64::from(r.batches.max(1)))
        }),
        cpu_floor_ms: every_run(&reports, |r| {
            r.upstream_cpu_ms
                .map(|upstream| (r.cpu_user_ms + r.cpu_sys_ms + upstream) / r.cores.max(1) as f64)
        }),
        kib_per_request: None,
        per_request_divisor: None,
        in_flight_peak,
        short_of_n: in_flight_peak.is_some_and(|peak| holds_short(peak, n)),
        phases: point_phases(runs.iter().map(|(_, detail)| detail)),
    }
}

/// The median of `f` over the runs, when every run has a value.
fn every_run(reports: &[RunReport], f: impl Fn(&RunReport) -> Option<f64>) -> Option<f64> {
    let values: Option<Vec<f64>> = reports.iter().map(f).collect();
    Spread::of(values?).map(|spread| spread.median)
}

/// Whether `in_flight` requests at once fall short of N ([`HELD_SHARE`]).
pub fn holds_short(in_flight: f64, n: u32) -> bool {
    in_flight < HELD_SHARE * f64::from(n)
}

/// The phases of a point: per phase, the median over the runs that measured
/// it of their p50s and of their p99s, and the largest max.
fn point_phases<'a>(details: impl Iterator<Item = &'a RunDetail>) -> Option<PhasesMs> {
    let measured: Vec<&PhasesMs> = details.filter_map(|d| d.phases_ms.as_ref()).collect();
    let mut phases = PhasesMs::default();
    for phase in Phase::ALL {
        let summaries: Vec<LatencySummary> = measured.iter().filter_map(|p| p.get(phase)).collect();
        let median = |f: fn(&LatencySummary) -> f64| Spread::of(summaries.iter().map(f));
        if let (Some(p50), Some(p99), Some(max)) =
            (median(|s| s.p50), median(|s| s.p99), median(|s| s.max))
        {
            phases.set(
                phase,
                Some(LatencySummary {
                    p50: p50.median,
                    p99: p99.median,
                    max: max.max,
                }),
            );
        }
    }
    (!phases.is_empty()).then_some(phases)
}

/// A point's efficiency: `None` when any of its runs lost batches.
/// Capped at 1 as DESIGN.md's efficiency is: a run cannot beat the bound
/// unless the upstream ignores io_ms (a URL that is not a feature store).
fn point_efficiency(ideal_ms: f64, median_wall_ms: f64, reports: &[RunReport]) -> Option<f64> {
    if reports.iter().any(|r| r.ok < r.batches) {
        None
    } else if median_wall_ms > 0.0 {
        Some((ideal_ms / median_wall_ms).min(1.0))
    } else {
        Some(0.0)
    }
}

/// Figure 8's y: the peak RSS that each request in flight above the
/// smallest N adds, `(rss(N) - median rss(N0)) / (in_flight(N) -
/// in_flight(N0))`, so the process's fixed baseline (binary, runtime,
/// buffers) does not dominate small N. `in_flight` is the runs' measured
/// `in_flight_peak`: a run whose first requests finished before its last
/// ones started never held N, and dividing by N would understate the cost
/// of each request it did hold. When either point lacks the measurement,
/// both fall back to N, and [`PointResult::per_request_divisor`] says so.
pub(crate) fn add_memory_per_request(points: &mut [PointResult]) {
    let Some(first) = points.first().cloned() else {
        return;
    };
    for point in points.iter_mut().skip(1) {
        let ((held, divisor), (first_held, first_divisor)) =
            (point.in_flight_or_n(), first.in_flight_or_n());
        let (extra, divisor) = if divisor == Divisor::InFlight && first_divisor == Divisor::InFlight
        {
            (held - first_held, Divisor::InFlight)
        } else {
            (f64::from(point.n - first.n), Divisor::Batches)
        };
        if extra <= 0.0 {
            // No more requests in flight than at the smallest N: nothing to divide by.
            continue;
        }
        let per = |rss: f64| (rss - first.peak_rss_kb.median) / extra;
        point.kib_per_request = Some(Spread {
            median: per(point.peak_rss_kb.median),
            min: per(point.peak_rss_kb.min),
            max: per(point.peak_rss_kb.max),
        });
        point.per_request_divisor = Some(divisor);
    }
}

/// Batch counts whose ok runs disagree on the checksum (each entry says
/// which executors reported what); empty when every executor did the same work.
pub fn checksum_mismatches(rows: &[Row]) -> Vec<String> {
    let mut by_n: BTreeMap<u32, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for report in rows.iter().filter_map(|row| row.report.as_ref()) {
        by_n.entry(report.batches)
            .or_default()
            .entry(report.checksum.clone())
            .or_default()
            .insert(report.executor.clone());
    }
    by_n.into_iter()
        .filter(|(_, sums)| sums.len() > 1)
        .map(|(n, sums)| {
            let sums: Vec<String> = sums
                .iter()
                .map(|(sum, executors)| {
                    format!(
                        "{sum} ({})",
                        executors.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            format!("N = {n}: {}", sums.join(" vs "))
        })
        .collect()
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "figure",
    "series",
    "executor",
    "gil",
    "n",
    "repeat",
    "run",
    "status",
    "wall_ms",
    "ideal_ms",
    "efficiency",
    "cpu_per_batch_ms",
    "io_ms",
    "cpu_ms",
    "cpu_rounds",
    "workers",
    "cores",
    "peak_rss_kb",
    "threads_peak",
    "cpu_user_ms",
    "cpu_sys_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "in_flight_peak",
    "connect_p50_ms",
    "connect_p99_ms",
    "wait_p50_ms",
    "wait_p99_ms",
    "receive_p50_ms",
    "receive_p99_ms",
    "decode_p50_ms",
    "decode_p99_ms",
    "queue_p50_ms",
    "queue_p99_ms",
    "preprocess_p50_ms",
    "preprocess_p99_ms",
    "ok",
    "failed",
    "checksum",
    "reason",
];

/// `results.csv`: a header and one line per row.
pub fn to_csv(rows: &[Row]) -> String {
    let mut csv = CSV_COLUMNS.join(",");
    csv.push('\n');
    for row in rows {
        let mut fields = vec![
            row.figure.to_string(),
            row.series.clone(),
            row.executor.clone(),
            row.gil.to_string(),
            row.n.to_string(),
            row.repeat.to_string(),
            row.run.map(|r| r.to_string()).unwrap_or_default(),
            row.status.as_str().to_owned(),
        ];
        match &row.report {
            Some(r) => fields.extend([
                format!("{:.3}", r.wall_ms),
                format!("{:.3}", r.ideal_ms),
                r.efficiency.map_or_else(String::new, |e| format!("{e:.4}")),
                format!("{:.4}", r.cpu_per_batch_ms),
                r.io_ms.to_string(),
                r.cpu_ms.to_string(),
                r.cpu_rounds.to_string(),
                r.workers.to_string(),
                r.cores.to_string(),
                r.peak_rss_kb.to_string(),
                r.threads_peak.to_string(),
                format!("{:.1}", r.cpu_user_ms),
                format!("{:.1}", r.cpu_sys_ms),
                format!("{:.3}", r.latency_ms.p50),
                format!("{:.3}", r.latency_ms.p99),
                format!("{:.3}", r.latency_ms.max),
            ]),
            None => fields.extend(std::iter::repeat_n(String::new(), 16)),
        }
        // Empty where the run did not measure them (older builds, baselines).
        fields.push(
            row.detail
                .in_flight_peak
                .map(|peak| peak.to_string())
                .unwrap_or_default(),
        );
        for phase in Phase::ALL {
            let summary = row.detail.phases_ms.as_ref().and_then(|p| p.get(phase));
            fields.extend([
                summary.map_or_else(String::new, |s| format!("{:.3}", s.p50)),
                summary.map_or_else(String::new, |s| format!("{:.3}", s.p99)),
            ]);
        }
        match &row.report {
            Some(r) => fields.extend([r.ok.to_string(), r.failed.to_string(), r.checksum.clone()]),
            None => fields.extend(std::iter::repeat_n(String::new(), 3)),
        }
        fields.push(row.reason.clone().unwrap_or_default());
        debug_assert_eq!(fields.len(), CSV_COLUMNS.len());
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(csv, "{}", line.join(","));
    }
    csv
}

/// Quotes a CSV field when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Synthetic points, curves and figures for the unit tests of the report and the plots.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::fanout::plan::{self, Scale};

    pub(crate) fn point(n: u32, in_flight: Option<f64>, phases: Option<PhasesMs>) -> PointResult {
        let one = Spread::of([1.0]).unwrap();
        PointResult {
            n,
            runs: 3,
            wall_ms: one,
            ideal_ms: 1.0,
            efficiency: Some(1.0),
            peak_rss_kb: one,
            threads_peak: f64::from(n),
            latency_p50_ms: 1_000.0,
            cpu_per_batch_ms: 0.0,
            process_cpu_per_batch_ms: 0.0,
            upstream_cpu_per_batch_ms: None,
            cpu_floor_ms: None,
            kib_per_request: None,
            per_request_divisor: None,
            in_flight_peak: in_flight,
            short_of_n: in_flight.is_some_and(|held| holds_short(held, n)),
            phases,
        }
    }

    pub(crate) fn series(label: &'static str, points: Vec<PointResult>) -> SeriesResult {
        SeriesResult {
            label: label.to_owned(),
            executor: label,
            gil: false,
            workers: Workers::Default,
            points,
            stop: None,
        }
    }

    pub(crate) fn figure(id: u8, ns: Vec<u32>, series: Vec<SeriesResult>) -> FigureResult {
        let mut figure = plan::figures(&Scale::quick())
            .into_iter()
            .find(|f| f.id == id)
            .unwrap();
        figure.ns = ns;
        FigureResult {
            figure,
            cores: 2,
            io_ms: 100,
            cpu_ms: 100,
            cpu_per_batch_ms: 100.0,
            bound_label: String::new(),
            bound: Vec::new(),
            series,
        }
    }

    pub(crate) fn phases(queue_p50: f64) -> PhasesMs {
        let summary = |p50: f64| {
            Some(LatencySummary {
                p50,
                p99: 2.0 * p50,
                max: 3.0 * p50,
            })
        };
        PhasesMs {
            connect: summary(0.4),
            wait: summary(100.0),
            receive: summary(0.2),
            decode: summary(0.05),
            queue: summary(queue_p50),
            preprocess: summary(100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_median_and_the_range() {
        let spread = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((spread.median, spread.min, spread.max), (2.0, 1.0, 3.0));
        assert!(Spread::of([]).is_none());
    }

    #[test]
    fn csv_fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    fn point(n: u32, rss: f64, in_flight: Option<f64>) -> PointResult {
        PointResult {
            n,
            runs: 1,
            wall_ms: Spread::of([1.0]).unwrap(),
            ideal_ms: 1.0,
            efficiency: Some(1.0),
            peak_rss_kb: Spread::of([rss]).unwrap(),
            threads_peak: 1.0,
            latency_p50_ms: 1.0,
            cpu_per_batch_ms: 0.0,
            process_cpu_per_batch_ms: 0.0,
            upstream_cpu_per_batch_ms: None,
            cpu_floor_ms: None,
            kib_per_request: None,
            per_request_divisor: None,
            in_flight_peak: in_flight,
            short_of_n: in_flight.is_some_and(|held| holds_short(held, n)),
            phases: None,
        }
    }

    #[test]
    fn memory_per_request_subtracts_the_smallest_n() {
        let mut points = vec![point(1, 5_000.0, None), point(11, 5_200.0, None)];
        add_memory_per_request(&mut points);
        assert!(points[0].kib_per_request.is_none());
        assert_eq!(points[1].kib_per_request.unwrap().median, 20.0);
        assert_eq!(points[1].per_request_divisor, Some(Divisor::Batches));
    }

    #[test]
    fn memory_is_divided_by_the_requests_really_in_flight() {
        // The committed full set's threads curve: 10,000 batches, but the
        // first threads had finished before the last started.
        let mut points = vec![
            point(1, 5_700.0, Some(1.0)),
            point(10_000, 5_700.0 + 7_516.0 * 292.0, Some(7_517.0)),
        ];
        add_memory_per_request(&mut points);
        let per = points[1].kib_per_request.unwrap().median;
        assert!((per - 292.0).abs() < 1e-9, "{per}");
        assert_eq!(points[1].per_request_divisor, Some(Divisor::InFlight));
        assert!(points[1].short_of_n);
        // Dividing by N instead would have said about 219 KiB.
        let mut by_n = vec![
            point(1, 5_700.0, Some(1.0)),
            point(10_000, 5_700.0 + 7_516.0 * 292.0, None),
        ];
        add_memory_per_request(&mut by_n);
        assert_eq!(by_n[1].per_request_divisor, Some(Divisor::Batches));
        assert!(by_n[1].kib_per_request.unwrap().median < 0.76 * per);
    }

    #[test]
    fn a_point_is_short_below_ninety_five_percent_of_n() {
        assert!(holds_short(7_517.0, 10_000));
        assert!(holds_short(9_499.0, 10_000));
        assert!(!holds_short(9_500.0, 10_000));
        assert!(!holds_short(10_000.0, 10_000));
        assert!(!point(10_000, 1.0, None).short_of_n, "unknown is not short");
    }

    #[test]
    fn point_phases_take_medians_over_runs_that_measured_them() {
        let summary = |p50: f64| LatencySummary {
            p50,
            p99: 2.0 * p50,
            max: 3.0 * p50,
        };
        let with_queue = |p50: f64| RunDetail {
            in_flight_peak: Some(10),
            phases_ms: Some(PhasesMs {
                queue: Some(summary(p50)),
                ..PhasesMs::default()
            }),
        };
        let details = [
            with_queue(1.0),
            with_queue(5.0),
            with_queue(3.0),
            RunDetail::default(),
        ];
        let phases = point_phases(details.iter()).unwrap();
        let queue = phases.get(Phase::Queue).unwrap();
        assert_eq!((queue.p50, queue.p99, queue.max), (3.0, 6.0, 15.0));
        assert!(phases.get(Phase::Connect).is_none());
        assert!(point_phases([RunDetail::default()].iter()).is_none());
    }

    #[test]
    fn csv_rows_have_every_column_with_and_without_a_report() {
        let row = Row {
            figure: 8,
            series: "threads".to_owned(),
            executor: "threads".to_owned(),
            gil: false,
            n: 10,
            repeat: 1,
            run: None,
            status: Status::Skipped,
            reason: Some("capped".to_owned()),
            report: None,
            detail: RunDetail {
                in_flight_peak: Some(9),
                phases_ms: None,
            },
        };
        let csv = to_csv(&[row]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1].split(',').count(), CSV_COLUMNS.len(), "{csv}");
        let column = CSV_COLUMNS
            .iter()
            .position(|c| *c == "in_flight_peak")
            .unwrap();
        assert_eq!(lines[1].split(',').nth(column), Some("9"));
    }
}
