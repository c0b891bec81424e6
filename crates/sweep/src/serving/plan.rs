//! What `sweep --server` runs: the articles' three server figures, as data.
//!
//! Nothing here starts a process, so the budget of `--quick`, the figures'
//! series and the search for a maximum rate are unit-tested as plain data.

use lab::baselines;
use serde::Serialize;
use std::time::Duration;

/// The serving models of DESIGN.md's table, in its order.
pub const SERVING_MODELS: [&str; 8] = [
    "tokio-ct",
    "tokio-ct-offload",
    "processes",
    "threads",
    "tokio-mt",
    "smol",
    "async-std",
    "glommio",
];

/// A server baseline in a figure: its name and its fixed workers, if any.
pub type BaselineSeries = (&'static str, Option<u32>);

/// What `--baselines` adds to each figure: the articles' own servers beside
/// the Rust models that stand for them (FastAPI on uvicorn beside `tokio-ct`,
/// Flask on gunicorn beside `processes`, Go's net/http beside `tokio-mt`).
/// `None` for the workers means the x axis varies them; `Some(0)` means the
/// figure's pool size (the machine's cores).
pub const FIGURE_BASELINES: [(u8, &[BaselineSeries]); 3] = [
    (
        1,
        &[
            ("py-uvicorn", None),
            ("py-gunicorn", None),
            ("go-nethttp", None),
            ("go-gin", None),
        ],
    ),
    (
        2,
        &[
            ("py-uvicorn", Some(1)),
            ("py-uvicorn", Some(0)),
            ("go-nethttp", Some(0)),
        ],
    ),
    (3, &[("py-uvicorn", Some(1)), ("go-nethttp", Some(0))]),
];

/// Why a server baseline is left out of a figure it could be in.
pub const BASELINES_LEFT_OUT: [(u8, &str, &str); 1] = [(
    3,
    "py-gunicorn",
    "gunicorn's sync workers answer every request with `Connection: close` and serve one connection at a time per worker, so they hold no keep-alive connections to measure (the others queue in the listen backlog)",
)];

/// The definition of "max sustainable": an offered rate is sustained when
/// the achieved rate is at least this share of it ...
pub const SUSTAINED_SHARE: f64 = 0.95;

/// (counted by the answers that arrive inside the window, `answered_rps`,
/// which above the server's capacity is the capacity whatever the
/// window's length, while the window's own requests can all be answered
/// during the drain) ...
///
/// ... no request fails, and the p99 latency, measured from each request's
/// intended start, stays under this many times the unloaded request time
/// (`io_ms + cpu_ms`).
pub const P99_BOUND_FACTOR: f64 = 10.0;

/// The most open-loop probes one search runs, its confirmations included;
/// a search that has not converged by then keeps its highest sustained rate,
/// confirmed or not (results.csv says which).
pub const MAX_SEARCH_PROBES: u32 = 12;

/// An open-loop probe lasts at least this many requests' worth of its rate
/// (at 40 requests per second, a second rather than half of one): a
/// request more or less in the window is then at most 2.5% of it, within
/// the [`SUSTAINED_SHARE`] that a probe may fall short.
pub const MIN_PROBE_REQUESTS: f64 = 40.0;

/// The window of an open-loop probe at `rate` asked to last `window`:
/// at least [`MIN_PROBE_REQUESTS`] requests long.
pub fn probe_window(rate: f64, window: Duration) -> Duration {
    window.max(Duration::from_secs_f64(
        MIN_PROBE_REQUESTS / rate.max(MIN_SEARCH_RATE),
    ))
}

/// The lowest rate the search tries: below it, the server sustains nothing.
pub const MIN_SEARCH_RATE: f64 = 1.0;

/// The search for the maximum sustainable rate, as data: it brackets the
/// maximum between the highest rate sustained and the lowest rate not
/// sustained so far, and narrows the bracket to `resolution`.
///
/// It starts from an estimate (the closed-loop throughput, which counts
/// every answer in its window and so is close to the server's capacity).
/// While every rate is sustained it steps up by one resolution step, then
/// two, four, ...; while none is, it steps down the same way (so a good
/// estimate costs one step and a bad one a few, and the estimate never
/// caps the answer); with a rate on each
/// side, it tries the bracket's geometric middle. When the bracket's ends
/// are within `resolution`, its lower end must hold over one long probe
/// (the confirmation). A long probe that fails makes every later probe long
/// too: short probes near the capacity are too short for the queue to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    estimate: f64,
    resolution: f64,
    /// The highest rate sustained so far, and whether a long probe sustained it.
    pub sustained: Option<(f64, bool)>,
    /// The lowest rate not sustained so far.
    pub unsustained: Option<f64>,
    /// Rates sustained while none failed.
    successes: u32,
    /// Rates not sustained while none was.
    failures: u32,
    /// A long probe has failed: every probe from now on is long.
    long_only: bool,
}

