//! Command-line arguments and human-readable output.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use pipeline::{Calibration, Connections, RunReport, Upstream, Workload};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Compare Rust concurrency runtimes on one fetch-and-preprocess pipeline.
///
/// Each run fetches N feature batches over HTTP from a feature store that
/// answers after a delay, then preprocesses each batch on the CPU, on the
/// executor you pick. Without --upstream, a feature store is started on
/// 127.0.0.1 as a child process for the duration of the run.
#[derive(Parser)]
#[command(name = "runtime-lab", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the workload once on one executor and print its report.
    Run(RunArgs),
    /// List the executors, one line each.
    List,
    /// Run the feature store in the foreground (prints one readiness line).
    ServeFeatures(ServeArgs),
    /// Serve as a worker of the `processes` executor on stdin and stdout.
    #[command(name = crate::executors::WORKER_SUBCOMMAND, hide = true)]
    ProcessWorker,
    /// Reproduce the articles' figures: plots, CSV, JSON and REPORT.md.
    Sweep(SweepArgs),
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

    /// Base URL of a running feature store, or any HTTP URL with `{id}` in it
    /// (default: start an embedded feature store).
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

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

/// `--connections`.
#[derive(Clone, Copy, ValueEnum)]
pub enum ConnectionsArg {
    /// A new connection per request, closed after it.
    Fresh,
    /// Keep-alive connections, reused.
    Pooled,
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
    /// The workload against `upstream_url`, with CPU work calibrated on this machine.
    pub fn workload(&self, upstream_url: &str) -> anyhow::Result<Workload> {
        self.workload.build(upstream_url)
    }
}

impl WorkloadArgs {
    /// Builds the workload; calibrates the kernel unless `--cpu-rounds` is given.
    pub fn build(&self, upstream_url: &str) -> anyhow::Result<Workload> {
        let cpu_rounds = match self.cpu_rounds {
            Some(rounds) => rounds,
            None if self.cpu_ms > 0.0 => {
                Calibration::measure(self.features).rounds_for(self.cpu_ms)
            }
            None => 0,
        };
        self.build_with_rounds(upstream_url, cpu_rounds)
    }

    /// Builds the workload with `cpu_rounds` kernel rounds per batch, without calibrating.
    pub fn build_with_rounds(
        &self,
        upstream_url: &str,
        cpu_rounds: u64,
    ) -> anyhow::Result<Workload> {
        let upstream = Upstream::parse(upstream_url).context("bad --upstream")?;
        let mut workload = Workload::new(upstream)
            .batches(self.batches)
            .io_ms(self.io_ms)
            .cpu(self.cpu_ms, cpu_rounds)
            .features(self.features)
            .connections(match self.connections {
                ConnectionsArg::Fresh => Connections::Fresh,
                ConnectionsArg::Pooled => Connections::Pooled,
            })
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

/// Arguments of `serve-features`.
#[derive(Args)]
pub struct ServeArgs {
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

    /// Figures to produce, e.g. `1,3,7` [default: all eight, and 9 with --baselines].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=9))]
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

    /// Runs per point: each point is their median, with min-max whiskers.
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,

    /// Output folder (default: `reports/<date>-<quick|full>-<cores>c`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Base URL of a running feature store, or any HTTP URL with `{id}` in it
    /// (default: start an embedded feature store).
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
        ("wall", format!("{:.1} ms", report.wall_ms)),
        (
            "ideal",
            format!(
                "{:.1} ms (efficiency {:.2})",
                report.ideal_ms, report.efficiency
            ),
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
}
