//! Command-line arguments and human-readable output.

use clap::{Args, Parser, Subcommand, ValueEnum};
use pipeline::{Calibration, Connections, RunReport, Upstream, UpstreamKind, Workload};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Compare Rust concurrency runtimes on one fetch-and-preprocess pipeline.
///
/// Each run fetches N feature batches over HTTP from a feature store that
/// answers after a delay, then preprocesses each batch on the CPU, on the
/// executor you pick. Without --upstream, a feature store is started on
/// 127.0.0.1 as a child process for the duration of the run.
#[derive(Parser)]
#[command(
    name = "runtime-lab",
    version,
    propagate_version = true,
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit statuses, as `--help` lists them.
const EXIT_STATUS_HELP: &str = "Exit status:
  0  success
  1  the run could not happen (an executor or the machine failed)
  2  bad input: a flag, or an upstream that refuses, is not HTTP or answers 4xx
  3  `run` completed no batch: every batch failed (its report is still printed)";

/// `runtime-lab run`'s exit status when every batch failed.
pub const EXIT_NO_BATCH_COMPLETED: u8 = 3;

/// A run that completed no batch: its report is printed, and the process
/// exits with [`EXIT_NO_BATCH_COMPLETED`].
#[derive(Debug, thiserror::Error)]
#[error("no batch completed: all {batches} failed{}", first_error.as_ref().map_or(String::new(), |e| format!(" (first: {e})")))]
pub struct NoBatchCompleted {
    /// Batches in the run, all failed.
    pub batches: u32,
    /// The report's first error line.
    pub first_error: Option<String>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the workload once on one executor and print its report.
    #[command(after_help = EXIT_STATUS_HELP)]
    Run(RunArgs),
    /// List the executors, one line each.
    List,
    /// Run the feature store in the foreground (prints one readiness line).
    ServeFeatures(ServeFeaturesArgs),
    /// Serve `GET /predict?id=N` over HTTP on one executor (prints one readiness line).
    Serve(ServeArgs),
    /// Serve as a worker of the `processes` executor on stdin and stdout.
    #[command(name = crate::executors::WORKER_SUBCOMMAND, hide = true)]
    ProcessWorker,
    /// Reproduce the articles' figures: plots, CSV, JSON and REPORT.md.
    Sweep(SweepArgs),
    /// Load an HTTP server at a constant rate (open loop) or flat out (closed loop).
    Load(LoadArgs),
}

/// The workload's parameters (DESIGN.md's table) and the executor to run it on.
#[derive(Args)]
pub struct RunArgs {
    /// Executor to run (see `runtime-lab list`).
    #[arg(long, short = 'e', value_parser = crate::executors::names())]
    pub executor: String,

    /// The workload.
    #[command(flatten)]
    pub workload: WorkloadArgs,

    /// Any HTTP URL: a running feature store's base (told by its /health),
    /// or a URL requested as it is for every batch, `{id}` replaced by the
    /// batch id where present (default: start an embedded feature store).
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

    /// What --upstream is, skipping its probe (a sweep probes once and tells its runs).
    #[arg(
        long,
        value_enum,
        value_name = "KIND",
        requires = "upstream",
        hide = true
    )]
    pub upstream_kind: Option<UpstreamKindArg>,

    /// Print exactly one JSON report on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Faults of the embedded feature store.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// The flags that define a workload, shared by every command that runs one.
#[derive(Args, Clone)]
pub struct WorkloadArgs {
    /// Feature batches to fetch and preprocess.
    #[arg(allow_negative_numbers = true, long, short = 'n', default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batches: u32,

    /// The feature store answers each request after this many milliseconds.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub io_ms: u64,

    /// Calibrated single-core CPU time to preprocess one batch, in milliseconds.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "MS", value_parser = parse_cpu_ms)]
    pub cpu_ms: f64,

    /// Kernel rounds per batch, skipping calibration (a sweep passes the same
    /// rounds to every run so that every executor does identical work).
    #[arg(long, value_name = "ROUNDS", hide_short_help = true)]
    pub cpu_rounds: Option<u64>,

    /// Feature values per batch.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1024, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=i64::from(feature_store::MAX_VALUES)))]
    pub features: u32,

