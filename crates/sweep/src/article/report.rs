//! The scenario figures' results: per server, the medians of its repeats
//! with their range, and the REPORT.md section that sets them beside the
//! article's numbers; every sentence is computed from the rows.

use super::plan::{self, ARTICLE, ARTICLE_CORES, ARTICLE_QUOTES, SHARES, Scenario};
use crate::serving::Row;
use crate::serving::plan::{
    self as serving_plan, Axis, Figure, ServingPlan, ServingScale, is_marked,
};
use crate::serving::report::{Point, spread};
use crate::table::{Align, Table, ms};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One server in one scenario: each value is `(x, median, min, max)` of its
/// repeats (x: 0, or the share of the max for a latency).
#[derive(Debug, Clone, Serialize)]
pub struct ServerResult {
    /// The series' label (`py-uvicorn -w 2`).
    pub label: String,
    /// The serving model or baseline.
    pub executor: String,
    /// `--workers`.
    pub workers: u32,
    /// Max sustainable QPS: the rate the search chose (0 where it sustained none).
    pub qps: Option<Point>,
    /// p50 and p99 in ms at each share of the max: `(share, p50, p99)`.
    pub latency: Vec<(f64, Point, Point)>,
    /// Peak RSS of the whole process tree after the point's last probe, MiB.
    pub peak_rss_mib: Option<Point>,
    /// RSS of the whole process tree right after start-up, before any load, MiB.
    pub rest_rss_mib: Option<Point>,
    /// CPU of the load generator, ms per second, at the chosen probe (median).
    pub load_cpu_ms_per_s: Option<f64>,
    /// CPU of the server, ms per second, at the chosen probe (median).
    pub server_cpu_ms_per_s: Option<f64>,
    /// Why probes of this server failed: `step: error`, once each.
    pub failures: Vec<String>,
}

impl ServerResult {
    /// The p50 and p99 at `share` of the max, if measured.
    pub fn at(&self, share: f64) -> Option<(Point, Point)> {
        self.latency
            .iter()
            .find(|(s, _, _)| *s == share)
            .map(|&(_, p50, p99)| (p50, p99))
    }

    /// The names of the values whose repeats differ by more than
    /// [`serving_plan::MARKED_SPREAD`].
    pub fn marked(&self) -> Vec<String> {
        let mut marked = Vec::new();
        let mut check = |name: String, point: Option<Point>| {
            if point.is_some_and(|point| is_marked(&point)) {
                marked.push(name);
            }
        };
        check("QPS".to_owned(), self.qps);
        for (share, p50, p99) in &self.latency {
            let percent = share * 100.0;
            check(format!("p50@{percent:.0}%"), Some(*p50));
            check(format!("p99@{percent:.0}%"), Some(*p99));
        }
        check("peak RSS".to_owned(), self.peak_rss_mib);
        check("RSS at rest".to_owned(), self.rest_rss_mib);
        marked
    }

    /// The lowest median p50 of its latency probes: the nearest these
    /// probes come to a request's own time.
    pub fn lowest_p50(&self) -> Option<Point> {
        self.latency
            .iter()
            .map(|(_, p50, _)| *p50)
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// How many values it has, marked or not.
    fn values(&self) -> usize {
        [self.qps, self.peak_rss_mib, self.rest_rss_mib]
            .iter()
            .flatten()
            .count()
            + 2 * self.latency.len()
    }
}

/// One scenario figure's results.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The figure.
    pub figure: Figure,
    /// Its scenario.
    pub scenario: Scenario,
    /// One per series, in the figure's order.
    pub servers: Vec<ServerResult>,
}

impl ScenarioResult {
    /// The server whose series label is `label`.
    pub fn server(&self, label: &str) -> Option<&ServerResult> {
        self.servers.iter().find(|server| server.label == label)
    }

    /// `executor` at `workers`, if it ran.
    pub fn find(&self, executor: &str, workers: u32) -> Option<&ServerResult> {
        self.servers
            .iter()
            .find(|server| server.executor == executor && server.workers == workers)
    }
}

