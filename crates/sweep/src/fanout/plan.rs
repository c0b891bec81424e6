//! What a sweep runs: the eight figures and the two phase figures, their
//! points, the caps that stop an executor where it cannot hold N requests,
//! the estimated cost, and the interleaved order of the runs.
//!
//! Everything here is pure data, so the budget of `--quick` and the run order
//! are unit-tested without starting a process.

use crate::DESIGN_EXECUTORS;
use crate::table::thousands;
use lab::baselines;
use serde::Serialize;
use std::collections::BTreeMap;

/// The baselines that `sweep --baselines` adds to each figure, beside the
/// Rust executors that stand for them: the articles' serial, threads,
/// asyncio, processes and Go clients. Figure 9 (the GIL, measured) exists
/// only with them; see [`with_baselines`].
pub const FIGURE_BASELINES: [(u8, &[&str]); 8] = [
    (1, &["py-serial", "py-threads", "go-serial"]),
    (2, &["py-asyncio", "go-goroutines"]),
    (3, &["py-serial", "py-asyncio", "go-goroutines"]),
    (
        4,
        &["py-processes", "py-serial", "py-asyncio", "go-goroutines"],
    ),
    (5, &["py-processes", "go-goroutines"]),
    (6, &[]),
    (
        7,
        &[
            "py-serial",
            "py-asyncio",
            "py-threads",
            "py-processes",
            "go-serial",
            "go-goroutines",
        ],
    ),
    (8, &["py-asyncio", "py-threads", "go-goroutines"]),
];

/// The figure that measures the GIL: CPython's threads beside `threads
/// --gil` and `threads`, asyncio with CPU work beside `tokio-ct`, and
/// CPython's processes beside `processes --gil`.
pub const GIL_FIGURE: u8 = 9;

/// The phase figure of the io-only workload: where each request's time goes
/// at the largest N that all its executors reach.
pub const PHASES_IO_ONLY_FIGURE: u8 = 10;

/// The phase figure of the io + CPU workload.
pub const PHASES_IO_AND_CPU_FIGURE: u8 = 11;

/// The largest figure id.
pub const LAST_FIGURE: u8 = PHASES_IO_AND_CPU_FIGURE;

/// The most requests in flight that the scaling figures give every executor.
pub const MOST_IN_FLIGHT: u32 = 10_000;

/// The scaling figures' widest point: the most requests one process may hold
/// here, with 20,000 open files per process (a hard limit that cannot be
/// raised) less [`lab::limits::RESERVED_FDS`].
pub const WIDEST_IN_FLIGHT: u32 = 19_000;

/// The executors that run the scaling figures past [`MOST_IN_FLIGHT`]: the
/// work-stealing and thread-per-core runtimes, whose curves the articles'
/// question is about; the others stay at 10,000 to keep the sweep's time.
pub const WIDEST_EXECUTORS: [&str; 3] = ["tokio-mt", "smol", "glommio"];

/// The batch count of the articles' largest point. `--baselines` adds it to
/// figure 5 when the scale stops short of it, so that one sweep compares the
/// best Rust executor with `go-goroutines` and `py-processes` at 32 batches.
pub const HEADLINE_BATCHES: u32 = 32;

/// The articles' "fraction of I/O" for the io + CPU figures: CPU is half of
/// each request's time, so `cpu_ms = io_ms * f / (1 - f) = io_ms`.
pub const IO_FRACTION: f64 = 0.5;

/// An executor that holds at most C requests in flight is stopped at
/// `N = MAX_WAVES * C` in the scaling figures: past that it only repeats the
/// same delay more times (serial at N = 1,000 would take 1,000 delays).
pub const MAX_WAVES: u32 = 10;

/// The most worker processes a scaling point starts (one per request, as the
/// articles' `ProcessPoolExecutor(max_workers=N)`).
pub const MAX_PROCESSES: u32 = 100;

/// Threads a run needs besides one per request (pools, the thread sampler).
pub const THREAD_HEADROOM: u64 = 64;

/// Cost model of one run for the budget and the progress bar: starting the
/// child process (calibration is skipped: the sweep passes `--cpu-rounds`).
pub const PROCESS_START_MS: f64 = 30.0;

/// Cost model: connect, serve, decode and digest one request, on 2 cores.
pub const PER_REQUEST_MS: f64 = 0.3;

/// Cost model: starting one worker process of the `processes` executor.
pub const PER_PROCESS_MS: f64 = 5.0;

/// The delay and the x values of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// `quick` or `full`, used in the default output folder's name.
    pub name: &'static str,
    /// Upstream delay of every request.
    pub io_ms: u64,
    /// x values of the figures whose x axis is the number of batches (1 to 6).
    pub batch_counts: Vec<u32>,
    /// x values of the scaling figures (7 and 8): requests in flight.
    pub in_flight_counts: Vec<u32>,
    /// The batch count of the baselines' headline comparison in figure 5
    /// ([`HEADLINE_BATCHES`]), unless `with_max_n` dropped it.
    pub headline_batches: Option<u32>,
}