    /// Threads, executors or processes, for executors with a pool [default: cores].
    #[arg(allow_negative_numbers = true, long, short = 'w', value_name = "W", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// A new TCP connection per request, or keep-alive reuse.
    #[arg(long, value_enum, default_value_t = ConnectionsArg::Fresh)]
    pub connections: ConnectionsArg,

    /// Cap on concurrent requests [default: unbounded].
    #[arg(allow_negative_numbers = true, long, value_name = "M", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: Option<u32>,

    /// Emulate CPython's GIL: CPU work holds one process-wide lock, handed over every 5 ms.
    #[arg(long)]
    pub gil: bool,

    /// Per-request timeout, each attempt [default: 2 x io + 2000 + batches x cpu].
    #[arg(allow_negative_numbers = true, long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub timeout_ms: Option<u64>,

    /// Retries per batch after a connect error, reset, timeout or 5xx (never after a 4xx).
    #[arg(allow_negative_numbers = true, long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
}

/// Fault injection in the embedded feature store, deterministic from the
/// seed, the batch id and the attempt, so every executor meets the same faults.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Fault injection (embedded feature store)")]
pub struct FaultArgs {
    /// Seed of the fault choice.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    pub fault_seed: u64,
    /// Share of requests answered 500.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "P", value_parser = parse_rate)]
    pub fail_rate: f64,
    /// Share of requests whose connection closes mid-response.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "P", value_parser = parse_rate)]
    pub reset_rate: f64,
    /// Share of requests accepted and never answered.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "P", value_parser = parse_rate)]
    pub stall_rate: f64,
    /// Share of requests answered --slow-ms late.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "P", value_parser = parse_rate)]
    pub slow_rate: f64,
    /// Extra delay of a slow answer.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub slow_ms: u64,
    /// Share of requests answered with truncated JSON.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0, value_name = "P", value_parser = parse_rate)]
    pub malformed_rate: f64,
}

impl FaultArgs {
    /// The feature store's fault configuration.
    pub fn faults(&self) -> feature_store::Faults {
        feature_store::Faults {
            seed: self.fault_seed,
            fail_rate: self.fail_rate,
            reset_rate: self.reset_rate,
            stall_rate: self.stall_rate,
            slow_rate: self.slow_rate,
            slow_ms: self.slow_ms,
            malformed_rate: self.malformed_rate,
        }
    }

    /// Whether any fault is switched on.
    pub fn any(&self) -> bool {
        let faults = self.faults();
        faults.fail_rate
            + faults.reset_rate
            + faults.stall_rate
            + faults.slow_rate
            + faults.malformed_rate
            > 0.0
    }

    /// The same settings as `serve-features` arguments, for the embedded store.
    pub fn to_args(&self) -> Vec<String> {
        let pairs = [
            ("--fault-seed", self.fault_seed.to_string()),
            ("--fail-rate", self.fail_rate.to_string()),
            ("--reset-rate", self.reset_rate.to_string()),
            ("--stall-rate", self.stall_rate.to_string()),
            ("--slow-rate", self.slow_rate.to_string()),
            ("--slow-ms", self.slow_ms.to_string()),
            ("--malformed-rate", self.malformed_rate.to_string()),
        ];
        pairs
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_owned(), value])
            .collect()
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err("must be between 0 and 1".into());
    }
    Ok(rate)
}

/// `--upstream-kind`: [`pipeline::UpstreamKind`] on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum UpstreamKindArg {
    /// A runtime-lab feature store's base URL.
    FeatureStore,
    /// A URL with `{id}`.
    Template,
    /// Any other URL, requested as it is.
    Url,
}

impl From<UpstreamKindArg> for UpstreamKind {
    fn from(kind: UpstreamKindArg) -> Self {
        match kind {
            UpstreamKindArg::FeatureStore => UpstreamKind::FeatureStore,
            UpstreamKindArg::Template => UpstreamKind::Template,
            UpstreamKindArg::Url => UpstreamKind::Url,
        }
    }
}

/// `--connections`.
#[derive(Clone, Copy, ValueEnum)]
pub enum ConnectionsArg {
    /// A new connection per request, closed after it.
    Fresh,
    /// Keep-alive connections, reused.
    Pooled,
}

impl From<ConnectionsArg> for Connections {
    fn from(arg: ConnectionsArg) -> Self {
        match arg {
            ConnectionsArg::Fresh => Connections::Fresh,
            ConnectionsArg::Pooled => Connections::Pooled,
        }
    }
}