/// What the search wants next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Probe this rate, with a long (confirming) probe or a short one.
    Probe {
        /// Requests per second to offer.
        rate: f64,
        /// A confirmation-length probe.
        long: bool,
    },
    /// The answer: a rate confirmed by a long probe, or none sustained down
    /// to [`MIN_SEARCH_RATE`].
    Done(Option<f64>),
}

impl Search {
    /// A search from `estimate` requests per second, to within `resolution`
    /// (0.05: the bracket's ends within 5% of each other).
    pub fn new(estimate: f64, resolution: f64) -> Self {
        Search {
            estimate: estimate.max(MIN_SEARCH_RATE),
            resolution,
            sustained: None,
            unsustained: None,
            successes: 0,
            failures: 0,
            long_only: false,
        }
    }

    /// The next step.
    pub fn next(&self) -> Next {
        let step = 1.0 + self.resolution;
        let probe = |rate: f64| Next::Probe {
            rate,
            long: self.long_only,
        };
        match (self.sustained, self.unsustained) {
            (None, None) => probe(self.estimate),
            (Some((low, _)), None) => probe(low * step.powi(1 << (self.successes - 1).min(8))),
            (None, Some(high)) => {
                let rate = high / step.powi(1 << (self.failures - 1).min(8));
                if rate < MIN_SEARCH_RATE {
                    Next::Done(None)
                } else {
                    probe(rate)
                }
            }
            // Within one step, with a little slack for the float arithmetic.
            (Some((low, long)), Some(high)) if high <= low * step * (1.0 + 1e-9) => {
                if long {
                    Next::Done(Some(low))
                } else {
                    Next::Probe {
                        rate: low,
                        long: true,
                    }
                }
            }
            (Some(_), Some(high)) => {
                let (low, _) = self.sustained.unwrap_or_default();
                probe((low * high).sqrt())
            }
        }
    }

    /// Records whether `rate` was sustained, by a long probe or a short one.
    pub fn record(&mut self, rate: f64, long: bool, sustained: bool) {
        if sustained {
            if self.unsustained.is_none() {
                self.successes += 1;
            }
            match self.sustained {
                Some((low, _)) if low > rate => {}
                Some((low, was_long)) if low == rate => {
                    self.sustained = Some((low, was_long || long))
                }
                _ => self.sustained = Some((rate, long)),
            }
        } else {
            self.unsustained = Some(self.unsustained.map_or(rate, |high| high.min(rate)));
            self.long_only |= long;
            // A rate at or above a failed one cannot stand: a failed
            // confirmation moves the bracket down.
            if self.sustained.is_some_and(|(low, _)| low >= rate) {
                self.sustained = None;
            }
            if self.sustained.is_none() {
                self.failures += 1;
            }
        }
    }

    /// The highest rate sustained so far, confirmed or not.
    pub fn best(&self) -> Option<f64> {
        self.sustained.map(|(rate, _)| rate)
    }
}

/// The families of figure 1's panels, and of figure 2's when it has more
/// than [`MAX_SERIES_PER_PANEL`] series: each baseline beside the Rust
/// models that stand for it. A series belongs to the first family that
/// names its executor (a baseline's name without its `@interpreter`).
pub const FAMILIES: [(&str, &[&str]); 4] = [
    (
        "one event loop, or W event-loop processes",
        &["tokio-ct", "tokio-ct-offload", "py-uvicorn", "py-gevent"],
    ),
    (
        "a pool of W threads, with and without the GIL",
        &["threads", "py-gthread", "py-granian"],
    ),
    (
        "W processes, with and without the GIL",
        &["processes", "py-gunicorn"],
    ),
    (
        "work stealing and thread-per-core",
        &[
            "tokio-mt",
            "smol",
            "async-std",
            "glommio",
            "go-nethttp",
            "go-gin",
        ],
    ),
];