impl Scale {
    /// The articles' scale: 1 s per request, N up to 32 and 10,000 in flight
    /// ([`WIDEST_IN_FLIGHT`] for [`WIDEST_EXECUTORS`]).
    pub fn full() -> Self {
        Scale {
            name: "full",
            io_ms: 1000,
            batch_counts: vec![1, 2, 4, 8, 16, 32],
            in_flight_counts: vec![1, 10, 100, 1_000, 5_000, MOST_IN_FLIGHT, WIDEST_IN_FLIGHT],
            headline_batches: Some(HEADLINE_BATCHES),
        }
    }

    /// Delays scaled down to 100 ms and fewer points, to finish within five
    /// minutes on 2 cores with all eleven executors (see [`Plan::estimate_ms`]).
    pub fn quick() -> Self {
        Scale {
            name: "quick",
            io_ms: 100,
            batch_counts: vec![1, 2, 4, 8, 16],
            in_flight_counts: vec![1, 10, 100, 1_000],
            headline_batches: Some(HEADLINE_BATCHES),
        }
    }

    /// Overrides the delay (tests use a few milliseconds).
    pub fn with_io_ms(mut self, io_ms: u64) -> Self {
        self.io_ms = io_ms;
        self
    }

    /// Drops every x value above `max_n`, keeping at least N = 1.
    pub fn with_max_n(mut self, max_n: u32) -> Self {
        for counts in [&mut self.batch_counts, &mut self.in_flight_counts] {
            counts.retain(|&n| n <= max_n);
            if counts.is_empty() {
                counts.push(1);
            }
        }
        self.headline_batches = self.headline_batches.filter(|&n| n <= max_n);
        self
    }

    /// CPU time per batch in the io + CPU figures, from [`IO_FRACTION`].
    pub fn cpu_ms(&self) -> u64 {
        (self.io_ms as f64 * IO_FRACTION / (1.0 - IO_FRACTION)).round() as u64
    }
}

/// What each request does in a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Work {
    /// Fetch only (`--cpu-ms 0`).
    IoOnly,
    /// Fetch, then preprocess for `cpu_ms` (the articles' fraction 0.5).
    IoAndCpu,
}

/// What a figure's y axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Wall time of the run (makespan).
    WallTime,
    /// Peak RSS above the smallest N, per extra request in flight.
    MemoryPerRequest,
    /// Where each request's time goes: the medians of its phases (connect,
    /// wait, receive, decode, queue, preprocess), stacked per executor at
    /// the figure's largest N.
    Phases,
}

/// How many workers a series asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workers {
    /// The executor's default (one per core).
    Default,
    /// `--workers N`: one worker per batch, like the articles'
    /// `ProcessPoolExecutor(max_workers=N)`.
    OnePerBatch,
}

/// One curve of a figure: an executor with the GIL on or off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The executor's name.
    pub executor: &'static str,
    /// Whether the run emulates the GIL (`--gil`).
    pub gil: bool,
    /// Pool size policy.
    pub workers: Workers,
}

impl Series {
    fn new(executor: &'static str) -> Self {
        let workers = if matches!(executor, "processes" | "py-processes") {
            Workers::OnePerBatch
        } else {
            Workers::Default
        };
        Series {
            executor,
            gil: false,
            workers,
        }
    }

    fn with_gil(mut self) -> Self {
        self.gil = true;
        self
    }

    /// The label in plots, tables and the CSV.
    pub fn label(&self) -> String {
        if self.gil {
            format!("{} --gil", self.executor)
        } else {
            self.executor.to_owned()
        }
    }
}

/// An executor a figure names that this sweep does not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Absent {
    /// The executor's name.
    pub executor: &'static str,
    /// Why it is not run: not built yet, unavailable here, or filtered out.
    pub reason: String,
}

/// One figure: which executors, which workload, which x values.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// 1 to [`LAST_FIGURE`].
    pub id: u8,
    /// The plot's caption.
    pub title: &'static str,
    /// What it reproduces, for REPORT.md.
    pub reproduces: &'static str,
    /// io only or io + CPU.
    pub work: Work,
    /// The y axis.
    pub measure: Measure,
    /// x is requests in flight on a log axis (figures 7 and 8), not batches.
    pub in_flight_axis: bool,
    /// x values. A phase figure's are narrowed by [`Plan::new`] to a small
    /// N and the largest N that every one of its executors reaches.
    pub ns: Vec<u32>,
    /// The curves that run.
    pub series: Vec<Series>,
    /// The executors the figure names that do not run.
    pub absent: Vec<Absent>,
}

