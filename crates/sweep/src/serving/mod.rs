//! `runtime-lab sweep --server`: the articles' server figures, measured here.
//!
//! One feature store and one calibration serve the whole sweep. Every point
//! starts a fresh `runtime-lab serve` child ([`measure::ServerChild`]),
//! drives it with `runtime-lab load --json` children, reads the server's CPU
//! time and peak memory from /proc, and stops it with SIGTERM. Series are
//! interleaved and rotated each repeat; each point is the median of the
//! repeats with min-max whiskers. The figures are data ([`plan`]); the
//! charts ([`chart`]) and REPORT.md ([`report`]) are computed from the rows.
//!
//! "Max sustainable" is searched, not guessed: a closed-loop probe
//! measures what the server completes with its connections kept busy (every
//! answer that arrives in the window counts, as wrk counts), and from that
//! estimate [`plan::Search`] brackets the highest open-loop rate sustained
//! (achieved within 5%, no errors, p99 under the stated bound) between a
//! sustained and an unsustained rate, narrows it to the scale's resolution,
//! and confirms it with one longer probe. At W = 1, a probe at one
//! connection (step `alone`) measures a request's latency alone, whose
//! inverse is what one blocking worker can serve.
//!
//! With `--baselines` (or a server baseline named in `--executors`), the
//! articles' own servers join the figures they belong to
//! ([`plan::FIGURE_BASELINES`]), served by the same `runtime-lab serve`.

pub mod chart;
pub mod measure;
pub mod plan;
pub mod report;

use crate::SweepOptions;
use crate::machine::Machine;
use crate::{FEATURES, executor_status, prepare_out_dir, write_atomically};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use lab::upstream::{Upstream, UsageError};
use measure::{Offer, ServerChild, Tools};
use plan::{Axis, Figure, Series, Server, ServingPlan, ServingScale};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Requests per second that the memory figure offers while it holds its
/// connections: low, so that the connections, not the requests, are measured.
pub const HOLD_RPS: f64 = 50.0;

/// The most load connections an open-loop probe opens.
const MAX_OPEN_CONNECTIONS: u32 = 1024;

/// One load probe of one server, as a row of results.csv.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Figure id.
    pub figure: u8,
    /// The series' label.
    pub series: String,
    /// The serving model.
    pub executor: String,
    /// `--workers` of the server.
    pub workers: u32,
    /// `--gil`.
    pub gil: bool,
    /// The x value: workers, share of the maximum, or connections.
    pub x: f64,
    /// 0-based repeat.
    pub repeat: u32,
    /// `closed` (the throughput probe), `search` (an open-loop step of the
    /// search), `share` (a latency point) or `hold` (a memory point).
    pub step: String,
    /// Load connections.
    pub connections: u32,
    /// The open-loop rate, if any.
    pub offered_rps: Option<f64>,
    /// Completed requests per second: in open loop, the window's requests
    /// answered before the drain ends.
    pub achieved_rps: f64,
    /// Ok answers that arrived inside the window, per second, whatever
    /// their start: what the sustained rule reads.
    pub answered_rps: f64,
    /// Requests answered 200.
    pub ok: u64,
    /// Requests failed.
    pub errors: u64,
    /// Latency percentiles (from each request's intended start in open loop), ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
    /// Whether this open-loop rate was sustained (see [`plan::SUSTAINED_SHARE`]).
    pub sustained: bool,
    /// Whether this probe's rate is its search's answer: the point's max
    /// sustainable RPS (at most one row per search).
    pub chosen: bool,
    /// CPU time of the server's processes during the probe.
    pub server_cpu_ms: f64,
    /// CPU time of the load generator.
    pub load_cpu_ms: f64,
    /// CPU time of the embedded feature store during the probe.
    pub store_cpu_ms: Option<f64>,
    /// Sum of the server processes' peak RSS after the probe.
    pub server_peak_rss_kb: u64,
    /// Sum of the server processes' resident memory now (`VmRSS`), after
    /// the probe (or at rest, before any load, for step `rest`).
    #[serde(default)]
    pub server_rss_kb: u64,
    /// Server processes.
    pub server_processes: u32,
    /// Wall time of the probe, warm-up included.
    pub window_s: f64,
    /// Why the probe or its server failed.
    pub error: Option<String>,
}