fn parse_cpu_ms(value: &str) -> Result<f64, String> {
    let ms: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if !(0.0..=60_000.0).contains(&ms) {
        return Err("must be between 0 and 60000".into());
    }
    Ok(ms)
}

impl RunArgs {
    /// The workload against `upstream`, with CPU work calibrated on this machine.
    pub fn workload(&self, upstream: Upstream) -> anyhow::Result<Workload> {
        self.workload.build(upstream)
    }
}

impl WorkloadArgs {
    /// Builds the workload; calibrates the kernel unless `--cpu-rounds` is given.
    pub fn build(&self, upstream: Upstream) -> anyhow::Result<Workload> {
        let cpu_rounds = kernel_rounds(self.cpu_rounds, self.cpu_ms, self.features);
        self.build_with_rounds(upstream, cpu_rounds)
    }

    /// Builds the workload with `cpu_rounds` kernel rounds per batch, without calibrating.
    pub fn build_with_rounds(
        &self,
        upstream: Upstream,
        cpu_rounds: u64,
    ) -> anyhow::Result<Workload> {
        let mut workload = Workload::new(upstream)
            .batches(self.batches)
            .io_ms(self.io_ms)
            .cpu(self.cpu_ms, cpu_rounds)
            .features(self.features)
            .connections(self.connections.into())
            .max_in_flight(self.max_in_flight.map(|m| m as usize))
            .gil(self.gil);
        if let Some(workers) = self.workers {
            workload = workload.workers(workers as usize);
        }
        if let Some(timeout_ms) = self.timeout_ms {
            workload = workload.timeout_ms(timeout_ms);
        }
        workload = workload.retries(self.retries);
        workload.validate()?;
        Ok(workload)
    }
}

/// Kernel rounds for `cpu_ms` per batch of `features` values: the given
/// `--cpu-rounds`, or a calibration on this machine.
fn kernel_rounds(given: Option<u64>, cpu_ms: f64, features: u32) -> u64 {
    match given {
        Some(rounds) => rounds,
        None if cpu_ms > 0.0 => Calibration::measure(features).rounds_for(cpu_ms),
        None => 0,
    }
}

/// Arguments of `serve-features`.
#[derive(Args)]
pub struct ServeFeaturesArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Exit when the parent process dies (used by the embedded store).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,

    /// Injected faults.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Arguments of `serve`: the pipeline behind an HTTP server.
///
/// `GET /predict?id=N` fetches `--fanout` feature batches (ids N*S .. N*S+S)
/// from the feature store, preprocesses them with `--cpu-ms` of calibrated
/// CPU work in all, and answers `{"id":N,"digest":"<16 hex>","batches":S}`,
/// the same digest on every executor. `GET /health` answers 200 once ready.
/// The server prints one line, `listening on http://HOST:PORT`, when it
/// accepts connections, and stops cleanly on SIGINT or SIGTERM.
#[derive(Args)]
pub struct ServeArgs {
    /// Serving model (see DESIGN.md's serving table; `rayon`, `crossbeam` and
    /// `serial` are not serving models).
    #[arg(long, short = 'e', value_parser = crate::executors::names())]
    pub executor: String,

    /// Threads, executors or processes [default: cores]; for `tokio-ct`, W
    /// event-loop processes on one port; for `processes`, W blocking processes.
    #[arg(allow_negative_numbers = true, long, short = 'w', value_name = "W", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Feature batches fetched per request.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1, value_name = "S", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub fanout: u32,

    /// The feature store answers each fetch after this many milliseconds.
    #[arg(allow_negative_numbers = true, long, default_value_t = 20, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub io_ms: u64,

    /// Calibrated single-core CPU time per request, spread over its batches
    /// (the default with --io-ms 20 is the articles' 80% I/O, 20% CPU).
    #[arg(allow_negative_numbers = true, long, default_value_t = 5.0, value_name = "MS", value_parser = parse_cpu_ms)]
    pub cpu_ms: f64,

    /// Kernel rounds per batch, skipping calibration (a sweep, and the
    /// processes of a multi-process server, share one calibration).
    #[arg(long, value_name = "ROUNDS", hide_short_help = true)]
    pub cpu_rounds: Option<u64>,

