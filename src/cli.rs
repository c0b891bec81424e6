//! Command-line arguments and human-readable output.

use clap::{Args, Parser, Subcommand};
use lab::args::{FaultArgs, ServeArgs, UpstreamKindArg, WorkloadArgs};
use pipeline::{RunReport, Upstream, UpstreamKind, Workload};
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

/// A run that completed no batch: its report is printed, and the process
/// exits with [`lab::EXIT_NO_BATCH_COMPLETED`].
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
    /// Serve /ping, /fib?n=N, /io?id=N and /predict?id=N over HTTP on one executor (prints one readiness line).
    Serve(ServeArgs),
    /// Serve as a worker of the `processes` executor on stdin and stdout.
    #[command(name = lab::executors::WORKER_SUBCOMMAND, hide = true)]
    ProcessWorker,
    /// Reproduce the articles' figures: plots, CSV, JSON and REPORT.md.
    Sweep(SweepArgs),
    /// Load an HTTP server at a constant rate (open loop) or flat out (closed loop).
    Load(LoadArgs),
    /// Check the seeds' claims against the committed result sets: write reports/FINDINGS.md and README's findings block.
    Findings(FindingsArgs),
}

/// The workload's parameters (DESIGN.md's table) and the executor to run it on.
#[derive(Args)]
pub struct RunArgs {
    /// Executor to run (see `runtime-lab list`).
    #[arg(long, short = 'e', value_parser = lab::executors::names())]
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

impl RunArgs {
    /// The workload against `upstream`, with CPU work calibrated on this machine.
    pub fn workload(&self, upstream: Upstream) -> anyhow::Result<Workload> {
        self.workload.build(upstream)
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
    /// figures 10 and 11, and 9 with --baselines; with --server, its three;
    /// the server figures 5, 6 and 7, the Python-vs-Go article's ping, cpu
    /// and io table, run only when named].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=11))]
    pub figures: Vec<u8>,

    /// Executors to run, e.g. `serial,threads` [default: every one a figure names];
    /// naming a baseline (`py-threads`) adds the baselines' series as --baselines does.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(sweep::series_names()))]
    pub executors: Vec<String>,

    /// Add the articles' own Python and Go clients (see `list`) to the
    /// figures they belong to, and figure 9, the GIL measured; install them
    /// first with scripts/baselines/install.
    #[arg(long)]
    pub baselines: bool,

    /// Runs per point: each point is their median, with min-max whiskers
    /// [default: 3; with --server, 2 quick and 3 full].
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

impl From<SweepArgs> for sweep::SweepOptions {
    fn from(args: SweepArgs) -> Self {
        Self {
            quick: args.quick,
            figures: args.figures,
            executors: args.executors,
            baselines: args.baselines,
            repeat: args.repeat,
            server: args.server,
            probe_ms: args.probe_ms,
            out: args.out,
            upstream: args.upstream,
            io_ms: args.io_ms,
            max_n: args.max_n,
            faults: args.faults,
        }
    }
}

/// `runtime-lab findings`: the page is a function of the committed sets
/// alone, so running it again changes nothing unless a set changed.
#[derive(Args)]
pub struct FindingsArgs {
    /// The reports folder: every subfolder with a results.json is a set; FINDINGS.md is written here.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,

    /// The README whose block between the findings markers is rewritten.
    #[arg(long, default_value = "README.md")]
    pub readme: PathBuf,

    /// Write nothing: exit 1 when FINDINGS.md or README's block differs from what the sets produce.
    #[arg(long)]
    pub check: bool,
}

impl From<FindingsArgs> for sweep::findings::Options {
    fn from(args: FindingsArgs) -> Self {
        Self {
            reports: args.reports,
            readme: Some(args.readme),
            check: args.check,
        }
    }
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
#[command(
    after_help = "Which requests count: in open loop (--rate), those whose intended start \
falls in the measured window (answered before the window, plus --drain, ends); in closed loop \
(--max), every request that completes inside the window, whatever its start, as wrk counts, so \
the throughput does not depend on the window's length. achieved_rps counts successful (2xx/3xx) \
answers only; failed requests are counted beside it, by kind. answered_rps counts the ok answers \
that arrive inside the window, whatever their start: in closed loop the same as achieved_rps; in \
open loop the offered rate while the server keeps up and its capacity once it does not, however \
long the drain (achieved_rps there can reach the offered rate above capacity, by answering the \
window's queue during the drain)."
)]
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
    /// last answer arrives, timed from the send; counts the requests that
    /// complete in the window (like wrk).
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

    /// Open loop: seconds after the window in which requests due in it may
    /// still complete and count (0: they are abandoned as unfinished).
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
        ("achieved", format!("{:.1} req/s ok", report.achieved_rps)),
        (
            "answered in window",
            format!("{:.1} req/s ok", report.answered_rps),
        ),
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
