//! What a server sustains here at the articles' 80% I/O / 20% CPU mix,
//! compared by criterion: requests per second under closed-loop load.
//!
//! Run with: `cargo bench --bench serving`.
//!
//! **What it measures.** For [`SERVERS`] (tokio-mt with one worker per core,
//! the model the performance goal is stated for, and one event loop for
//! contrast), a `runtime-lab serve` child against one feature-store child,
//! each request fetching one batch that the store answers after [`IO_MS`]
//! and preprocessing it for [`CPU_MS`] of calibrated CPU work. Each sample
//! is one closed-loop run of the `load` crate ([`CONNECTIONS`] keep-alive
//! connections, each sending its next request when the last is answered,
//! for [`WINDOW`]); the time criterion records per iteration is the window
//! divided by the requests completed in it, so with
//! `Throughput::Elements(1)` criterion reports requests per second. Every
//! answer must be 200, or the bench stops.
//!
//! **The bound.** On C cores no server can exceed `C x 1000 / CPU_MS`
//! requests per second, and less, since the load generator and the feature
//! store run on the same cores; each benchmark prints its rate as a share of
//! that bound. `runtime-lab sweep --server` states the bound net of their
//! measured CPU.
//!
//! **What it does not measure.** Latency under open-loop load and the
//! maximum *sustainable* rate (the sweep's figures 1 and 2), memory, and
//! the other serving models, which `sweep --server` covers.

mod common;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The feature store's delay per request.
const IO_MS: u64 = 20;
/// Calibrated CPU work per request: with `IO_MS`, 80% I/O and 20% CPU.
const CPU_MS: u64 = 5;
/// Closed-loop connections: enough to keep every core busy while requests wait on I/O.
const CONNECTIONS: usize = 64;
/// Length of one sample's load run.
const WINDOW: Duration = Duration::from_secs(1);
/// The servers: (executor, workers; 0 = one per core).
const SERVERS: [(&str, usize); 2] = [("tokio-mt", 0), ("tokio-ct", 1)];

/// A child process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `runtime-lab ARGS` and returns it with the address of its readiness line.
fn start(args: &[&str]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runtime-lab"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runtime-lab starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("a readiness line");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("an address")
        .to_owned();
    (Process(child), addr)
}

fn serving(c: &mut Criterion) {
    let cores = pipeline::available_cores();
    let (_store, store) = start(&["serve-features", "--addr", "127.0.0.1:0"]);
    let rounds = pipeline::Calibration::measure(1024).rounds_for(CPU_MS as f64);
    let bound = cores as f64 * 1000.0 / CPU_MS as f64;
    let mut group = c.benchmark_group("serving_80_20");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for (executor, workers) in SERVERS {
        let workers = if workers == 0 { cores } else { workers };
        let (_server, addr) = start(&[
            "serve",
            "--executor",
            executor,
            "--workers",
            &workers.to_string(),
            "--addr",
            "127.0.0.1:0",
            "--upstream",
            &format!("http://{store}"),
            "--upstream-kind",
            "feature-store",
            "--io-ms",
            &IO_MS.to_string(),
            "--cpu-ms",
            &CPU_MS.to_string(),
            "--cpu-rounds",
            &rounds.to_string(),
        ]);
        let config = load::Config {
            connections: CONNECTIONS,
            duration: WINDOW,
            warmup: Duration::from_millis(200),
            ..load::Config::new(
                format!("http://{addr}/predict?id={{id}}"),
                load::Mode::Closed,
            )
        };
        group.bench_function(BenchmarkId::new(executor, workers), |bencher| {
            bencher.iter_custom(|iters| {
                let report = load::run(&config).expect("the load run completes");
                assert_eq!(report.errors_total(), 0, "every request is answered 200: {report:?}");
                assert!(report.ok > 0, "the server answers");
                println!(
                    "{executor} -w {workers}: {:.0} requests/s = {:.0}% of the {bound:.0} requests/s bound ({cores} cores x 1000 / {CPU_MS} ms)",
                    report.achieved_rps,
                    100.0 * report.achieved_rps / bound
                );
                Duration::from_secs_f64(iters as f64 / report.achieved_rps)
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::harness(10, Duration::from_secs(10), Duration::from_secs(1));
    targets = serving
}
criterion_main!(benches);