/// The eight figures and the two phase figures at `scale`, with every
/// executor DESIGN.md names for each.
///
/// The phase figures add no runs: each names executors and Ns that the
/// figures before it already run on the same workload (figure 7's for io
/// only, figures 3 to 5's for io + CPU), and [`Plan::new`] shares the runs
/// of equal specs.
pub fn figures(scale: &Scale) -> Vec<Figure> {
    // The x axis: batches (figures 1 to 6) or requests in flight (7 and 8).
    let (batches, in_flight) = (false, true);
    let named = |names: &[&'static str]| names.iter().map(|&name| Series::new(name)).collect();
    let figure = |id, title, reproduces, work, measure, in_flight_axis, series| Figure {
        id,
        title,
        reproduces,
        work,
        measure,
        in_flight_axis,
        ns: if in_flight_axis {
            scale.in_flight_counts.clone()
        } else {
            scale.batch_counts.clone()
        },
        series,
        absent: Vec::new(),
    };
    vec![
        figure(
            1,
            "1. Blocking I/O: serial vs threads (io only)",
            "the first article's figure 1, where serial grew linearly, with a thread per batch beside it",
            Work::IoOnly,
            Measure::WallTime,
            batches,
            named(&["serial", "threads"]),
        ),
        figure(
            2,
            "2. Non-blocking I/O: async runtimes (io only)",
            "the first article's figure 2, where async I/O stayed near one delay",
            Work::IoOnly,
            Measure::WallTime,
            batches,
            named(&["tokio-ct", "tokio-mt", "smol", "async-std", "glommio"]),
        ),
        figure(
            3,
            "3. io + CPU (fraction 0.5): one event loop goes serial",
            "the first article's figure 3, where asyncio with CPU work approached serial",
            Work::IoAndCpu,
            Measure::WallTime,
            batches,
            named(&["serial", "tokio-ct", "tokio-ct-offload", "tokio-mt"]),
        ),
        figure(
            4,
            "4. io + CPU: processes vs serial vs one event loop",
            "the first article's figure 4, where multiprocessing matched Go",
            Work::IoAndCpu,
            Measure::WallTime,
            batches,
            named(&["processes", "serial", "tokio-ct"]),
        ),
        figure(
            5,
            "5. io + CPU: the best of Rust",
            "the first article's figure 5, where free-threaded threads matched multiprocessing, with every parallel executor beside them",
            Work::IoAndCpu,
            Measure::WallTime,
            batches,
            named(&[
                "threads",
                "crossbeam",
                "rayon",
                "processes",
                "tokio-mt",
                "smol",
                "glommio",
            ]),
        ),
        figure(
            6,
            "6. io + CPU: the emulated GIL on vs off",
            "the Python curves in Rust: threads and run_in_executor under a GIL, processes with one lock each",
            Work::IoAndCpu,
            Measure::WallTime,
            batches,
            ["threads", "tokio-ct-offload", "processes"]
                .into_iter()
                .flat_map(|name| [Series::new(name), Series::new(name).with_gil()])
                .collect(),
        ),
        figure(
            7,
            "7. Scaling: wall time vs requests in flight (io only)",
            "the second article's question, whether wall time stays flat or grows with the requests in flight",
            Work::IoOnly,
            Measure::WallTime,
            in_flight,
            named(&DESIGN_EXECUTORS),
        ),
        figure(
            8,
            "8. Memory per request in flight (io only)",
            "the third article's thread-vs-goroutine table (~1-8 MB vs ~2 KB), measured",
            Work::IoOnly,
            Measure::MemoryPerRequest,
            in_flight,
            named(&[
                "threads",
                "tokio-ct",
                "tokio-mt",
                "smol",
                "async-std",
                "glommio",
            ]),
        ),
        figure(
            PHASES_IO_ONLY_FIGURE,
            "10. Where the time goes: phases per request (io only)",
            "the articles' explanation of their curves, measured inside each request: how long it waits for a connection, for the store, for its bytes, and in the runtime's queue",
            Work::IoOnly,
            Measure::Phases,
            in_flight,
            named(&[
                "threads",
                "tokio-ct",
                "tokio-mt",
                "smol",
                "async-std",
                "glommio",
            ]),
        ),
        figure(
            PHASES_IO_AND_CPU_FIGURE,
            "11. Where the time goes: phases per request (io + CPU)",
            "the first article's event-loop argument, measured inside each request: with CPU work inline, requests wait in the runtime's queue behind other requests' preprocessing",
            Work::IoAndCpu,
            Measure::Phases,
            batches,
            named(&[
                "serial",
                "threads",
                "crossbeam",
                "rayon",
                "processes",
                "tokio-ct",
                "tokio-ct-offload",
                "tokio-mt",
                "smol",
                "glommio",
            ]),
        ),
    ]
}

/// `figures` with the baselines added: each figure gets the baselines that
/// [`FIGURE_BASELINES`] lists for it, figure 5 its headline N, and figure 9,
/// the GIL measured, takes its place in the order of ids. The phase figures
/// get none: the baselines do not time the phases of a request.
pub fn with_baselines(mut figures: Vec<Figure>, scale: &Scale) -> Vec<Figure> {
    for figure in &mut figures {
        let added = FIGURE_BASELINES
            .iter()
            .find(|(id, _)| *id == figure.id)
            .map_or(&[][..], |(_, names)| *names);
        figure
            .series
            .extend(added.iter().map(|&name| Series::new(name)));
        if figure.id == 5
            && let Some(n) = scale.headline_batches
            && !figure.ns.contains(&n)
        {
            figure.ns.push(n);
        }
    }
    figures.push(Figure {
        id: GIL_FIGURE,
        title: "9. The GIL, measured: CPython beside the emulation (io + CPU)",
        reproduces: "the first article's claim that the GIL serialises Python's threads and its event loop, measured: CPython's threads beside `threads --gil` and `threads`, and free-threaded CPython 3.13t's beside `threads`, asyncio with CPU work beside `tokio-ct`, and CPython's processes beside `processes --gil`, on the same workloads",
        work: Work::IoAndCpu,
        measure: Measure::WallTime,
        in_flight_axis: false,
        ns: scale.batch_counts.clone(),
        series: vec![
            Series::new("threads"),
            Series::new("threads").with_gil(),
            Series::new("py-threads"),
            Series::new("py-threads@3.13t"),
            Series::new("tokio-ct"),
            Series::new("py-asyncio"),
            Series::new("processes").with_gil(),
            Series::new("py-processes"),
        ],
        absent: Vec::new(),
    });
    figures.sort_by_key(|figure| figure.id);
    figures
}

/// What limits how many requests a run can hold in flight on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits {
    /// Logical CPUs.
    pub cores: usize,
    /// The open-file limit (soft) that runs inherit.
    pub open_files: u64,
    /// The most threads one process can start (threads-max, RLIMIT_NPROC).
    pub threads: u64,
}