/// Runs the server sweep that `args` describe and writes its report folder.
pub fn run(args: &SweepOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let (date, started_at) = crate::machine::utc_now();
    let machine = Machine::detect();
    let mut scale = if args.quick {
        ServingScale::quick()
    } else {
        ServingScale::full()
    };
    if let Some(repeat) = args.repeat {
        scale.repeat = repeat;
    }
    if let Some(io_ms) = args.io_ms {
        scale.io_ms = io_ms;
    }
    if let Some(probe_ms) = args.probe_ms {
        // Every probe scales, the confirmations in their ratio to the search's.
        let confirm_ratio = scale.confirm.as_secs_f64() / scale.probe.as_secs_f64();
        scale.probe = Duration::from_millis(probe_ms);
        scale.confirm = scale.probe.mul_f64(confirm_ratio);
        scale.warmup = Duration::from_millis(probe_ms / 4);
    }
    if let Some(max_n) = args.max_n {
        scale.workers.retain(|&w| w <= max_n);
        scale.connection_counts.retain(|&c| c <= max_n);
        for (values, first) in [(&mut scale.workers, 1), (&mut scale.connection_counts, 100)] {
            if values.is_empty() {
                values.push(first.min(max_n));
            }
        }
    }
    let plan = plan_for(args, scale, machine.cores)?;
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("reports").join(default_folder(&date, &plan, args, machine.cores))
    });
    let created = prepare_out_dir(&out)?;
    let swept = sweep_into(args, &plan, &out, &machine, started, started_at);
    if swept.is_err() && created {
        let _ = std::fs::remove_dir(&out);
    }
    swept
}

/// The default output folder: `<date>-server-[article-]<quick|full>[-baselines]-<cores>c`,
/// so that the article's table, a set with the baselines and one without
/// do not write into each other.
fn default_folder(date: &str, plan: &ServingPlan, args: &SweepOptions, cores: usize) -> String {
    let article = !plan.figures.is_empty()
        && plan
            .figures
            .iter()
            .all(|figure| figure.axis == Axis::Scenario);
    format!(
        "{date}-server-{}{}{}-{cores}c",
        if article { "article-" } else { "" },
        plan.scale.name,
        if args.baselines { "-baselines" } else { "" },
    )
}

/// The figures selected with `--figures`, with the series `--executors`
/// keeps and this machine can run; the article's scenario figures
/// ([`Axis::Scenario`]) run only when named.
fn plan_for(args: &SweepOptions, scale: ServingScale, cores: usize) -> anyhow::Result<ServingPlan> {
    let mut all = plan::figures(cores as u32);
    let with_baselines = args.baselines
        || args
            .executors
            .iter()
            .any(|name| lab::baselines::find(name).is_some());
    if with_baselines {
        all = plan::with_baselines(all, cores as u32);
    } else if args.figures.contains(&crate::talk::FIGURE_ID) {
        // The talk's figure is all baselines: named, it runs without --baselines.
        all.push(crate::talk::figure());
    }
    all.extend(crate::article::plan::figures(cores as u32));
    if let Some(bad) = args
        .figures
        .iter()
        .find(|id| !all.iter().any(|f| f.id == **id))
    {
        let ids: Vec<String> = all.iter().map(|f| f.id.to_string()).collect();
        return Err(UsageError(format!(
            "the server sweep has figures {}; there is no figure {bad}",
            ids.join(", ")
        ))
        .into());
    }
    // Figure 4 shares figure 1's series only where figure 1 runs.
    let selected = |id: u8| args.figures.is_empty() || args.figures.contains(&id);
    if selected(crate::talk::FIGURE_ID) && !selected(crate::talk::SHARES_WITH) {
        for figure in &mut all {
            if figure.id == crate::talk::FIGURE_ID {
                *figure = crate::talk::figure();
            }
        }
    }
    let mut absent = Vec::new();
    let figures = all
        .into_iter()
        .filter(|figure| match args.figures.is_empty() {
            true => figure.axis != Axis::Scenario,
            false => args.figures.contains(&figure.id),
        })
        .map(|mut figure| {
            figure.series.retain(|series| {
                match executor_status(series.executor, &args.executors) {
                    Ok(()) => true,
                    Err(reason) => {
                        let entry = (series.executor.to_owned(), reason);
                        if !absent.contains(&entry) {
                            absent.push(entry);
                        }
                        false
                    }
                }
            });
            figure
        })
        .collect();
    Ok(ServingPlan {
        scale,
        figures,
        absent,
    })
}