    /// Feature values per batch.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1024, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=i64::from(feature_store::MAX_VALUES)))]
    pub features: u32,

    /// Connections to the feature store: keep-alive reuse, or a new one per fetch.
    #[arg(long, value_enum, default_value_t = ConnectionsArg::Pooled)]
    pub connections: ConnectionsArg,

    /// Emulate CPython's GIL: one lock per server process around CPU work.
    #[arg(long)]
    pub gil: bool,

    /// Base URL of a running feature store, or any HTTP URL with `{id}` in it
    /// (default: start an embedded feature store).
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

    /// What --upstream is, skipping its probe (the processes of a
    /// multi-process server, and a sweep, are told by their parent).
    #[arg(
        long,
        value_enum,
        value_name = "KIND",
        requires = "upstream",
        hide = true
    )]
    pub upstream_kind: Option<UpstreamKindArg>,

    /// Serve as one process of a multi-process server: listen on exactly
    /// --addr with SO_REUSEPORT, and exit with the parent.
    #[arg(long, hide = true)]
    pub prefork_child: bool,
}

impl ServeArgs {
    /// The workload of one request against `upstream`: `batches` is the
    /// fan-out, and the CPU time is spread over the batches.
    pub fn workload(&self, upstream: Upstream) -> anyhow::Result<Workload> {
        let cpu_ms_per_batch = self.cpu_ms / f64::from(self.fanout);
        let cpu_rounds = kernel_rounds(self.cpu_rounds, cpu_ms_per_batch, self.features);
        let mut workload = Workload::new(upstream)
            .batches(self.fanout)
            .io_ms(self.io_ms)
            .cpu(cpu_ms_per_batch, cpu_rounds)
            .features(self.features)
            .connections(self.connections.into())
            .gil(self.gil);
        if let Some(workers) = self.workers {
            workload = workload.workers(workers as usize);
        }
        workload.validate()?;
        Ok(workload)
    }
}

/// Arguments of `sweep`.
///
/// Every point runs as a child `runtime-lab run --json` against one feature
/// store, with the kernel calibrated once for the whole sweep.
#[derive(Args)]
pub struct SweepArgs {
    /// Scale delays down to 100 ms and run fewer points (about five minutes on 2 cores).
    #[arg(long)]
    pub quick: bool,

    /// Figures to produce, e.g. `1,3,7` [default: the eight and the phase
    /// figures 10 and 11, and 9 with --baselines; with --server, its three].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=11))]
    pub figures: Vec<u8>,

    /// Executors to run, e.g. `serial,threads` [default: every one a figure names];
    /// naming a baseline (`py-threads`) adds the baselines' series as --baselines does.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(crate::sweep::plan::series_names()))]
    pub executors: Vec<String>,

    /// Add the articles' own Python and Go clients (see `list`) to the
    /// figures they belong to, and figure 9, the GIL measured; install them
    /// first with scripts/baselines/install.
    #[arg(long)]
    pub baselines: bool,

    /// Runs per point: each point is their median, with min-max whiskers
    /// [default: 3; with --server, 1 quick and 2 full].
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: Option<u32>,

    /// The server figures instead: max sustainable RPS vs workers, latency
    /// vs offered load, memory vs keep-alive connections (`serve` under `load`).
    #[arg(long)]
    pub server: bool,

    /// Override the length of each load probe of a server sweep (tests shrink sweeps with it).
    #[arg(long, value_name = "MS", hide = true, value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub probe_ms: Option<u64>,

    /// Output folder (default: `reports/<date>-<quick|full>-<cores>c`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Any HTTP URL: a running feature store's base (told by its /health),
    /// or a URL requested as it is for every batch, `{id}` replaced by the
    /// batch id where present (default: start an embedded feature store).
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

    /// Override the scale's upstream delay (tests shrink sweeps with it).
    #[arg(long, value_name = "MS", hide = true, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub io_ms: Option<u64>,

    /// Drop every point above this N (tests shrink sweeps with it).
    #[arg(long, value_name = "N", hide = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_n: Option<u32>,

    /// Faults of the embedded feature store (runs with failed batches then
    /// count, with their failures in results.csv).
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// What the probe decided about the upstream, in words.
fn upstream_kind_phrase(kind: UpstreamKind) -> &'static str {
    match kind {
        UpstreamKind::FeatureStore => "feature store",
        UpstreamKind::Template => "url template: {id} is each batch's id",
        UpstreamKind::Url => "url: requested as it is for every batch",
    }
}