/// One run's parameters: two points with equal specs (figures 3 and 4 both
/// run serial on io + CPU) share their runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RunSpec {
    /// The executor's name.
    pub executor: &'static str,
    /// Batches (= requests in flight for the unbounded executors).
    pub batches: u32,
    /// Upstream delay.
    pub io_ms: u64,
    /// CPU time per batch (0 for io only).
    pub cpu_ms: u64,
    /// `--gil`.
    pub gil: bool,
    /// `--workers`, when the series sets it.
    pub workers: Option<u32>,
}

impl RunSpec {
    /// The flags of `runtime-lab run` that this spec sets.
    pub fn run_args(&self) -> Vec<String> {
        let mut args = vec![
            "--executor".to_owned(),
            self.executor.to_owned(),
            "--batches".to_owned(),
            self.batches.to_string(),
            "--io-ms".to_owned(),
            self.io_ms.to_string(),
            "--cpu-ms".to_owned(),
            self.cpu_ms.to_string(),
        ];
        if let Some(workers) = self.workers {
            args.extend(["--workers".to_owned(), workers.to_string()]);
        }
        if self.gil {
            args.push("--gil".to_owned());
        }
        args
    }

    /// The curve this run belongs to, whatever N: a failure at N stops the
    /// curve for every larger N.
    pub fn curve(&self) -> (&'static str, bool, bool, u64, u64) {
        (
            self.executor,
            self.gil,
            self.workers.is_some(),
            self.io_ms,
            self.cpu_ms,
        )
    }

    /// Estimated cost in milliseconds, pessimistic: CPU work is counted as if
    /// it ran on one core, and executors that hold C requests in flight take
    /// `ceil(N / C)` delays.
    pub fn estimate_ms(&self, cores: usize) -> f64 {
        let n = f64::from(self.batches);
        let (io, cpu) = (self.io_ms as f64, self.cpu_ms as f64);
        let capacity = in_flight_capacity(self.executor, cores).unwrap_or(self.batches);
        let waves = f64::from(self.batches.div_ceil(capacity.max(1)));
        let work = (waves * (io + cpu)).max(io + n * cpu);
        let cost = baselines::find(self.executor).map_or(
            baselines::Cost {
                start_ms: PROCESS_START_MS,
                per_request_ms: PER_REQUEST_MS,
                per_process_ms: PER_PROCESS_MS,
            },
            |baseline| baseline.cost,
        );
        let processes = f64::from(self.workers.unwrap_or(0)) * cost.per_process_ms;
        cost.start_ms + work + cost.per_request_ms * n + processes
    }
}

/// How many requests an executor holds in flight at most, when that is not
/// one per batch.
fn in_flight_capacity(executor: &str, cores: usize) -> Option<u32> {
    match executor {
        "serial" | "py-serial" | "go-serial" => Some(1),
        "rayon" => Some(cores as u32),
        _ => None,
    }
}

/// Why an executor holds only [`in_flight_capacity`] requests in flight.
fn capacity_reason(executor: &str, cores: usize) -> String {
    match executor {
        "serial" | "py-serial" | "go-serial" => "holds one request in flight at a time".to_owned(),
        _ => format!(
            "holds at most {cores} requests in flight, as a blocking fetch occupies one of its {cores} pool threads"
        ),
    }
}