/// The results of every scenario figure of `plan` ([`Axis::Scenario`]).
pub fn summarize(plan: &ServingPlan, rows: &[Row]) -> Vec<ScenarioResult> {
    plan.figures
        .iter()
        .filter(|figure| figure.axis == Axis::Scenario)
        .filter_map(|figure| {
            let scenario = *plan::scenario(figure.id)?;
            let servers = figure
                .series
                .iter()
                .map(|series| {
                    let label = series.label();
                    let rows: Vec<&Row> = rows
                        .iter()
                        .filter(|row| row.figure == figure.id && row.series == label)
                        .collect();
                    server_result(label, series.executor, series.server(1).workers, &rows)
                })
                .collect();
            Some(ScenarioResult {
                figure: figure.clone(),
                scenario,
                servers,
            })
        })
        .collect()
}

/// One server's values from its rows, repeat by repeat.
fn server_result(label: String, executor: &str, workers: u32, rows: &[&Row]) -> ServerResult {
    let mut failures = Vec::new();
    let mut repeats: BTreeMap<u32, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        match &row.error {
            Some(error) => {
                let failure = format!("{}: {error}", row.step);
                if !failures.contains(&failure) {
                    failures.push(failure);
                }
            }
            None => repeats.entry(row.repeat).or_default().push(row),
        }
    }
    // One value per repeat that has it, then their median and range.
    let per_repeat = |value: &dyn Fn(&[&Row]) -> Option<f64>, x: f64| -> Option<Point> {
        let values: Vec<f64> = repeats.values().filter_map(|rows| value(rows)).collect();
        (!values.is_empty()).then(|| spread(x, values))
    };
    fn chosen<'a>(rows: &[&'a Row]) -> Option<&'a Row> {
        rows.iter().copied().find(|row| row.chosen)
    }
    fn share_row<'a>(rows: &[&'a Row], share: f64) -> Option<&'a Row> {
        rows.iter()
            .copied()
            .find(|row| row.step == "share" && row.x == share)
    }
    let qps = per_repeat(
        &|rows| {
            let searched = rows.iter().any(|row| row.step == "closed");
            chosen(rows)
                .and_then(|row| row.offered_rps)
                .or(searched.then_some(0.0))
        },
        0.0,
    );
    let latency = SHARES
        .iter()
        .filter_map(|&share| {
            let p50 = per_repeat(&|rows| share_row(rows, share).map(|row| row.p50_ms), share)?;
            let p99 = per_repeat(&|rows| share_row(rows, share).map(|row| row.p99_ms), share)?;
            Some((share, p50, p99))
        })
        .collect();
    let mib = |kb: u64| kb as f64 / 1024.0;
    let peak_rss_mib = per_repeat(
        &|rows| {
            let peak = rows.iter().map(|row| row.server_peak_rss_kb).max()?;
            (peak > 0).then(|| mib(peak))
        },
        0.0,
    );
    let rest_rss_mib = per_repeat(
        &|rows| {
            let rest = rows.iter().find(|row| row.step == "rest")?;
            (rest.server_rss_kb > 0).then(|| mib(rest.server_rss_kb))
        },
        0.0,
    );
    let per_s = |value: &dyn Fn(&Row) -> f64| {
        per_repeat(
            &|rows| chosen(rows).map(|row| value(row) / row.window_s.max(1e-9)),
            0.0,
        )
        .map(|point| point.1)
    };
    ServerResult {
        label,
        executor: executor.to_owned(),
        workers,
        qps,
        latency,
        peak_rss_mib,
        rest_rss_mib,
        load_cpu_ms_per_s: per_s(&|row| row.load_cpu_ms),
        server_cpu_ms_per_s: per_s(&|row| row.server_cpu_ms),
        failures,
    }
}

/// A median with a `*` when its repeats differ by more than the marked spread.
fn cell(point: &Point, format: impl Fn(f64) -> String) -> String {
    let mark = if is_marked(point) { " *" } else { "" };
    format!("{}{mark}", format(point.1))
}