/// Arguments of `load`: exactly one of `--rate` and `--max`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("schedule").required(true).args(["rate", "max"])))]
pub struct LoadArgs {
    /// URL to load, `http://host:port/path?query`; each `{id}` in it becomes
    /// the request's running number (0, 1, 2, ...).
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// Open loop: this many requests per second at fixed intended start
    /// times, each timed from its intended start (no coordinated omission).
    #[arg(allow_negative_numbers = true, long, value_name = "R", value_parser = parse_load_rate)]
    pub rate: Option<f64>,

    /// Closed loop: each connection sends its next request as soon as the
    /// last answer arrives, timed from the send (like wrk).
    #[arg(long)]
    pub max: bool,

    /// Measured seconds, after the warm-up.
    #[arg(allow_negative_numbers = true, long, value_name = "S", default_value_t = load::DEFAULT_DURATION.as_secs_f64(), value_parser = parse_duration)]
    pub duration: f64,

    /// Seconds of load before the measured window, sent but not recorded.
    #[arg(allow_negative_numbers = true, long, value_name = "S", default_value_t = load::DEFAULT_WARMUP.as_secs_f64(), value_parser = parse_warmup)]
    pub warmup: f64,

    /// Keep-alive connections, all opened before the run.
    #[arg(allow_negative_numbers = true, long, value_name = "C", default_value_t = load::DEFAULT_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub connections: u32,

    /// Per-request timeout, connect included.
    #[arg(allow_negative_numbers = true, long, value_name = "MS", default_value_t = load::DEFAULT_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub timeout_ms: u64,

    /// Seconds after the window in which requests due in it may still
    /// complete and count (0: they are abandoned as unfinished).
    #[arg(allow_negative_numbers = true, long, value_name = "S", default_value_t = 0.0, value_parser = parse_warmup)]
    pub drain: f64,

    /// Threads of the load generator (1: a current-thread runtime, the least CPU per request).
    #[arg(allow_negative_numbers = true, long, value_name = "T", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=load::MAX_THREADS as i64))]
    pub threads: u32,

    /// Print exactly one JSON report on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    /// The load run these flags describe.
    pub fn config(&self) -> load::Config {
        let mode = match self.rate {
            Some(rate) => load::Mode::Open { rate },
            None => load::Mode::Closed,
        };
        load::Config {
            connections: self.connections as usize,
            duration: Duration::from_secs_f64(self.duration),
            warmup: Duration::from_secs_f64(self.warmup),
            timeout: Duration::from_millis(self.timeout_ms),
            drain: Duration::from_secs_f64(self.drain),
            threads: self.threads as usize,
            ..load::Config::new(&self.url, mode)
        }
    }
}

fn parse_load_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if !(rate > 0.0 && rate <= load::MAX_RATE) {
        return Err("must be above 0 and at most 10000000 requests per second".into());
    }
    Ok(rate)
}

fn parse_seconds(value: &str) -> Result<f64, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !(0.0..=load::MAX_SECONDS).contains(&seconds) {
        return Err("must be between 0 and 86400 seconds".into());
    }
    Ok(seconds)
}

fn parse_duration(value: &str) -> Result<f64, String> {
    let seconds = parse_seconds(value)?;
    if seconds == 0.0 {
        return Err("must be above 0 seconds".into());
    }
    Ok(seconds)
}

fn parse_warmup(value: &str) -> Result<f64, String> {
    parse_seconds(value)
}