/// Why a point cannot run here, or `None` when it can.
pub fn planned_stop(
    figure: &Figure,
    series: &Series,
    n: u32,
    io_ms: u64,
    limits: &Limits,
) -> Option<String> {
    // The same count that `run` checks before it starts (crates/lab/src/limits.rs), so
    // that the plan never schedules a run that would refuse to start.
    let sockets = lab::limits::open_files_needed(n as usize);
    if sockets > limits.open_files {
        return Some(format!(
            "needs about {sockets} open files (a socket per request in flight), the open-file limit is {}",
            limits.open_files
        ));
    }
    let thread_per_request = matches!(
        lab::baselines::split(series.executor).0,
        "threads" | "crossbeam" | "py-threads"
    );
    let threads = u64::from(n) + THREAD_HEADROOM;
    if thread_per_request && threads > limits.threads {
        return Some(format!(
            "one OS thread per request needs about {threads} threads, this machine allows {}",
            limits.threads
        ));
    }
    if !figure.in_flight_axis {
        return None;
    }
    if let Some(capacity) = in_flight_capacity(series.executor, limits.cores) {
        let max_n = MAX_WAVES * capacity;
        if n > max_n {
            let waves = n.div_ceil(capacity);
            return Some(format!(
                "{}, so N = {n} would wait {waves} delays in a row (at least {:.0} s); capped at N <= {max_n}",
                capacity_reason(series.executor, limits.cores),
                f64::from(waves) * io_ms as f64 / 1e3
            ));
        }
    }
    if n > MOST_IN_FLIGHT && !WIDEST_EXECUTORS.contains(&series.executor) {
        return Some(format!(
            "capped at N <= {}: only {} run N = {}, the most one process holds with 20,000 open files, which keeps the sweep's time",
            thousands(MOST_IN_FLIGHT),
            WIDEST_EXECUTORS.join(", "),
            thousands(WIDEST_IN_FLIGHT)
        ));
    }
    if series.workers == Workers::OnePerBatch && n > MAX_PROCESSES {
        return Some(format!(
            "one worker process per request; capped at {MAX_PROCESSES} processes, past which the run times process start-up rather than I/O"
        ));
    }
    None
}

/// A phase figure's two Ns: the smallest above one (one request alone
/// waits on nothing; falling back to N = 1 when that is all there is) and
/// the largest that none of its executors is stopped before, so that every
/// bar stands at the same N.
fn phase_ns(figure: &Figure, io_ms: u64, limits: &Limits) -> Vec<u32> {
    let reached_by_all = |n: u32| {
        figure
            .series
            .iter()
            .all(|series| planned_stop(figure, series, n, io_ms, limits).is_none())
    };
    let large = figure
        .ns
        .iter()
        .rev()
        .copied()
        .find(|&n| reached_by_all(n))
        .or_else(|| figure.ns.first().copied());
    let small = figure
        .ns
        .iter()
        .copied()
        .find(|&n| n > 1 && large.is_some_and(|large| n <= large))
        .or_else(|| figure.ns.first().copied());
    let mut ns: Vec<u32> = small.into_iter().chain(large).collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// One point of one figure: a series at one N.
#[derive(Debug, Clone)]
pub struct Point {
    /// Figure id.
    pub figure: u8,
    /// Index into the figure's `series`.
    pub series: usize,
    /// The x value.
    pub n: u32,
    /// Index into [`Plan::specs`], or why the point does not run here.
    pub run: Result<usize, String>,
}

/// One run of the schedule: a spec and its repeat (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Index into [`Plan::specs`].
    pub spec: usize,
    /// 0-based repeat.
    pub repeat: u32,
}

/// Everything a sweep will run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The selected figures, with their absent executors filled in.
    pub figures: Vec<Figure>,
    /// Every (figure, series, N).
    pub points: Vec<Point>,
    /// The distinct runs, each repeated `repeat` times.
    pub specs: Vec<RunSpec>,
    /// Repeats per spec.
    pub repeat: u32,
    /// Cores, for the cost model.
    pub cores: usize,
}