/// Everything after the output folder is known to be writable.
fn sweep_into(
    args: &SweepOptions,
    plan: &ServingPlan,
    out: &Path,
    machine: &Machine,
    started: Instant,
    started_at: String,
) -> anyhow::Result<()> {
    // Raised here, so that every server and load (children) inherits it.
    lab::limits::raise_open_file_limit();
    let upstream = Upstream::prepare(
        args.upstream.as_deref(),
        None,
        &args.faults,
        lab::upstream::ProbeTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        },
    )?;
    let calibration = pipeline::Calibration::measure(FEATURES);
    let tools = Tools {
        program: std::env::current_exe().context("cannot find the runtime-lab binary")?,
        upstream: upstream.url().to_owned(),
        upstream_kind: upstream.kind(),
        io_ms: plan.scale.io_ms,
        cpu_ms: plan.scale.cpu_ms,
        cpu_rounds: calibration.rounds_for(plan.scale.cpu_ms as f64),
    };
    let bar = ProgressBar::new(plan.estimate().as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:28}] {percent:>3}% ETA {eta:>3} {wide_msg}",
        )
        .expect("the progress template is valid")
        .progress_chars("=> "),
    );
    let mut sweep = Sweeper {
        tools: &tools,
        scale: &plan.scale,
        upstream: &upstream,
        bar: &bar,
        rows: Vec::new(),
        answers: BTreeMap::new(),
    };
    for figure in &plan.figures {
        sweep.figure(figure);
    }
    bar.finish_and_clear();
    let rows = sweep.rows;
    drop(upstream);

    let args_given: Vec<String> = std::env::args().skip(1).collect();
    let info = report::Info {
        command: crate::machine::command_line(Path::new("runtime-lab"), &args_given),
        started: started_at,
        duration_s: started.elapsed().as_secs_f64(),
        estimate_s: plan.estimate().as_secs_f64(),
        cpu_rounds: tools.cpu_rounds,
        rounds_per_ms: calibration.rounds_per_ms,
        upstream: tools.upstream.clone(),
        probes: rows.len(),
        failed: rows.iter().filter(|row| row.error.is_some()).count(),
    };
    let results = report::summarize(plan, &rows, machine.cores);
    let scenarios = crate::article::report::summarize(plan, &rows);
    write_atomically(out, "results.csv", report::to_csv(&rows).as_bytes())?;
    let json = serde_json::json!({
        "machine": machine,
        "sweep": info,
        "scale": plan.scale,
        "figures": results,
        "scenarios": scenarios,
        "rows": rows,
    });
    let json = serde_json::to_string_pretty(&json).context("cannot encode results.json")?;
    write_atomically(out, "results.json", json.as_bytes())?;
    for result in &results {
        crate::draw::write_figure(
            out,
            result.figure.id,
            &result.chart(&plan.scale, machine.cores),
        )?;
    }
    for result in &scenarios {
        crate::draw::write_figure(
            out,
            result.figure.id,
            &result.chart(&plan.scale, machine.cores),
        )?;
    }
    let mut markdown = report::render(machine, &info, plan, &results);
    markdown.push_str(&crate::article::report::render(
        &scenarios,
        &plan.scale,
        machine.cores,
    ));
    write_atomically(out, "REPORT.md", markdown.as_bytes())?;
    println!(
        "wrote {} ({} figures, {} probes, {} failed, in {:.0} s)",
        out.display(),
        results.len() + scenarios.len(),
        info.probes,
        info.failed,
        info.duration_s
    );
    Ok(())
}

