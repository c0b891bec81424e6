//! The fetch-and-preprocess workload on every executor, compared by criterion.
//!
//! Run with: `cargo bench --bench pipeline` (or `cargo bench -- io_only`).
//!
//! **What it measures.** For every executor of `lab::executors::ALL`
//! that can run here, and for each batch count of [`BATCH_COUNTS`], the
//! makespan of one run of the workload in two scenarios (two groups):
//!
//! - `io_only`: the feature store answers each request after [`IO_MS`] and
//!   there is no CPU work, so the numbers show how each executor overlaps
//!   waiting (serial grows with the batches, everything else should not);
//! - `io_plus_cpu`: the same, plus [`CPU_MS`] of calibrated kernel work per
//!   batch (half the time of a batch is CPU, the articles' f = 0.5), so the
//!   numbers show who also spreads the CPU work over the cores.
//!
//! Each benchmark is `BenchmarkId::new(executor, batches)` with
//! `Throughput::Elements(batches)`, so criterion's report draws one line per
//! executor across the batch counts, and shows batches per second.
//!
//! **Which time.** The time criterion records is the report's `wall_ms`: the
//! makespan from the first request issued to the last batch preprocessed,
//! computed by `pipeline::RunClock` from each batch's timestamps, exactly as
//! `runtime-lab run --json` reports it. It is not the elapsed time around
//! `run`, because that also holds what an executor does before its first
//! request and after its last batch (building a thread pool, starting worker
//! processes, setting up io_uring rings, joining threads, the report's own
//! thread sampler): one-off costs that a long-lived service pays once, that
//! differ by orders of magnitude between executors, and that would swamp a
//! 20 ms run. With `wall_ms`, criterion's numbers and the CLI's agree.
//!
//! **What it does not measure.** Runtime start-up and tear-down (see above);
//! the runtimes' elementary costs (spawn, yield, wake-up, timers: see
//! `benches/primitives.rs`, which explains these results); the feature
//! store's CPU time (it runs in its own process but shares the cores);
//! pooled connections, `--max-in-flight`, `--gil` and large batch counts,
//! which are the CLI's job.
//!
//! **Measuring honestly on a noisy machine** (DESIGN.md). One feature-store
//! child process serves the whole bench run. The kernel is calibrated once,
//! and every executor gets the same number of kernel rounds per batch, so the
//! executors are compared on identical work. Executors are interleaved
//! (every executor at one batch count, then every executor at the next), and
//! the order is rotated by one at each pass so that no executor always runs
//! first or last. Every run must preprocess every batch and report the same
//! checksum as the first executor that ran that batch count, or the bench
//! stops: a fast run that skipped work would not be a result. Quote ratios between executors rather
//! than absolute times.

mod common;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use lab::executors::{self, Executor};
use lab::upstream::Upstream;
use pipeline::{Calibration, Workload};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// The feature store answers each request after this delay.
const IO_MS: u64 = 20;
/// Calibrated single-core CPU time per batch in `io_plus_cpu` (cpu = io).
const CPU_MS: f64 = 20.0;
/// The batch counts of every group.
const BATCH_COUNTS: [u32; 3] = [1, 8, 32];
/// Feature values per batch (DESIGN.md's default).
const FEATURES: u32 = 1024;

/// Samples per benchmark: criterion's minimum, since one sample is a whole run.
const SAMPLE_SIZE: usize = 10;
/// Target measuring time per benchmark. A benchmark whose run is longer than
/// a tenth of it takes one run per sample (criterion warns, and that is fine).
const MEASUREMENT_TIME: Duration = Duration::from_secs(2);
/// Warm-up per benchmark: enough for connections, caches and thread stacks.
const WARM_UP_TIME: Duration = Duration::from_millis(500);

/// One group: a workload shape.
struct Scenario {
    /// The criterion group name.
    name: &'static str,
    /// CPU time per batch (0: I/O only).
    cpu_ms: f64,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "io_only",
        cpu_ms: 0.0,
    },
    Scenario {
        name: "io_plus_cpu",
        cpu_ms: CPU_MS,
    },
];