/// The most series one panel draws before a figure splits into families.
pub const MAX_SERIES_PER_PANEL: usize = 6;

/// The family of a series' executor: its index in [`FAMILIES`] (the last
/// one for an executor no family names).
pub fn family_of(executor: &str) -> usize {
    let name = executor.split('@').next().unwrap_or(executor);
    FAMILIES
        .iter()
        .position(|(_, members)| members.contains(&name))
        .unwrap_or(FAMILIES.len() - 1)
}

/// Repeats whose (max - min) / median is above this share mark their point
/// as unsteady, in tables, plots and REPORT.md.
pub const MARKED_SPREAD: f64 = 0.15;

/// The spread of a point `(x, median, min, max)`'s repeats: (max - min) / median.
pub fn spread_share(point: &(f64, f64, f64, f64)) -> f64 {
    if point.1 > 0.0 {
        (point.3 - point.2) / point.1
    } else if point.3 > point.2 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Whether a point's repeats differ by more than [`MARKED_SPREAD`].
pub fn is_marked(point: &(f64, f64, f64, f64)) -> bool {
    spread_share(point) > MARKED_SPREAD
}

/// The scale of a server sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingScale {
    /// `quick` or `full`, in the default output folder's name.
    pub name: &'static str,
    /// Upstream delay of every fetch.
    pub io_ms: u64,
    /// CPU time of every request: with `io_ms`, the articles' 80% / 20% mix.
    pub cpu_ms: u64,
    /// x values of the throughput figure.
    pub workers: Vec<u32>,
    /// x values of the latency figure, as shares of each model's maximum.
    pub load_shares: Vec<f64>,
    /// x values of the memory figure: keep-alive connections held at once.
    pub connection_counts: Vec<u32>,
    /// Measured length of one search probe.
    pub probe: Duration,
    /// Warm-up before each probe, not measured.
    pub warmup: Duration,
    /// Measured length of the probe that confirms a search's answer, and of
    /// the latency figure's probes: long enough that the p99 bound holds
    /// over many times its own length.
    pub confirm: Duration,
    /// The search narrows its bracket to within this share.
    pub resolution: f64,
    /// The workers a Python server baseline gets on the workers axis, of
    /// `workers`: each of its workers is an interpreter (or a thread of
    /// one) that takes most of a second to start, and every Python server
    /// of figures 1 and 4 runs at each (`None`: every x value).
    pub python_workers: Option<Vec<u32>>,
    /// Repeats per point: each point is their median, with their range.
    pub repeat: u32,
}

impl ServingScale {
    /// The articles' figures in full: three repeats, 1 s search probes
    /// confirmed by 4 s ones, to within 5%, up to 10,000 connections.
    pub fn full() -> Self {
        ServingScale {
            name: "full",
            io_ms: 20,
            cpu_ms: 5,
            workers: vec![1, 2, 4, 8, 16, 32],
            load_shares: vec![0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
            connection_counts: vec![100, 1_000, 5_000, 10_000],
            probe: Duration::from_secs(1),
            warmup: Duration::from_millis(300),
            confirm: Duration::from_secs(4),
            resolution: 0.05,
            python_workers: None,
            repeat: 3,
        }
    }

    /// The same figures with two repeats, shorter probes (0.5 s, confirmed
    /// by 1 s, four times the p99 bound), fewer workers (the Python servers
    /// at W = 1 and 8) and a 10% resolution: within ten minutes on 2 cores,
    /// fifteen with the baselines (see
    /// [`ServingPlan::estimate`]).
    pub fn quick() -> Self {
        ServingScale {
            name: "quick",
            workers: vec![1, 2, 8, 32],
            load_shares: vec![0.1, 0.5, 0.9, 1.0, 1.2],
            connection_counts: vec![100, 1_000, 5_000],
            probe: Duration::from_millis(500),
            warmup: Duration::from_millis(100),
            confirm: Duration::from_secs(1),
            resolution: 0.10,
            python_workers: Some(vec![1, 8]),
            repeat: 2,
            ..ServingScale::full()
        }
    }

    /// The p99 above which a rate is not sustained, in milliseconds.
    pub fn p99_bound_ms(&self) -> f64 {
        P99_BOUND_FACTOR * (self.io_ms + self.cpu_ms) as f64
    }

    /// The workers axis' values for `series`: fewer for a Python baseline
    /// when [`ServingScale::python_workers`] says so.
    pub fn workers_of(&self, series: &Series) -> Vec<u32> {
        let python = baselines::find(series.executor)
            .is_some_and(|baseline| baseline.language == baselines::Language::Python);
        self.workers
            .iter()
            .copied()
            .filter(|w| {
                !python
                    || self
                        .python_workers
                        .as_ref()
                        .is_none_or(|only| only.contains(w))
            })
            .collect()
    }

    /// The machine's bound for this mix: every core busy with request CPU work.
    pub fn cpu_bound_rps(&self, cores: usize) -> f64 {
        cores as f64 * 1000.0 / self.cpu_ms as f64
    }
}

/// One server configuration: a serving model, its workers, the GIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Server {
    /// The serving model (`--executor`).
    pub executor: &'static str,
    /// `--workers`.
    pub workers: u32,
    /// `--gil`.
    pub gil: bool,
}