impl Plan {
    /// Builds the plan for `figures`; `status(executor)` says whether an
    /// executor runs here, or why not.
    pub fn new(
        mut figures: Vec<Figure>,
        scale: &Scale,
        limits: &Limits,
        repeat: u32,
        status: impl Fn(&str) -> Result<(), String>,
    ) -> Self {
        let mut specs: Vec<RunSpec> = Vec::new();
        let mut points = Vec::new();
        for figure in &mut figures {
            let named = std::mem::take(&mut figure.series);
            for series in named {
                match status(series.executor) {
                    Ok(()) => figure.series.push(series),
                    Err(reason) => {
                        if !figure.absent.iter().any(|a| a.executor == series.executor) {
                            figure.absent.push(Absent {
                                executor: series.executor,
                                reason,
                            });
                        }
                    }
                }
            }
            if figure.measure == Measure::Phases {
                figure.ns = phase_ns(figure, scale.io_ms, limits);
            }
            let cpu_ms = match figure.work {
                Work::IoOnly => 0,
                Work::IoAndCpu => scale.cpu_ms(),
            };
            for (series_index, series) in figure.series.iter().enumerate() {
                for &n in &figure.ns {
                    let run = match planned_stop(figure, series, n, scale.io_ms, limits) {
                        Some(reason) => Err(reason),
                        None => {
                            let spec = RunSpec {
                                executor: series.executor,
                                batches: n,
                                io_ms: scale.io_ms,
                                cpu_ms,
                                gil: series.gil,
                                workers: (series.workers == Workers::OnePerBatch).then_some(n),
                            };
                            Ok(match specs.iter().position(|known| *known == spec) {
                                Some(index) => index,
                                None => {
                                    specs.push(spec);
                                    specs.len() - 1
                                }
                            })
                        }
                    };
                    points.push(Point {
                        figure: figure.id,
                        series: series_index,
                        n,
                        run,
                    });
                }
            }
        }
        Plan {
            figures,
            points,
            specs,
            repeat: repeat.max(1),
            cores: limits.cores,
        }
    }

    /// The runs in order: `repeat` rounds; each round walks the blocks of
    /// runs that share a workload and N (smallest first) and, within a block,
    /// rotates the executors by the round (A B C, then B C A, then C A B), so
    /// that neither a slow phase of the machine nor warm caches favour one
    /// executor.
    pub fn schedule(&self) -> Vec<Job> {
        let mut blocks: BTreeMap<(u64, u64, u32), Vec<usize>> = BTreeMap::new();
        for (index, spec) in self.specs.iter().enumerate() {
            blocks
                .entry((spec.cpu_ms, spec.io_ms, spec.batches))
                .or_default()
                .push(index);
        }
        let mut jobs = Vec::new();
        for repeat in 0..self.repeat {
            for block in blocks.values() {
                let shift = repeat as usize % block.len();
                for &spec in block[shift..].iter().chain(&block[..shift]) {
                    jobs.push(Job { spec, repeat });
                }
            }
        }
        jobs
    }

    /// Estimated cost of the whole sweep, in milliseconds.
    pub fn estimate_ms(&self) -> f64 {
        let one_round: f64 = self
            .specs
            .iter()
            .map(|spec| spec.estimate_ms(self.cores))
            .sum();
        one_round * f64::from(self.repeat)
    }