/// Prints a load report as an aligned two-column table.
pub fn print_load_report(report: &load::LoadReport) {
    let mode = match report.offered_rps {
        Some(rate) => format!("open loop, {rate} req/s offered"),
        None => "closed loop".into(),
    };
    let errors = if report.errors.is_empty() {
        "none".into()
    } else {
        report
            .errors
            .iter()
            .map(|(kind, count)| format!("{} {count}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let latency = report.latency_ms;
    let rows = [
        ("url", report.url.clone()),
        ("mode", mode),
        (
            "window",
            format!(
                "{} s after {} s of warm-up",
                report.duration_s, report.warmup_s
            ),
        ),
        ("achieved", format!("{:.1} req/s", report.achieved_rps)),
        (
            "ok / unfinished",
            format!("{} / {}", report.ok, report.unfinished),
        ),
        ("errors", errors),
        (
            "latency",
            format!(
                "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
                latency.p50, latency.p90, latency.p99, latency.p999, latency.max
            ),
        ),
        (
            "connections",
            format!("{} ({} connects)", report.connections, report.connects),
        ),
        ("threads", report.threads.to_string()),
        (
            "cpu time",
            format!(
                "user {:.0} ms, sys {:.0} ms",
                report.cpu_user_ms, report.cpu_sys_ms
            ),
        ),
    ];
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in rows {
        println!("{key:<width$}  {value}");
    }
}

/// Prints a report as an aligned two-column table.
pub fn print_report(report: &RunReport) {
    let rows = [
        ("executor", report.executor.clone()),
        (
            "workload",
            format!(
                "{} batches, io {} ms, cpu {} ms ({} rounds), {} features",
                report.batches, report.io_ms, report.cpu_ms, report.cpu_rounds, report.features
            ),
        ),
        (
            "settings",
            format!(
                "{} workers, {} connections, max in flight {}, gil {}",
                report.workers,
                report.connections,
                report
                    .max_in_flight
                    .map_or("unbounded".into(), |m| m.to_string()),
                if report.gil { "on" } else { "off" }
            ),
        ),
        ("cores", report.cores.to_string()),
        (
            "upstream",
            format!(
                "{} ({})",
                report.upstream,
                upstream_kind_phrase(report.upstream_kind)
            ),
        ),
        ("wall", format!("{:.1} ms", report.wall_ms)),
        (
            "ideal",
            match report.efficiency {
                Some(efficiency) => {
                    format!("{:.1} ms (efficiency {efficiency:.2})", report.ideal_ms)
                }
                // The wall time of a run with failed batches is not the
                // work's, so no ratio to the bound is given.
                None => format!(
                    "{:.1} ms (incomplete: {} of {} batches failed)",
                    report.ideal_ms, report.failed, report.batches
                ),
            },
        ),
        (
            "cpu per batch",
            format!("{:.2} ms", report.cpu_per_batch_ms),
        ),
        (
            "latency",
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                report.latency_ms.p50, report.latency_ms.p99, report.latency_ms.max
            ),
        ),
        (
            "cpu time",
            format!(
                "user {:.0} ms, sys {:.0} ms",
                report.cpu_user_ms, report.cpu_sys_ms
            ),
        ),
        (
            "upstream cpu",
            report
                .upstream_cpu_ms
                .map_or("n/a (external upstream)".into(), |ms| format!("{ms:.0} ms")),
        ),
        ("peak rss", format!("{} KiB", report.peak_rss_kb)),
        (
            "ipc",
            report
                .ipc_bytes
                .map_or("n/a (one process)".into(), |bytes| format!("{bytes} bytes")),
        ),
        ("threads peak", report.threads_peak.to_string()),
        (
            "in flight peak",
            report
                .in_flight_peak
                .map_or("n/a (not measured)".into(), |peak| peak.to_string()),
        ),
        (
            "ok / failed",
            format!(
                "{} / {} ({} retries)",
                report.ok, report.failed, report.retries
            ),
        ),
        ("checksum", report.checksum.clone()),
    ];
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in rows {
        println!("{key:<width$}  {value}");
    }
    for error in &report.errors {
        println!("{:<width$}  {error}", "error");
    }
    if let Some(phases) = &report.phases_ms {
        print_phases(phases, report.phases_gap_max);
    }
}

/// Prints where the ok batches' latency went: one line per phase.
fn print_phases(phases: &pipeline::PhaseSummary, gap_max: Option<f64>) {
    println!();
    println!(
        "{:<12}{:>10}{:>10}{:>10}",
        "phase (ms)", "p50", "p99", "max"
    );
    for (name, summary) in pipeline::PhaseSummary::NAMES
        .into_iter()
        .zip(phases.as_array())
    {
        println!(
            "{name:<12}{:>10.2}{:>10.2}{:>10.2}",
            summary.p50, summary.p99, summary.max
        );
    }
    if let Some(gap) = gap_max {
        println!(
            "(per batch, the phases add up to its latency within {:.2}%)",
            gap * 100.0
        );
    }
}