fn pipeline(c: &mut Criterion) {
    // A bench's own executable is criterion's harness, not runtime-lab: point
    // everything that starts a helper process (the feature store here, the
    // workers of the `processes` executor) at the real binary.
    let program = Path::new(env!("CARGO_BIN_EXE_runtime-lab"));
    // Nothing else in this process sets it, so the first call always counts.
    let _ = executors::set_worker_program(program.to_path_buf());
    let feature_store = Upstream::embedded(program).expect("the embedded feature store starts");
    let upstream = pipeline::Upstream::parse(feature_store.url())
        .expect("the feature store's readiness line holds a valid URL");

    let calibration = Calibration::measure(FEATURES);
    let cpu_rounds = |cpu_ms: f64| calibration.rounds_for(cpu_ms);
    eprintln!(
        "pipeline: kernel calibrated at {:.1} rounds/ms; {CPU_MS} ms of CPU per batch is {} rounds for every executor",
        calibration.rounds_per_ms,
        cpu_rounds(CPU_MS),
    );

    let runnable: Vec<&Executor> = executors::ALL
        .iter()
        .filter(|executor| match (executor.available)() {
            Ok(()) => true,
            Err(reason) => {
                eprintln!("pipeline: skipping {}: {reason}", executor.name);
                false
            }
        })
        .collect();

    let mut checksums = Checksums::default();
    let mut pass = 0;
    for scenario in &SCENARIOS {
        let mut group = c.benchmark_group(scenario.name);
        group.sampling_mode(SamplingMode::Flat);
        for batches in BATCH_COUNTS {
            let workload = Workload::new(upstream.clone())
                .batches(batches)
                .io_ms(IO_MS)
                .cpu(scenario.cpu_ms, cpu_rounds(scenario.cpu_ms))
                .features(FEATURES);
            group.throughput(Throughput::Elements(u64::from(batches)));
            for executor in rotated(&runnable, pass) {
                let id = BenchmarkId::new(executor.name, batches);
                group.bench_with_input(id, &workload, |bencher, workload| {
                    bencher.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| makespan(executor, workload, &mut checksums))
                            .sum()
                    });
                });
            }
            pass += 1;
        }
        group.finish();
    }
    // It shared the cores with every executor: say how much it took.
    if let Some(cpu_ms) = feature_store.cpu_ms() {
        eprintln!("pipeline: the feature store used {cpu_ms:.0} ms of CPU during the bench");
    }
    // Dropping it stops the feature store.
    drop(feature_store);
}

/// Runs the workload once and returns its makespan, after checking that the
/// run did all the work.
fn makespan(executor: &Executor, workload: &Workload, checksums: &mut Checksums) -> Duration {
    let report = (executor.run)(workload)
        .unwrap_or_else(|error| panic!("executor {} failed: {error:#}", executor.name));
    assert!(
        report.failed == 0 && report.ok == workload.batches,
        "executor {} preprocessed {} of {} batches: {:?}",
        executor.name,
        report.ok,
        workload.batches,
        report.errors,
    );
    checksums.check(executor.name, workload.batches, &report.checksum);
    Duration::from_secs_f64(report.wall_ms / 1e3)
}

/// The checksum of each batch count, as the first executor to run it reported it.
#[derive(Default)]
struct Checksums {
    by_batches: HashMap<u32, (&'static str, String)>,
}

impl Checksums {
    fn check(&mut self, executor: &'static str, batches: u32, checksum: &str) {
        let (first, expected) = self
            .by_batches
            .entry(batches)
            .or_insert_with(|| (executor, checksum.to_owned()));
        assert_eq!(
            checksum, expected,
            "executor {executor} and executor {first} disagree on the checksum of {batches} batches",
        );
    }
}

/// The executors, starting at `pass` (modulo their number).
fn rotated<'a>(executors: &[&'a Executor], pass: usize) -> Vec<&'a Executor> {
    let mut order = executors.to_vec();
    let n_executors = order.len();
    if n_executors > 0 {
        order.rotate_left(pass % n_executors);
    }
    order
}

criterion_group! {
    name = benches;
    config = common::harness(SAMPLE_SIZE, MEASUREMENT_TIME, WARM_UP_TIME);
    targets = pipeline
}
criterion_main!(benches);