    /// The figures that a spec's runs serve, for the progress bar.
    pub fn figures_of(&self, spec: usize) -> Vec<u8> {
        let mut ids: Vec<u8> = self
            .points
            .iter()
            .filter(|point| point.run == Ok(spec))
            .map(|point| point.figure)
            .collect();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CORES: Limits = Limits {
        cores: 2,
        open_files: 20_000,
        threads: 30_000,
    };

    fn everything_present(_: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn quick_sweep_fits_five_minutes_on_two_cores_with_all_eleven_executors() {
        let scale = Scale::quick();
        let plan = Plan::new(figures(&scale), &scale, &TWO_CORES, 3, everything_present);
        let executors: std::collections::BTreeSet<_> =
            plan.specs.iter().map(|spec| spec.executor).collect();
        assert_eq!(executors.len(), DESIGN_EXECUTORS.len());
        let minutes = plan.estimate_ms() / 60_000.0;
        println!(
            "quick sweep: {} runs, estimated {minutes:.1} min",
            plan.schedule().len()
        );
        // The pessimistic model leaves a minute for a busy machine.
        assert!(minutes < 4.0, "quick sweep estimated at {minutes:.1} min");
    }

    #[test]
    fn baselines_join_their_figures_and_add_the_gil_figure() {
        let scale = Scale::quick();
        let all = with_baselines(figures(&scale), &scale);
        let names = |id: u8| -> Vec<String> {
            all[usize::from(id) - 1]
                .series
                .iter()
                .map(Series::label)
                .collect()
        };
        assert!(names(1).contains(&"py-serial".to_owned()));
        assert!(names(2).contains(&"go-goroutines".to_owned()));
        assert!(names(3).contains(&"py-asyncio".to_owned()));
        let gil = names(GIL_FIGURE);
        for label in [
            "threads",
            "threads --gil",
            "py-threads",
            "tokio-ct",
            "py-asyncio",
        ] {
            assert!(gil.contains(&label.to_owned()), "{gil:?}");
        }
        // Every baseline a figure names is one of the table's.
        for figure in &all {
            for series in &figure.series {
                assert!(crate::series_names().any(|name| name == series.executor));
            }
        }
        // Figure 5 reaches the articles' 32 batches even in the quick set.
        assert_eq!(all[4].ns.last(), Some(&HEADLINE_BATCHES));
        let py_processes = all[4]
            .series
            .iter()
            .find(|s| s.executor == "py-processes")
            .unwrap();
        assert_eq!(py_processes.workers, Workers::OnePerBatch);
        // Tests that shrink a sweep shrink the headline away.
        let small = Scale::quick().with_max_n(4);
        let shrunk = with_baselines(figures(&small), &small);
        assert_eq!(shrunk[4].ns.last(), Some(&4));
    }

    #[test]
    fn quick_sweep_with_baselines_fits_twelve_minutes_on_two_cores() {
        let scale = Scale::quick();
        let all = with_baselines(figures(&scale), &scale);
        let plan = Plan::new(all, &scale, &TWO_CORES, 3, everything_present);
        let minutes = plan.estimate_ms() / 60_000.0;
        println!(
            "quick sweep with baselines: {} runs, estimated {minutes:.1} min",
            plan.schedule().len()
        );
        assert!(minutes < 12.0, "estimated at {minutes:.1} min");
    }

    #[test]
    fn full_sweep_uses_the_articles_delay_and_sizes() {
        let scale = Scale::full();
        assert_eq!(scale.io_ms, 1000);
        assert_eq!(scale.cpu_ms(), 1000, "fraction 0.5 means cpu = io");
        assert_eq!(scale.batch_counts, [1, 2, 4, 8, 16, 32]);
        assert_eq!(scale.in_flight_counts.last(), Some(&WIDEST_IN_FLIGHT));
    }

    /// The (figure, series, N) point's planned run, or why it does not run.
    fn planned(plan: &Plan, figure: u8, executor: &str, n: u32) -> Result<usize, String> {
        let index = plan
            .figures
            .iter()
            .position(|f| f.id == figure)
            .expect("the figure is planned");
        plan.points
            .iter()
            .find(|p| {
                p.figure == figure
                    && p.n == n
                    && plan.figures[index].series[p.series].executor == executor
            })
            .map(|p| p.run.clone())
            .expect("the point exists")
    }

    #[test]
    fn only_three_runtimes_run_the_widest_point_and_its_cost_is_planned() {
        let scale = Scale::full();
        let plan = Plan::new(figures(&scale), &scale, &TWO_CORES, 3, everything_present);
        for executor in WIDEST_EXECUTORS {
            assert!(
                planned(&plan, 7, executor, WIDEST_IN_FLIGHT).is_ok(),
                "{executor}"
            );
        }
        for executor in [
            "threads",
            "crossbeam",
            "tokio-ct",
            "async-std",
            "tokio-ct-offload",
        ] {
            assert!(
                planned(&plan, 7, executor, MOST_IN_FLIGHT).is_ok(),
                "{executor}"
            );
            let stop = planned(&plan, 7, executor, WIDEST_IN_FLIGHT).unwrap_err();
            assert!(stop.contains("N <= 10,000"), "{executor}: {stop}");
        }
        // The run fits the open-file check that `run` makes (crates/lab/src/limits.rs).
        assert!(lab::limits::open_files_needed(WIDEST_IN_FLIGHT as usize) <= TWO_CORES.open_files);
        let tight = Limits {
            open_files: 19_100,
            ..TWO_CORES
        };
        let plan_tight = Plan::new(figures(&scale), &scale, &tight, 3, everything_present);
        let stop = planned(&plan_tight, 7, "tokio-mt", WIDEST_IN_FLIGHT).unwrap_err();
        assert!(stop.contains("open-file limit"), "{stop}");
        // Its cost: the plan with and without the widest point.
        let narrower = Scale {
            in_flight_counts: scale
                .in_flight_counts
                .iter()
                .copied()
                .filter(|&n| n <= MOST_IN_FLIGHT)
                .collect(),
            ..Scale::full()
        };
        let before = Plan::new(
            figures(&narrower),
            &narrower,
            &TWO_CORES,
            3,
            everything_present,
        );
        let added_s = (plan.estimate_ms() - before.estimate_ms()) / 1e3;
        println!(
            "full sweep: {:.1} min planned, of which N = {} adds {added_s:.0} s ({} runs)",
            plan.estimate_ms() / 60_000.0,
            WIDEST_IN_FLIGHT,
            plan.schedule().len() - before.schedule().len()
        );
        assert_eq!(
            plan.specs.len() - before.specs.len(),
            WIDEST_EXECUTORS.len()
        );
        assert!(added_s > 0.0 && added_s < 120.0, "{added_s:.0} s");
    }

    #[test]
    fn phase_figures_reuse_the_runs_of_the_other_figures() {
        for scale in [Scale::quick(), Scale::full()] {
            let all = figures(&scale);
            let without: Vec<Figure> = all
                .iter()
                .filter(|f| f.measure != Measure::Phases)
                .cloned()
                .collect();
            let with = Plan::new(all, &scale, &TWO_CORES, 3, everything_present);
            let without = Plan::new(without, &scale, &TWO_CORES, 3, everything_present);
            assert_eq!(with.specs, without.specs, "{} adds no runs", scale.name);
            assert_eq!(with.estimate_ms(), without.estimate_ms());
        }
    }

    #[test]
    fn phase_figures_stand_at_the_largest_n_every_executor_reaches() {
        let ns = |scale: &Scale, id: u8| {
            let plan = Plan::new(figures(scale), scale, &TWO_CORES, 1, everything_present);
            let figure = plan.figures.iter().find(|f| f.id == id).unwrap();
            assert!(figure.series.len() > 3);
            figure.ns.clone()
        };
        assert_eq!(ns(&Scale::quick(), PHASES_IO_ONLY_FIGURE), [10, 1_000]);
        assert_eq!(ns(&Scale::quick(), PHASES_IO_AND_CPU_FIGURE), [2, 16]);
        assert_eq!(
            ns(&Scale::full(), PHASES_IO_ONLY_FIGURE),
            [10, MOST_IN_FLIGHT]
        );
        assert_eq!(ns(&Scale::full(), PHASES_IO_AND_CPU_FIGURE), [2, 32]);
        // A machine with fewer open files moves the large N down for every bar.
        let small = Limits {
            open_files: 1_024,
            ..TWO_CORES
        };
        let scale = Scale::full();
        let plan = Plan::new(figures(&scale), &scale, &small, 1, everything_present);
        let figure = plan
            .figures
            .iter()
            .find(|f| f.id == PHASES_IO_ONLY_FIGURE)
            .unwrap();
        assert_eq!(figure.ns, [10, 100]);
        assert!(
            plan.points
                .iter()
                .filter(|p| p.figure == figure.id)
                .all(|p| p.run.is_ok())
        );
    }

    #[test]
    fn rotation_interleaves_executors_within_each_block() {
        let scale = Scale::quick().with_max_n(1);
        let figure_1 = figures(&scale).into_iter().take(1).collect();
        let plan = Plan::new(figure_1, &scale, &TWO_CORES, 3, everything_present);
        let order: Vec<&str> = plan
            .schedule()
            .iter()
            .map(|job| plan.specs[job.spec].executor)
            .collect();
        assert_eq!(
            order,
            [
                "serial", "threads", "threads", "serial", "serial", "threads"
            ]
        );
    }

    #[test]
    fn figures_sharing_a_workload_share_its_runs() {
        let scale = Scale::quick();
        let all = figures(&scale);
        let plan = Plan::new(all, &scale, &TWO_CORES, 1, everything_present);
        let serial_io_cpu = |figure: u8| {
            plan.points
                .iter()
                .find(|p| {
                    p.figure == figure
                        && p.n == 4
                        && plan.figures[usize::from(figure) - 1].series[p.series].executor
                            == "serial"
                })
                .map(|p| p.run.clone())
        };
        assert_eq!(serial_io_cpu(3), serial_io_cpu(4));
        assert!(matches!(serial_io_cpu(3), Some(Ok(_))));
        let distinct: std::collections::HashSet<_> = plan.specs.iter().collect();
        assert_eq!(distinct.len(), plan.specs.len());
    }

    #[test]
    fn scaling_caps_bounded_executors_and_respects_the_file_limit() {
        let scale = Scale::full();
        let small_limit = Limits {
            open_files: 1_024,
            ..TWO_CORES
        };
        let plan = Plan::new(figures(&scale), &scale, &small_limit, 1, everything_present);
        let stop = |executor: &str, n: u32| {
            plan.points
                .iter()
                .find(|p| {
                    p.figure == 7
                        && p.n == n
                        && plan.figures[6].series[p.series].executor == executor
                })
                .map(|p| p.run.clone().err())
                .expect("the point exists")
        };
        assert_eq!(stop("serial", 10), None);
        assert!(
            stop("serial", 100)
                .unwrap()
                .contains("one request in flight at a time")
        );
        assert_eq!(stop("rayon", 10), None);
        assert!(stop("rayon", 100).unwrap().contains("N <= 20"));
        assert_eq!(stop("tokio-mt", 100), None);
        assert!(stop("tokio-mt", 1_000).unwrap().contains("open-file limit"));
        assert!(stop("processes", 1_000).is_some());
    }

    #[test]
    fn absent_executors_are_listed_once_with_their_reason() {
        let scale = Scale::quick();
        let only_serial = |name: &str| {
            if name == "serial" {
                Ok(())
            } else {
                Err(format!("{name} is not built"))
            }
        };
        let plan = Plan::new(figures(&scale), &scale, &TWO_CORES, 1, only_serial);
        let figure_6 = &plan.figures[5];
        assert!(figure_6.series.is_empty());
        assert_eq!(figure_6.absent.len(), 3, "{:?}", figure_6.absent);
        assert!(plan.specs.iter().all(|spec| spec.executor == "serial"));
    }
}
