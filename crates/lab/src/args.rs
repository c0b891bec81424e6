//! The flag groups that the lab's tables and machinery read: a workload's
//! flags, the embedded feature store's faults and `serve`'s flags. The
//! binary's command tree (`src/cli.rs`) flattens them into its subcommands.

use clap::{Args, ValueEnum};
use pipeline::{Calibration, Connections, Upstream, UpstreamKind, Workload};
use std::net::SocketAddr;

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

/// Arguments of `serve`: the pipeline behind an HTTP server.
///
/// `GET /predict?id=N` fetches `--fanout` feature batches (ids N*S .. N*S+S)
/// from the feature store, preprocesses them with `--cpu-ms` of calibrated
/// CPU work in all, and answers `{"id":N,"digest":"<16 hex>","batches":S}`,
/// the same digest on every executor. The other scenarios: `GET /ping`
/// (no fetch, no CPU), `GET /fib?n=N` (naive recursive Fibonacci, equal
/// work in every language) and `GET /io?id=N` (two concurrent fetches, no
/// CPU); see `pipeline::serve`. `GET /health` answers 200 once ready.
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