/// A curve: a serving model with the GIL on or off (and, in the latency
/// figure, a fixed worker count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Series {
    /// The serving model.
    pub executor: &'static str,
    /// `--gil`.
    pub gil: bool,
    /// Fixed workers, where the x axis is not the workers.
    pub workers: Option<u32>,
}

impl Series {
    const fn model(executor: &'static str) -> Self {
        Series {
            executor,
            gil: false,
            workers: None,
        }
    }

    const fn with_gil(executor: &'static str) -> Self {
        Series {
            executor,
            gil: true,
            workers: None,
        }
    }

    const fn at(executor: &'static str, workers: u32) -> Self {
        Series {
            executor,
            gil: false,
            workers: Some(workers),
        }
    }

    /// The label in plots, tables and the CSV.
    pub fn label(&self) -> String {
        let mut label = self.executor.to_owned();
        if let Some(workers) = self.workers {
            label += &format!(" -w {workers}");
        }
        if self.gil {
            label += " --gil";
        }
        label
    }

    /// The server of this series at `workers` (its own, when it has fixed ones).
    pub fn server(&self, workers: u32) -> Server {
        Server {
            executor: self.executor,
            workers: self.workers.unwrap_or(workers),
            gil: self.gil,
        }
    }
}

/// What a figure's x axis varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Axis {
    /// Max sustainable RPS vs `--workers`.
    Workers,
    /// Latency percentiles vs offered load, as shares of the maximum.
    Load,
    /// Peak RSS of the server vs keep-alive connections held.
    Connections,
    /// One bar per server at one scenario's route: the Python-vs-Go
    /// article's table (figures 5 to 7, measured by [`crate::article`]).
    Scenario,
}

/// One figure of the server sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// 1 to 3, and the article's 5 to 7.
    pub id: u8,
    /// The plot's caption.
    pub title: &'static str,
    /// What it reproduces, for REPORT.md.
    pub reproduces: &'static str,
    /// The x axis.
    pub axis: Axis,
    /// The curves.
    pub series: Vec<Series>,
    /// Series deliberately left out of this figure, and why, for REPORT.md.
    pub left_out: Vec<(&'static str, &'static str)>,
}

/// The three figures, with every series DESIGN.md's serving table names;
/// `cores` fixes the workers of the latency and memory figures.
pub fn figures(cores: u32) -> Vec<Figure> {
    let pool = cores.max(1);
    vec![
        Figure {
            id: 1,
            title: "1. Max sustainable RPS vs workers (80% I/O, 20% CPU)",
            reproduces: "the free-threading talk's RPS of an API at 1 to 32 threads or workers: GIL threads, free threads, processes, one or W event loops, work stealing",
            axis: Axis::Workers,
            series: vec![
                Series::model("tokio-ct"),
                Series::model("tokio-ct-offload"),
                Series::with_gil("tokio-ct-offload"),
                Series::model("processes"),
                Series::with_gil("processes"),
                Series::model("threads"),
                Series::with_gil("threads"),
                Series::model("tokio-mt"),
                Series::model("smol"),
                Series::model("async-std"),
                Series::model("glommio"),
            ],
            left_out: Vec::new(),
        },
        Figure {
            id: 2,
            title: "2. Latency vs offered load (open loop, share of each model's max)",
            reproduces: "the Python-vs-Go article's QPS, p50 and p99 table for FastAPI (1 and W uvicorn workers) and Gin, as curves that show where the knee is",
            axis: Axis::Load,
            series: vec![
                Series::at("tokio-ct", 1),
                Series::at("tokio-ct", pool),
                Series::at("threads", 8 * pool),
                Series::at("tokio-mt", pool),
            ],
            left_out: Vec::new(),
        },
        Figure {
            id: 3,
            title: "3. Server memory vs keep-alive connections",
            reproduces: "the Python-vs-Go article's memory column: what each held connection costs a thread-per-connection server, an event loop and a work-stealing pool",
            axis: Axis::Connections,
            series: vec![
                Series::at("threads", pool),
                Series::at("processes", pool),
                Series::at("tokio-ct", 1),
                Series::at("tokio-mt", pool),
                Series::at("smol", pool),
                Series::at("async-std", pool),
                Series::at("glommio", pool),
            ],
            left_out: Vec::new(),
        },
    ]
}