/// Runs the figures' points and collects their rows; other server figure
/// families start, search and probe their servers through it too.
pub(crate) struct Sweeper<'a> {
    pub(crate) tools: &'a Tools,
    pub(crate) scale: &'a ServingScale,
    pub(crate) upstream: &'a Upstream,
    pub(crate) bar: &'a ProgressBar,
    pub(crate) rows: Vec<Row>,
    /// Each searched server's answer in an earlier repeat, by figure,
    /// series and workers: where a later repeat's search starts.
    pub(crate) answers: BTreeMap<(u8, String, u32), f64>,
}

/// Where a probe's row belongs, and the route its load asks for.
#[derive(Clone, Copy)]
pub(crate) struct Point<'a> {
    pub(crate) figure: u8,
    pub(crate) series: &'a Series,
    pub(crate) server: Server,
    pub(crate) x: f64,
    pub(crate) repeat: u32,
    /// The path and query every request asks for ([`measure::PREDICT_ROUTE`]).
    pub(crate) route: &'static str,
}

impl Sweeper<'_> {
    fn figure(&mut self, figure: &Figure) {
        for repeat in 0..self.scale.repeat {
            // Rotate the series each repeat, so no series always runs first.
            let mut series = figure.series.clone();
            let n_series = series.len().max(1);
            series.rotate_left(repeat as usize % n_series);
            match figure.axis {
                Axis::Workers => {
                    for &workers in &self.scale.workers {
                        for series in &series {
                            if !self.scale.workers_of(series).contains(&workers) {
                                continue;
                            }
                            let point = Point {
                                figure: figure.id,
                                series,
                                server: series.server(workers),
                                x: f64::from(workers),
                                repeat,
                                route: measure::PREDICT_ROUTE,
                            };
                            self.with_server(point, |sweep, child| {
                                if workers == 1 {
                                    sweep.alone(point, child);
                                }
                                sweep.search_max(point, child);
                            });
                        }
                    }
                }
                Axis::Load => {
                    for series in &series {
                        let point = Point {
                            figure: figure.id,
                            series,
                            server: series.server(1),
                            x: 0.0,
                            repeat,
                            route: measure::PREDICT_ROUTE,
                        };
                        self.with_server(point, |sweep, child| {
                            let max = sweep.search_max(point, child);
                            let shares = sweep.scale.load_shares.clone();
                            sweep.probe_shares(point, child, max, &shares);
                        });
                    }
                }
                Axis::Scenario => {
                    for series in &series {
                        crate::article::measure::point(self, figure, series, repeat);
                    }
                }
                Axis::Connections => {
                    for &connections in &self.scale.connection_counts {
                        for series in &series {
                            let point = Point {
                                figure: figure.id,
                                series,
                                server: series.server(1),
                                x: f64::from(connections),
                                repeat,
                                route: measure::PREDICT_ROUTE,
                            };
                            self.with_server(point, |sweep, child| {
                                sweep.probe(
                                    point,
                                    child,
                                    "hold",
                                    Offer::Open(HOLD_RPS),
                                    connections,
                                    sweep.scale.probe,
                                );
                            });
                        }
                    }
                }
            }
        }
    }

    /// Starts the point's server, runs `measure` on it, and stops it; a
    /// server that does not start or stop cleanly becomes a failed row.
    pub(crate) fn with_server(
        &mut self,
        point: Point<'_>,
        measure: impl FnOnce(&mut Self, &ServerChild),
    ) {
        let server = point.server;
        self.bar.set_message(format!(
            "fig {}: {} -w {}{} (repeat {}/{})",
            point.figure,
            server.executor,
            server.workers,
            if server.gil { " --gil" } else { "" },
            point.repeat + 1,
            self.scale.repeat
        ));
        let started = Instant::now();
        match ServerChild::start(self.tools, &server) {
            Ok(child) => {
                measure(self, &child);
                if let Err(error) = child.stop() {
                    self.fail(point, "stop", error);
                }
            }
            Err(error) => self.fail(point, "start", error),
        }
        self.bar.inc(started.elapsed().as_millis() as u64);
    }

    /// The highest open-loop rate `child` sustains, or 0 when none was;
    /// every probe of the search is a row.
    ///
    /// The first repeat's closed-loop probe gives the first estimate (a
    /// later repeat starts from the earlier one's answer instead, which is
    /// closer and saves the probe; the search is never capped by where it
    /// starts); [`plan::Search`] then brackets the maximum with short
    /// open-loop probes (step `search`) and narrows it to the scale's
    /// resolution, and one probe of the longer `confirm` window at the
    /// answer (step `confirm`) must sustain it too.
    pub(crate) fn search_max(&mut self, point: Point<'_>, child: &ServerChild) -> f64 {
        let key = (point.figure, point.series.label(), point.server.workers);
        let estimate = match self.answers.get(&key) {
            Some(&answer) if answer > 0.0 => answer,
            _ => {
                let connections = plan::saturating_connections(&point.server);
                let Some(closed) = self.probe(
                    point,
                    child,
                    "closed",
                    Offer::Closed,
                    connections,
                    self.scale.probe,
                ) else {
                    return 0.0;
                };
                closed.achieved_rps
            }
        };
        let mut search = plan::Search::new(estimate, self.scale.resolution);
        // Row index of each open-loop probe of this search, by rate.
        let mut probes: Vec<(f64, usize)> = Vec::new();
        let mut found = None;
        for _ in 0..plan::MAX_SEARCH_PROBES {
            let (rate, long) = match search.next() {
                plan::Next::Probe { rate, long } => (rate, long),
                plan::Next::Done(answer) => {
                    found = answer;
                    break;
                }
            };
            let (step, window) = if long {
                ("confirm", self.scale.confirm)
            } else {
                ("search", self.scale.probe)
            };
            let connections = open_connections(rate, self.scale, &point.server);
            // Enough requests that one more or less cannot decide the rule.
            let window = plan::probe_window(rate, window);
            let Some(row) = self.probe(point, child, step, Offer::Open(rate), connections, window)
            else {
                break;
            };
            probes.push((rate, self.rows.len() - 1));
            search.record(rate, long, row.sustained);
            // Out of probes: the highest rate sustained, unconfirmed (or none).
            found = search.best();
        }
        self.answers.insert(key, found.unwrap_or(0.0));
        let Some(max) = found else {
            return 0.0;
        };
        // The answer's row, the last sustained probe at that rate (its
        // confirmation when there was one), is the point.
        if let Some(&(_, index)) = probes
            .iter()
            .rev()
            .find(|(rate, index)| *rate == max && self.rows[*index].sustained)
        {
            self.rows[index].chosen = true;
        }
        max
    }

    /// One open-loop probe of the confirmation's length at each share of
    /// `max` (step `share`, x the share): the latency at those loads.
    /// Nothing when the search sustained no rate.
    pub(crate) fn probe_shares(
        &mut self,
        point: Point<'_>,
        child: &ServerChild,
        max: f64,
        shares: &[f64],
    ) {
        if max <= 0.0 {
            return;
        }
        for &share in shares {
            let rate = max * share;
            let point = Point { x: share, ..point };
            let connections = open_connections(rate, self.scale, &point.server);
            self.probe(
                point,
                child,
                "share",
                Offer::Open(rate),
                connections,
                self.scale.confirm,
            );
        }
    }

    /// One closed-loop probe at one connection: the latency of a request
    /// alone, whose inverse is what one blocking worker can serve.
    pub(crate) fn alone(&mut self, point: Point<'_>, child: &ServerChild) {
        self.probe(point, child, "alone", Offer::Closed, 1, self.scale.probe);
    }

    /// One load probe against `child`, recorded as a row (also when it fails).
    pub(crate) fn probe(
        &mut self,
        point: Point<'_>,
        child: &ServerChild,
        step: &str,
        offer: Offer,
        connections: u32,
        window: Duration,
    ) -> Option<Row> {
        let server_before = child.usage();
        let store_before = self.upstream.cpu_ms();
        let started = Instant::now();
        let loaded = measure::load(
            self.tools,
            child.addr,
            point.route,
            offer,
            connections,
            self.scale.warmup,
            window,
            // A request that takes longer than the p99 bound is not served
            // in time anyway; up to it, it counts in the achieved rate.
            Duration::from_secs_f64(self.scale.p99_bound_ms() / 1e3),
        );
        let window_s = started.elapsed().as_secs_f64();
        let server_after = child.usage();
        let store_cpu_ms = self
            .upstream
            .cpu_ms()
            .zip(store_before)
            .map(|(after, before)| after - before);
        let load = match loaded {
            Ok(load) => load,
            Err(error) => {
                self.fail(point, step, error);
                return None;
            }
        };
        let offered_rps = match offer {
            Offer::Closed => None,
            Offer::Open(rate) => Some(rate),
        };
        let errors = load.error_count();
        let sustained = offered_rps.is_some_and(|rate| {
            load.answered_rps >= plan::SUSTAINED_SHARE * rate
                && errors == 0
                && load.latency_ms.p99 <= self.scale.p99_bound_ms()
        });
        let row = Row {
            step: step.to_owned(),
            connections,
            offered_rps,
            achieved_rps: load.achieved_rps,
            answered_rps: load.answered_rps,
            ok: load.ok,
            errors,
            p50_ms: load.latency_ms.p50,
            p90_ms: load.latency_ms.p90,
            p99_ms: load.latency_ms.p99,
            p999_ms: load.latency_ms.p999,
            max_ms: load.latency_ms.max,
            sustained,
            server_cpu_ms: server_after.cpu_ms - server_before.cpu_ms,
            load_cpu_ms: load.cpu_user_ms + load.cpu_sys_ms,
            store_cpu_ms,
            server_peak_rss_kb: server_after.peak_rss_kb,
            server_rss_kb: server_after.rss_kb,
            server_processes: server_after.processes,
            window_s,
            ..self.empty_row(point)
        };
        self.rows.push(row.clone());
        Some(row)
    }

    pub(crate) fn fail(&mut self, point: Point<'_>, step: &str, error: String) {
        self.bar.suspend(|| {
            eprintln!(
                "probe failed: {} -w {} ({step}): {error}",
                point.server.executor, point.server.workers
            );
        });
        self.rows.push(Row {
            step: step.to_owned(),
            error: Some(error),
            ..self.empty_row(point)
        });
    }

    /// The row of `point` with nothing measured yet.
    pub(crate) fn empty_row(&self, point: Point<'_>) -> Row {
        Row {
            figure: point.figure,
            series: point.series.label(),
            executor: point.server.executor.to_owned(),
            workers: point.server.workers,
            gil: point.server.gil,
            x: point.x,
            repeat: point.repeat,
            step: String::new(),
            connections: 0,
            offered_rps: None,
            achieved_rps: 0.0,
            answered_rps: 0.0,
            ok: 0,
            errors: 0,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p99_ms: 0.0,
            p999_ms: 0.0,
            max_ms: 0.0,
            sustained: false,
            chosen: false,
            server_cpu_ms: 0.0,
            load_cpu_ms: 0.0,
            store_cpu_ms: None,
            server_peak_rss_kb: 0,
            server_rss_kb: 0,
            server_processes: 0,
            window_s: 0.0,
            error: None,
        }
    }
}

/// Connections for an open-loop probe at `rate`: enough to hold every
/// request that may be in flight at the p99 bound, and never fewer than
/// the closed loop used.
pub(crate) fn open_connections(rate: f64, scale: &ServingScale, server: &Server) -> u32 {
    let in_flight = rate * scale.p99_bound_ms() / 1e3;
    (in_flight.ceil() as u32)
        .max(plan::saturating_connections(server))
        .min(MAX_OPEN_CONNECTIONS)
}