/// QPS as a cell: whole requests per second, thousands separated.
fn qps_text(value: f64) -> String {
    if value >= 100.0 {
        crate::table::thousands(value.round() as u32)
    } else {
        format!("{value:.1}")
    }
}

/// `a / b` of two QPS points as a cell, marked when either is.
fn ratio(a: Option<Point>, b: Option<Point>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.1 > 0.0 => {
            let mark = if is_marked(&a) || is_marked(&b) {
                " *"
            } else {
                ""
            };
            format!("{:.2}x{mark}", a.1 / b.1)
        }
        _ => "—".to_owned(),
    }
}

/// One side of a measured ratio: a server's executor and workers.
type Side = (&'static str, u32);

/// The ratios the article draws, measured: what each is, its numerator and
/// its denominator.
fn ratios(cores: u32) -> [(String, Side, Side); 4] {
    let pool = cores.max(1);
    [
        (
            format!("Gin / FastAPI (uvicorn -w {pool})"),
            ("go-gin", pool),
            ("py-uvicorn", pool),
        ),
        (
            "Gin / FastAPI (uvicorn -w 1)".to_owned(),
            ("go-gin", pool),
            ("py-uvicorn", 1),
        ),
        (
            "Gin / net/http".to_owned(),
            ("go-gin", pool),
            ("go-nethttp", pool),
        ),
        (
            "tokio-mt / Gin".to_owned(),
            ("tokio-mt", pool),
            ("go-gin", pool),
        ),
    ]
}

/// The REPORT.md section of the scenario figures (empty when none ran).
pub fn render(results: &[ScenarioResult], scale: &ServingScale, cores: usize) -> String {
    if results.is_empty() {
        return String::new();
    }
    let pool = cores.max(1) as u32;
    let mut md = String::new();
    let _ = writeln!(md, "## The Python-vs-Go article's table, measured\n");
    let _ = writeln!(
        md,
        "The article measures three scenarios on a {ARTICLE_CORES}-core VM with k6, FastAPI on uvicorn against Gin. Here every server runs each scenario's route on this machine's {cores} cores, beside the feature store and the load generator:\n"
    );
    for result in results {
        let _ = writeln!(
            md,
            "- figure {} ({}): `GET {}`, {};",
            result.figure.id, result.scenario.name, result.scenario.route, result.scenario.what
        );
    }
    let _ = writeln!(
        md,
        "\nPer server and scenario: its max sustainable QPS, found by the search above (the same definition: achieved within {:.0}%, no error, p99 at most {:.0} ms), then p50 and p99 over one {:.1} s open-loop probe at {} of that max; its RSS at rest (`VmRSS` of its whole process tree right after its readiness line, before any request) and its peak RSS (`VmHWM`, summed over the tree, after its last probe). FastAPI is `py-uvicorn -w {pool}` (the article's `uvicorn --workers 4` on its 4 cores: one worker per core); `-w 1` is beside it. `tokio-ct -w W` is W single-threaded event-loop processes on one port, as uvicorn's W workers are; `threads` has 8 handler threads per core and `processes` one process per core, as in figures 2 and 3. The article does not say at which load its latencies were taken; they are set beside the p50 and p99 at 90% here. The article's numbers are its own; every other number is measured.\n",
        serving_plan::SUSTAINED_SHARE * 100.0,
        scale.p99_bound_ms(),
        scale.confirm.as_secs_f64(),
        SHARES
            .iter()
            .map(|share| format!("{:.0}%", share * 100.0))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    let mut table = Table::new(
        std::iter::once(("QPS ratio".to_owned(), Align::Left)).chain(
            results
                .iter()
                .map(|result| (result.scenario.name.to_owned(), Align::Right)),
        ),
    );
    table.row(
        std::iter::once("Gin / FastAPI, the article".to_owned()).chain(results.iter().map(
            |result| {
                plan::article_ratio(result.scenario.name)
                    .map_or("—".to_owned(), |ratio| format!("{ratio:.2}x"))
            },
        )),
    );
    for (what, (a, a_workers), (b, b_workers)) in ratios(pool) {
        table.row(
            std::iter::once(format!("{what}, measured")).chain(results.iter().map(|result| {
                ratio(
                    result.find(a, a_workers).and_then(|s| s.qps),
                    result.find(b, b_workers).and_then(|s| s.qps),
                )
            })),
        );
    }
    md.push_str(&table.render());
    let _ = writeln!(
        md,
        "\n`*`: a side of the ratio is marked (its repeats differ by more than {:.0}%).\n",
        serving_plan::MARKED_SPREAD * 100.0
    );
    let _ = writeln!(md, "Where this machine differs from the article's VM:\n");
    for sentence in differences(results, scale, cores) {
        let _ = writeln!(md, "- {sentence}");
    }
    md.push('\n');
    for result in results {
        render_scenario(&mut md, result, scale, pool);
    }
    md
}

/// One scenario's section: the plot, the measured table, the article's
/// rows beside the measured ones, the failures and the marked values.
fn render_scenario(md: &mut String, result: &ScenarioResult, scale: &ServingScale, pool: u32) {
    let figure = &result.figure;
    let _ = writeln!(md, "## Figure {}\n", figure.title);
    let _ = writeln!(
        md,
        "Reproduces {}. Every request is `GET {}`: {}.\n",
        figure.reproduces, result.scenario.route, result.scenario.what
    );
    let _ = writeln!(md, "![figure {}](fig{}.png)\n", figure.id, figure.id);
    let mut columns = vec![
        ("server".to_owned(), Align::Left),
        ("max QPS".to_owned(), Align::Right),
        ("min-max".to_owned(), Align::Right),
    ];
    for share in SHARES {
        for percentile in ["p50", "p99"] {
            columns.push((
                format!("{percentile} @ {:.0}% (ms)", share * 100.0),
                Align::Right,
            ));
        }
    }
    columns.extend([
        ("peak RSS (MiB)".to_owned(), Align::Right),
        ("RSS at rest (MiB)".to_owned(), Align::Right),
        ("marked".to_owned(), Align::Left),
    ]);
    let mut table = Table::new(columns);
    for server in &result.servers {
        let mut cells = vec![server.label.clone()];
        match server.qps {
            Some(qps) => cells.extend([
                cell(&qps, qps_text),
                format!("{}-{}", qps_text(qps.2), qps_text(qps.3)),
            ]),
            None => cells.extend(["failed".to_owned(), "—".to_owned()]),
        }
        for share in SHARES {
            match server.at(share) {
                Some((p50, p99)) => cells.extend([cell(&p50, ms), cell(&p99, ms)]),
                None => cells.extend(["—".to_owned(), "—".to_owned()]),
            }
        }
        for memory in [server.peak_rss_mib, server.rest_rss_mib] {
            cells.push(memory.map_or("—".to_owned(), |m| cell(&m, |v| format!("{v:.1}"))));
        }
        let marked = server.marked();
        cells.push(if marked.is_empty() {
            String::new()
        } else {
            marked.join(", ")
        });
        table.row(cells);
    }
    md.push_str(&table.render());
    md.push('\n');

    let mut beside = Table::new([
        ("the article's server", Align::Left),
        ("here", Align::Left),
        ("QPS (article)", Align::Right),
        ("QPS (here)", Align::Right),
        ("p50 ms (article)", Align::Right),
        ("p50 @ 90% (here)", Align::Right),
        ("p99 ms (article)", Align::Right),
        ("p99 @ 90% (here)", Align::Right),
        ("memory MB (article)", Align::Right),
        ("peak RSS MiB (here)", Align::Right),
    ]);
    for row in ARTICLE
        .iter()
        .filter(|row| row.scenario == result.scenario.name)
    {
        let here = result.find(row.executor, pool);
        let latency = here.and_then(|server| server.at(0.9));
        beside.row([
            row.server.to_owned(),
            here.map_or(format!("{} -w {pool} (did not run)", row.executor), |s| {
                s.label.clone()
            }),
            qps_text(row.qps),
            here.and_then(|s| s.qps)
                .map_or("—".to_owned(), |q| cell(&q, qps_text)),
            ms(row.p50_ms),
            latency.map_or("—".to_owned(), |(p50, _)| cell(&p50, ms)),
            ms(row.p99_ms),
            latency.map_or("—".to_owned(), |(_, p99)| cell(&p99, ms)),
            row.memory_mb
                .map_or("—".to_owned(), |mb| format!("{mb:.0}")),
            here.and_then(|s| s.peak_rss_mib)
                .map_or("—".to_owned(), |m| cell(&m, |v| format!("{v:.1}"))),
        ]);
    }
    if result.scenario.name == "ping" {
        for (executor, quote, _) in ARTICLE_QUOTES {
            let here = result.find(executor, pool);
            beside.row([
                format!("{quote} (section 2.2)"),
                here.map_or(format!("{executor} -w {pool} (did not run)"), |s| {
                    s.label.clone()
                }),
                String::new(),
                here.and_then(|s| s.qps)
                    .map_or("—".to_owned(), |q| cell(&q, qps_text)),
            ]);
        }
    }
    md.push_str(&beside.render());
    md.push('\n');
    for server in &result.servers {
        for failure in &server.failures {
            let _ = writeln!(md, "- `{}` failed at {failure}", server.label);
        }
    }
    let (marked, values) = result
        .servers
        .iter()
        .fold((0, 0), |(m, v), s| (m + s.marked().len(), v + s.values()));
    if scale.repeat < 2 {
        let _ = writeln!(
            md,
            "- One repeat per point: no spread to mark ({values} values); rerun with --repeat 2 or more to see it.\n"
        );
    } else {
        let _ = writeln!(
            md,
            "- {marked} of {values} values are marked (`*`: their {} repeats differ by more than {:.0}% of the median).\n",
            scale.repeat,
            serving_plan::MARKED_SPREAD * 100.0
        );
    }
}

/// A median for a sentence, with its mark when its repeats differ.
fn said(point: &Point, format: impl Fn(f64) -> String) -> String {
    if is_marked(point) {
        format!(
            "{} (marked: its repeats span {}-{})",
            format(point.1),
            format(point.2),
            format(point.3)
        )
    } else {
        format(point.1)
    }
}

/// Sentences, computed from the rows, on where this machine makes the
/// comparison differ from the article's VM.
pub fn differences(results: &[ScenarioResult], scale: &ServingScale, cores: usize) -> Vec<String> {
    let pool = cores.max(1) as u32;
    let by_name = |name: &str| results.iter().find(|result| result.scenario.name == name);
    let qps = |result: &ScenarioResult, executor: &str, workers: u32| {
        result.find(executor, workers).and_then(|server| server.qps)
    };
    let mut found = Vec::new();
    let ms_text = |v: f64| format!("{} ms", ms(v));
    let qps_unit = |v: f64| format!("{} QPS", qps_text(v));
    if let Some(ping) = by_name("ping") {
        if let Some(gin) = ping.find("go-gin", pool)
            && let (Some(max), Some(load), Some(server)) =
                (gin.qps, gin.load_cpu_ms_per_s, gin.server_cpu_ms_per_s)
        {
            let machine_ms = cores as f64 * 1000.0;
            let article = plan::article_row("ping", "Gin").map_or(0.0, |row| row.qps);
            found.push(format!(
                "On ping the load generator shares the server's cores: at Gin's max ({}) it spent {:.0} ms of CPU per second ({:.0}% of the {cores} cores) and Gin {:.0} ms ({:.0}%). The article's Gin served {} on {ARTICLE_CORES} cores, {} per core; here {} per core.",
                said(&max, qps_unit),
                load,
                100.0 * load / machine_ms,
                server,
                100.0 * server / machine_ms,
                qps_unit(article),
                qps_unit(article / f64::from(ARTICLE_CORES)),
                qps_unit(max.1 / cores as f64)
            ));
        }
        if let (Some(fastapi), Some(gin)) =
            (ping.find("py-uvicorn", pool), ping.find("go-gin", pool))
            && let (Some(fastapi_peak), Some(gin_peak)) = (fastapi.peak_rss_mib, gin.peak_rss_mib)
        {
            let rest = |server: &ServerResult| {
                server.rest_rss_mib.map_or("unmeasured".to_owned(), |m| {
                    said(&m, |v| format!("{v:.0} MiB"))
                })
            };
            let article = |server| {
                plan::article_row("ping", server)
                    .and_then(|row| row.memory_mb)
                    .map_or("—".to_owned(), |mb| format!("{mb:.0} MB"))
            };
            found.push(format!(
                "Memory: {} holds {} at rest and {} at its ping peak, {} {} and {} (the article: {} vs {}); uvicorn's {pool} workers are {pool} interpreters beside their supervisor, each with its own imports, while Gin is one process whatever its GOMAXPROCS.",
                fastapi.label,
                rest(fastapi),
                said(&fastapi_peak, |v| format!("{v:.0} MiB")),
                gin.label,
                rest(gin),
                said(&gin_peak, |v| format!("{v:.0} MiB")),
                article("FastAPI"),
                article("Gin")
            ));
        }
    }
    if let Some(cpu) = by_name("cpu")
        && let (Some(fastapi), Some(gin)) = (cpu.find("py-uvicorn", pool), cpu.find("go-gin", pool))
    {
        if let (Some(python), Some(go)) = (fastapi.lowest_p50(), gin.lowest_p50()) {
            found.push(format!(
                "cpu is the languages' speed: one fib({}) takes {} on {} and {} on {} (the lower p50 of the 50% and 90% probes; {:.1}x, the same calls and additions); with one worker per core both are CPU-bound, so Gin / FastAPI in QPS is {} here and {:.1}x in the article.",
                plan::FIB_N,
                said(&python, ms_text),
                fastapi.label,
                said(&go, ms_text),
                gin.label,
                python.1 / go.1.max(1e-9),
                ratio(gin.qps, fastapi.qps),
                plan::article_ratio("cpu").unwrap_or(0.0)
            ));
        }
        if let Some(article) = plan::article_row("cpu", "FastAPI")
            && let Some((p50, _)) = fastapi.at(0.9)
        {
            let own_ms = 1000.0 * f64::from(ARTICLE_CORES) / article.qps;
            found.push(format!(
                "The article's cpu latencies are a queue's: at {} with {ARTICLE_CORES} workers a request's own work is at most {} ms, yet its p50 is {}; here the latencies are taken in open loop at 90% of the max sustainable rate, and FastAPI's p50 there is {}.",
                qps_unit(article.qps),
                ms(own_ms),
                ms_text(article.p50_ms),
                said(&p50, ms_text)
            ));
        }
    }
    if let Some(io) = by_name("io") {
        if let (Some(fastapi), Some(gin)) = (io.find("py-uvicorn", pool), io.find("go-gin", pool))
            && let (Some((python, _)), Some((go, _))) = (fastapi.at(0.5), gin.at(0.5))
        {
            let article = |server| {
                plan::article_row("io", server).map_or("—".to_owned(), |row| ms_text(row.p50_ms))
            };
            found.push(format!(
                "io waits on the feature store on the same machine, {} ms for the store's batch and {} ms for the cache's, instead of an external API and Redis: at half load the p50 is {} on {} and {} on {} (the article: {} and {}).",
                scale.io_ms,
                pipeline::serve::cache_delay_ms(scale.io_ms),
                said(&python, ms_text),
                fastapi.label,
                said(&go, ms_text),
                gin.label,
                article("FastAPI"),
                article("Gin")
            ));
        }
        let gap = |result: &ScenarioResult| match (
            qps(result, "go-gin", pool),
            qps(result, "py-uvicorn", pool),
        ) {
            (Some(gin), Some(fastapi)) if fastapi.1 > 0.0 => Some(gin.1 / fastapi.1),
            _ => None,
        };
        if let Some(ping) = by_name("ping")
            && let (Some(on_ping), Some(on_io)) = (gap(ping), gap(io))
            && let (Some(article_ping), Some(article_io)) =
                (plan::article_ratio("ping"), plan::article_ratio("io"))
        {
            let trend = if on_io < on_ping {
                "narrows, as in the article: where the wait dominates, the language matters less"
            } else {
                "does not narrow here, unlike in the article"
            };
            found.push(format!(
                "Gin / FastAPI goes from {on_ping:.2}x on ping to {on_io:.2}x on io (the article: {article_ping:.2}x to {article_io:.2}x): the gap {trend}."
            ));
        }
    }
    if found.is_empty() {
        found.push(
            "No comparison: FastAPI and Gin did not both run (install the baselines with scripts/baselines/install)."
                .to_owned(),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::plan::{ServingPlan, ServingScale};

    /// The rows one repeat of one server leaves: its memory at rest, a
    /// closed loop, the chosen confirmation at `qps`, and the two shares,
    /// whose p50 is `p50_ms` (and p99 three times that).
    fn point_rows(figure: u8, label: &str, repeat: u32, qps: f64, p50_ms: f64) -> Vec<Row> {
        let (executor, workers) = label.split_once(" -w ").expect("a label with -w");
        let row = |step: &str, x: f64| Row {
            figure,
            series: label.to_owned(),
            executor: executor.to_owned(),
            workers: workers.parse().expect("workers"),
            gil: false,
            x,
            repeat,
            step: step.to_owned(),
            connections: 32,
            offered_rps: None,
            achieved_rps: qps,
            answered_rps: qps,
            ok: 100,
            errors: 0,
            p50_ms,
            p90_ms: 2.0 * p50_ms,
            p99_ms: 3.0 * p50_ms,
            p999_ms: 4.0 * p50_ms,
            max_ms: 5.0 * p50_ms,
            sustained: true,
            chosen: false,
            server_cpu_ms: 500.0,
            load_cpu_ms: 800.0,
            store_cpu_ms: None,
            server_peak_rss_kb: 40 * 1024,
            server_rss_kb: 30 * 1024,
            server_processes: 1,
            window_s: 1.0,
            error: None,
        };
        vec![
            Row {
                server_peak_rss_kb: 20 * 1024,
                server_rss_kb: 10 * 1024,
                ..row("rest", 0.0)
            },
            row("closed", 0.0),
            Row {
                offered_rps: Some(qps),
                chosen: true,
                ..row("confirm", 0.0)
            },
            Row {
                offered_rps: Some(qps / 2.0),
                ..row("share", 0.5)
            },
            Row {
                offered_rps: Some(qps * 0.9),
                ..row("share", 0.9)
            },
        ]
    }

    fn plan() -> ServingPlan {
        ServingPlan {
            scale: ServingScale::quick(),
            figures: plan::figures(2),
            absent: Vec::new(),
        }
    }

    /// Two repeats of FastAPI, Gin, net/http and tokio-mt in every scenario.
    fn rows() -> Vec<Row> {
        let mut rows = Vec::new();
        for (figure, scale) in [(5, 100.0), (6, 1.0), (7, 10.0)] {
            for repeat in 0..2 {
                let jitter = 1.0 + 0.02 * f64::from(repeat);
                for (label, qps, p50) in [
                    ("py-uvicorn -w 2", 40.0, 20.0),
                    ("py-uvicorn -w 1", 20.0, 30.0),
                    ("go-gin -w 2", 160.0, 2.0),
                    ("go-nethttp -w 2", 200.0, 2.0),
                    ("tokio-mt -w 2", 320.0, 1.0),
                ] {
                    rows.extend(point_rows(figure, label, repeat, qps * scale * jitter, p50));
                }
            }
        }
        rows
    }

    #[test]
    fn each_server_s_values_are_the_median_and_range_of_its_repeats() {
        let results = summarize(&plan(), &rows());
        assert_eq!(results.len(), 3);
        let ping = &results[0];
        assert_eq!(ping.scenario.name, "ping");
        let gin = ping.server("go-gin -w 2").expect("Gin ran");
        let qps = gin.qps.expect("a max");
        assert!((qps.1 - 16_160.0).abs() < 1e-6, "{qps:?}");
        assert_eq!((qps.2, qps.3), (16_000.0, 16_320.0));
        let (p50, p99) = gin.at(0.9).expect("the 90% probe");
        assert_eq!((p50.1, p99.1), (2.0, 6.0));
        assert_eq!(gin.peak_rss_mib.map(|m| m.1), Some(40.0));
        assert_eq!(gin.rest_rss_mib.map(|m| m.1), Some(10.0));
        assert_eq!(gin.load_cpu_ms_per_s, Some(800.0));
        assert!(gin.marked().is_empty());
        // A server that did not run has nothing, and says so in the table.
        let threads = ping.server("threads -w 16").expect("planned");
        assert!(threads.qps.is_none() && threads.latency.is_empty());
    }

    #[test]
    fn a_server_whose_repeats_differ_is_marked() {
        let mut rows = rows();
        for row in rows
            .iter_mut()
            .filter(|row| row.repeat == 1 && row.figure == 5)
        {
            if let Some(rate) = row.offered_rps.as_mut() {
                *rate *= 1.5;
            }
        }
        let results = summarize(&plan(), &rows);
        let gin = results[0].server("go-gin -w 2").expect("Gin ran");
        assert_eq!(gin.marked(), vec!["QPS".to_owned()]);
        let markdown = render(&results, &plan().scale, 2);
        assert!(
            markdown.contains("of 10 values are marked") || markdown.contains("values are marked")
        );
    }

    #[test]
    fn the_report_sets_the_article_beside_the_rows_and_computes_the_ratios() {
        let results = summarize(&plan(), &rows());
        let markdown = render(&results, &plan().scale, 2);
        // The article's own numbers, from its data table.
        for needle in [
            "12,000",
            "45,000",
            "3.75x",
            "13.33x",
            "1.67x",
            "Flask + gunicorn",
        ] {
            assert!(markdown.contains(needle), "{needle}:\n{markdown}");
        }
        // Gin / FastAPI from the medians: 161.6 / 40.4 = 4.00x; tokio-mt / Gin 2.00x.
        assert!(
            markdown.contains("| Gin / FastAPI (uvicorn -w 2), measured | 4.00x | 4.00x | 4.00x |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| tokio-mt / Gin, measured | 2.00x | 2.00x | 2.00x |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| Gin / net/http, measured | 0.80x |"),
            "{markdown}"
        );
        // Sentences from the rows: the languages' speed, 20 ms vs 2 ms.
        assert!(
            markdown.contains("probes; 10.0x, the same calls and additions)"),
            "{markdown}"
        );
        assert!(
            markdown.contains("the gap does not narrow here"),
            "{markdown}"
        );
        assert!(markdown.contains("## Figure 6. cpu"), "{markdown}");
        assert!(markdown.contains("![figure 7](fig7.png)"), "{markdown}");
    }

    #[test]
    fn no_scenario_figure_no_section() {
        assert_eq!(render(&[], &ServingScale::quick(), 2), "");
    }

    #[test]
    fn the_chart_draws_every_server_to_png_and_svg() {
        let results = summarize(&plan(), &rows());
        let out =
            std::env::temp_dir().join(format!("runtime-lab-article-chart-{}", std::process::id()));
        std::fs::create_dir_all(&out).expect("a temporary folder");
        for result in &results {
            let chart = result.chart(&plan().scale, 2);
            assert_eq!(chart.panels.len(), 2);
            assert_eq!(chart.panels[0].groups.len(), plan::series(2).len());
            crate::draw::write_figure(&out, result.figure.id, &chart).expect("drawn");
            assert!(out.join(format!("fig{}.png", result.figure.id)).is_file());
            assert!(out.join(format!("fig{}.svg", result.figure.id)).is_file());
        }
        // cpu's servers differ by 8x here: linear; the log axis is for 20x and more.
        assert!(!results[1].chart(&plan().scale, 2).panels[0].y_log);
        if std::env::var_os("KEEP_CHART").is_none() {
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}