/// `figures` with the server baselines of [`FIGURE_BASELINES`] added, and
/// those of [`BASELINES_LEFT_OUT`] named, then the free-threading talk's
/// figure 4 ([`crate::talk::figure`], less the series figure 1 measures for
/// it); `cores` is the pool size.
pub fn with_baselines(mut figures: Vec<Figure>, cores: u32) -> Vec<Figure> {
    for figure in &mut figures {
        let added = FIGURE_BASELINES
            .iter()
            .find(|(id, _)| *id == figure.id)
            .map_or(&[][..], |(_, added)| *added);
        figure
            .series
            .extend(added.iter().map(|&(executor, workers)| Series {
                executor,
                gil: false,
                workers: workers.map(|w| if w == 0 { cores.max(1) } else { w }),
            }));
        figure.left_out.extend(
            BASELINES_LEFT_OUT
                .iter()
                .filter(|(id, _, _)| *id == figure.id)
                .map(|&(_, executor, why)| (executor, why)),
        );
    }
    if !figures.iter().any(|f| f.id == crate::talk::FIGURE_ID) {
        figures.push(crate::talk::figure());
    }
    crate::talk::share_series(&mut figures);
    figures
}

/// Milliseconds to start `server` and see its readiness line: a Rust
/// server's process, or a baseline's interpreter, imports, calibration and
/// worker processes.
pub fn start_ms(server: &Server) -> f64 {
    match baselines::find(server.executor) {
        Some(baseline) => {
            let processes = if server.workers > 1 {
                server.workers
            } else {
                0
            };
            baseline.cost.start_ms + baseline.cost.per_process_ms * f64::from(processes)
        }
        None => RUST_START_MS,
    }
}

/// What starting a Rust server costs in [`start_ms`].
const RUST_START_MS: f64 = 300.0;

/// The load connections that drive `server` to its maximum: enough that
/// every worker (and every process of a multi-process server, which the
/// kernel picks per connection) has several.
pub fn saturating_connections(server: &Server) -> u32 {
    (4 * server.workers).clamp(32, 256)
}

/// A server sweep's figures and settings, and its cost estimate.
#[derive(Debug, Clone, Serialize)]
pub struct ServingPlan {
    /// The scale.
    pub scale: ServingScale,
    /// The figures that run, with only the series that can run here.
    pub figures: Vec<Figure>,
    /// Series named by a figure that do not run, and why.
    pub absent: Vec<(String, String)>,
}

impl ServingPlan {
    /// Estimated seconds: per point, the server's start ([`start_ms`]) and
    /// its probes, each with its warm-up and [`PROBE_OVERHEAD`]: a search
    /// is one closed-loop probe, typically two open-loop steps at a 10%
    /// resolution and three at 5%, and the confirmation; at W = 1 its
    /// open-loop probes last [`MIN_PROBE_REQUESTS`] at the rate of one
    /// request at a time, and the `alone` probe comes first.
    pub fn estimate(&self) -> Duration {
        let scale = &self.scale;
        let probe = |window: Duration| probe_cost(scale, window);
        let one_at_a_time = 1000.0 / (scale.io_ms + scale.cpu_ms).max(1) as f64;
        let search = |workers: u32, repeat: u32| {
            search_cost(scale, one_at_a_time * f64::from(workers), repeat)
        };
        let mut total = Duration::ZERO;
        for figure in &self.figures {
            for series in &figure.series {
                let start =
                    |workers: u32| Duration::from_secs_f64(start_ms(&series.server(workers)) / 1e3);
                for repeat in 0..scale.repeat {
                    total += match figure.axis {
                        Axis::Workers => scale
                            .workers_of(series)
                            .into_iter()
                            .map(|workers| {
                                let alone = if workers == 1 {
                                    probe(scale.probe)
                                } else {
                                    Duration::ZERO
                                };
                                start(workers) + alone + search(workers, repeat)
                            })
                            .sum(),
                        Axis::Load => {
                            let pool = series.workers.unwrap_or(1);
                            start(pool)
                                + search(pool, repeat)
                                + probe(scale.confirm) * scale.load_shares.len() as u32
                        }
                        Axis::Connections => {
                            (start(1) + probe(scale.probe)) * scale.connection_counts.len() as u32
                        }
                        Axis::Scenario => {
                            crate::article::plan::point_estimate(scale, series, repeat)
                        }
                    };
                }
            }
        }
        total
    }
}

/// What a probe costs beyond its warm-up and window, in [`ServingPlan::estimate`]:
/// starting the `load` child, its readiness request, opening its
/// connections, the drain, and reading /proc.
pub const PROBE_OVERHEAD: Duration = Duration::from_millis(150);

/// The estimated cost of one probe asked to last `window`: with its
/// warm-up and [`PROBE_OVERHEAD`].
pub fn probe_cost(scale: &ServingScale, window: Duration) -> Duration {
    window + scale.warmup + PROBE_OVERHEAD
}

/// The estimated cost of one search of a server that sustains about
/// `rate`: in the first repeat a closed-loop probe and, at a 10%
/// resolution, three open-loop steps (four at 5%); in later repeats, which
/// start from the first one's answer, one step fewer and no closed loop;
/// then the confirmation. Open-loop probes last at least
/// [`MIN_PROBE_REQUESTS`] at `rate`.
pub fn search_cost(scale: &ServingScale, rate: f64, repeat: u32) -> Duration {
    let (first_steps, later_steps) = if scale.resolution < 0.1 {
        (4, 3)
    } else {
        (3, 2)
    };
    let (closed, steps) = if repeat == 0 {
        (probe_cost(scale, scale.probe), first_steps)
    } else {
        (Duration::ZERO, later_steps)
    };
    closed
        + probe_cost(scale, probe_window(rate, scale.probe)) * steps
        + probe_cost(scale, probe_window(rate, scale.confirm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab::baselines::Role;

    #[test]
    fn quick_fits_ten_minutes_on_two_cores() {
        let plan = ServingPlan {
            scale: ServingScale::quick(),
            figures: figures(2),
            absent: Vec::new(),
        };
        assert!(
            plan.estimate() < Duration::from_secs(570),
            "{:?}",
            plan.estimate()
        );
    }

    #[test]
    fn quick_with_baselines_fits_fifteen_minutes_on_two_cores() {
        let plan = ServingPlan {
            scale: ServingScale::quick(),
            figures: with_baselines(figures(2), 2),
            absent: Vec::new(),
        };
        assert!(
            plan.estimate() < Duration::from_secs(900),
            "{:?}",
            plan.estimate()
        );
    }

    #[test]
    fn every_series_is_a_serving_model_or_a_server_baseline() {
        for figure in with_baselines(figures(2), 2) {
            for series in &figure.series {
                let server_baseline = baselines::find(series.executor)
                    .is_some_and(|baseline| baseline.role == Role::Server);
                assert!(
                    SERVING_MODELS.contains(&series.executor) || server_baseline,
                    "{series:?}"
                );
            }
        }
    }

    #[test]
    fn every_server_baseline_joins_the_throughput_figure_beside_its_rust_model() {
        let figures = with_baselines(figures(4), 4);
        let throughput = &figures[0];
        // The free-threading talk's servers, and every server on another
        // interpreter than the system's, are figure 4's series.
        let talks = ["py-gthread", "py-granian", "py-gevent"];
        for name in baselines::names_of(Role::Server)
            .into_iter()
            .filter(|name| !name.contains('@') && !talks.contains(name))
        {
            assert!(
                throughput.series.iter().any(|s| s.executor == name),
                "{name}"
            );
        }
        let latency = &figures[1];
        assert!(latency.series.contains(&Series::at("py-uvicorn", 4)));
        assert!(latency.series.contains(&Series::at("py-uvicorn", 1)));
        let memory = &figures[2];
        assert!(memory.series.iter().all(|s| s.executor != "py-gunicorn"));
        assert_eq!(memory.left_out[0].0, "py-gunicorn");
    }

    #[test]
    fn a_python_server_costs_more_to_start_with_more_workers() {
        let uvicorn = |workers| Server {
            executor: "py-uvicorn",
            workers,
            gil: false,
        };
        assert!(start_ms(&uvicorn(32)) > start_ms(&uvicorn(1)) + 10_000.0);
        let rust = Server {
            executor: "tokio-mt",
            workers: 32,
            gil: false,
        };
        assert_eq!(start_ms(&rust), RUST_START_MS);
    }

    #[test]
    fn the_mix_is_eighty_twenty_and_the_bound_follows() {
        let scale = ServingScale::quick();
        let io_share = scale.io_ms as f64 / (scale.io_ms + scale.cpu_ms) as f64;
        assert!((io_share - 0.8).abs() < 1e-9);
        assert_eq!(scale.cpu_bound_rps(2), 400.0);
        assert_eq!(scale.p99_bound_ms(), 250.0);
    }

    /// Runs a search against a server that sustains `short` in short probes
    /// and `long` in long ones.
    fn search_against(short: f64, long: f64, estimate: f64, resolution: f64) -> (Option<f64>, u32) {
        let mut search = Search::new(estimate, resolution);
        for probes in 0..=MAX_SEARCH_PROBES {
            match search.next() {
                Next::Probe {
                    rate,
                    long: is_long,
                } => {
                    let capacity = if is_long { long } else { short };
                    search.record(rate, is_long, rate <= capacity);
                }
                Next::Done(found) => return (found, probes),
            }
        }
        (None, MAX_SEARCH_PROBES)
    }

    #[test]
    fn the_search_finds_the_capacity_within_its_resolution_from_any_estimate() {
        for estimate in [40.0, 90.0, 100.0, 103.0, 120.0, 200.0] {
            let (found, probes) = search_against(100.0, 100.0, estimate, 0.05);
            let found = found.unwrap_or_else(|| panic!("nothing found from {estimate}"));
            assert!(
                (100.0 / 1.05..=100.0).contains(&found),
                "from {estimate}: {found} in {probes} probes"
            );
        }
        // An estimate far below the capacity does not cap the answer.
        let (found, _) = search_against(100.0, 100.0, 12.0, 0.10);
        assert!(found.unwrap_or_default() >= 100.0 / 1.1, "{found:?}");
    }

    #[test]
    fn a_good_estimate_converges_in_few_probes() {
        let (found, probes) = search_against(95.0, 95.0, 100.0, 0.10);
        assert!(found.is_some_and(|rate| rate >= 95.0 / 1.1), "{found:?}");
        assert!(probes <= 3, "{probes} probes");
    }

    #[test]
    fn short_probes_that_overstate_the_capacity_are_caught_by_the_long_one() {
        let (found, probes) = search_against(100.0, 85.0, 100.0, 0.05);
        let found = found.expect("a confirmed rate");
        assert!(
            (85.0 / 1.05..=85.0).contains(&found),
            "{found} in {probes} probes"
        );
    }

    #[test]
    fn nothing_sustained_ends_the_search() {
        let (found, probes) = search_against(0.5, 0.5, 50.0, 0.05);
        assert_eq!(found, None);
        assert!(probes <= MAX_SEARCH_PROBES);
    }

    #[test]
    fn every_figure_one_series_has_a_family() {
        assert_eq!(family_of("tokio-ct"), 0);
        assert_eq!(family_of("py-gthread@3.13t"), 1);
        assert_eq!(family_of("py-gunicorn"), 2);
        assert_eq!(family_of("go-nethttp"), 3);
        for series in &with_baselines(figures(2), 2)[0].series {
            let name = series.executor;
            assert!(
                FAMILIES.iter().any(|(_, members)| members.contains(&name)),
                "{name} is in no family"
            );
        }
    }

    #[test]
    fn labels_name_workers_and_gil() {
        assert_eq!(Series::at("tokio-ct", 2).label(), "tokio-ct -w 2");
        assert_eq!(Series::with_gil("threads").label(), "threads --gil");
        assert_eq!(Series::model("smol").server(8).workers, 8);
        assert_eq!(Series::at("smol", 2).server(8).workers, 2);
    }
}
