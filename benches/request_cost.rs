//! What one request costs in CPU time, on the client and on the feature
//! store, compared by criterion.
//!
//! Run with: `cargo bench --bench request_cost` (compare a change with
//! `-- --save-baseline before` and then `-- --baseline before`).
//!
//! **What it measures.** The time criterion records per iteration is CPU
//! time, not wall time: each sample returns the CPU consumed by the requests
//! it made, divided by criterion into one request's share. The feature store
//! answers at once ([`IO_MS`] is 0), so the figures are the cost of the
//! requests, with no delay to hide it. One group, `request_cost`:
//!
//! - `client-ureq/{fresh,pooled}`: the blocking path ([`BlockingFetcher`]),
//!   one request after another on the bench's thread: fetch, decode and one
//!   kernel round ([`pipeline::process`] with no calibrated work), as a run
//!   with `--cpu-ms 0` does per batch;
//! - `client-tokio-mt/{fresh,pooled}`: the same on the async path
//!   ([`AsyncFetcher`] on a multi-threaded tokio runtime, one worker per
//!   core), [`IN_FLIGHT`] requests at a time;
//! - `store/{fresh,pooled}`: the feature store's CPU for the requests of the
//!   tokio-mt client, each batch id asked for again and again (the store's
//!   body cache is warm, as for every run of a sweep after the first);
//!   `store-cold/fresh`: the same with a batch id never asked for before.
//!
//! A second group, `batch_decode`, times decoding one store body of
//! [`FEATURES`] values on one thread (wall time is CPU time there): with
//! serde_json, as the fetch paths decoded before, and with
//! [`pipeline::BatchDecoder`], whole and in [`CHUNK_BYTES`] chunks as a
//! socket delivers them.
//!
//! **Which CPU clock, and why.** The client's CPU is this process's
//! (`CLOCK_PROCESS_CPUTIME_ID`): every thread of the bench process is the
//! client, its runtime's workers included. The store runs as it does in a
//! run, in its own child process (`runtime-lab serve-features`) with its own
//! multi-threaded runtime: in this process, its threads would be charged to
//! the client, and one thread's CPU clock would miss the work its other
//! workers do. Its CPU is the sum of `sum_exec_runtime` over its threads
//! (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds, read with `procfs`),
//! since `/proc/<pid>/stat` counts in 10 ms ticks, too coarse for samples of
//! a few thousand requests.
//!
//! **What it does not measure.** Wall time and latency (see
//! `benches/pipeline.rs`), memory, and the split of loopback TCP's kernel
//! work: the kernel handles a loopback packet in the sender's context, so
//! part of the store's receive work is charged to the client and part of the
//! client's to the store. Both are the cost of a request on one machine, as a
//! run on this machine pays it.

mod common;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use exec_tokio::TokioConnect;
use lab::upstream::Upstream;
use pipeline::{AsyncFetcher, BlockingFetcher, Connections, Workload};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The feature store answers at once: the requests' cost is all there is.
const IO_MS: u64 = 0;
/// Feature values per batch (DESIGN.md's default): a 20 KB body.
const FEATURES: u32 = 1024;
/// Requests in flight at once on the async path.
const IN_FLIGHT: usize = 32;
/// The chunk size `batch_decode` feeds the streaming decoder: a socket read.
const CHUNK_BYTES: usize = 4096;
/// Distinct batch ids the warm benchmarks cycle through.
const WARM_IDS: u64 = 1024;

/// Samples per benchmark.
const SAMPLE_SIZE: usize = 10;
/// Target CPU time per benchmark; the wall time is longer, since the other
/// side of each request and the waits between them are not counted.
const MEASUREMENT_TIME: Duration = Duration::from_secs(1);
/// Warm-up per benchmark: connections, caches, the store's body cache.
const WARM_UP_TIME: Duration = Duration::from_millis(500);

/// The connection modes, each a benchmark parameter.
const MODES: [(&str, Connections); 2] = [
    ("fresh", Connections::Fresh),
    ("pooled", Connections::Pooled),
];

fn request_cost(c: &mut Criterion) {
    let program = Path::new(env!("CARGO_BIN_EXE_runtime-lab"));
    let feature_store = Upstream::embedded(program).expect("the embedded feature store starts");
    let store_pid = feature_store
        .pid()
        .expect("an embedded feature store has a process id");
    let upstream = pipeline::Upstream::parse(feature_store.url())
        .expect("the feature store's readiness line holds a valid URL");
    let workload = |connections| {
        Workload::new(upstream.clone())
            .io_ms(IO_MS)
            .features(FEATURES)
            .connections(connections)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(pipeline::available_cores())
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let mut group = c.benchmark_group("request_cost");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for (mode, connections) in MODES {
        let workload = workload(connections);
        group.bench_with_input(
            BenchmarkId::new("client-ureq", mode),
            &workload,
            |bencher, workload| {
                let fetcher = BlockingFetcher::new(workload);
                let mut ids = (0..WARM_IDS).cycle();
                bencher.iter_custom(|iters| {
                    let before = process_cpu();
                    for _ in 0..iters {
                        let id = ids.next().unwrap_or_default();
                        fetch_blocking(&fetcher, workload, id);
                    }
                    process_cpu().saturating_sub(before)
                });
            },
        );
        let fetcher = Arc::new(AsyncFetcher::new(TokioConnect, &workload));
        let next_id = AtomicU64::new(0);
        group.bench_with_input(
            BenchmarkId::new("client-tokio-mt", mode),
            &workload,
            |bencher, workload| {
                bencher.iter_custom(|iters| {
                    let before = process_cpu();
                    let first = next_id.fetch_add(iters, Ordering::Relaxed);
                    let ids = (first..first + iters).map(|id| id % WARM_IDS);
                    runtime.block_on(fetch_async(&fetcher, workload, ids));
                    process_cpu().saturating_sub(before)
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("store", mode),
            &workload,
            |bencher, workload| {
                bencher.iter_custom(|iters| {
                    let before = thread_cpu_of(store_pid);
                    let first = next_id.fetch_add(iters, Ordering::Relaxed);
                    let ids = (first..first + iters).map(|id| id % WARM_IDS);
                    runtime.block_on(fetch_async(&fetcher, workload, ids));
                    thread_cpu_of(store_pid).saturating_sub(before)
                });
            },
        );
    }
    // Ids above any the warm benchmarks use, each asked for once.
    let fresh = workload(Connections::Fresh);
    let fetcher = Arc::new(AsyncFetcher::new(TokioConnect, &fresh));
    let next_cold_id = AtomicU64::new(1 << 40);
    group.bench_with_input(
        BenchmarkId::new("store-cold", "fresh"),
        &fresh,
        |bencher, workload| {
            bencher.iter_custom(|iters| {
                let before = thread_cpu_of(store_pid);
                let first = next_cold_id.fetch_add(iters, Ordering::Relaxed);
                runtime.block_on(fetch_async(&fetcher, workload, first..first + iters));
                thread_cpu_of(store_pid).saturating_sub(before)
            });
        },
    );
    group.finish();
    drop(feature_store);
}

fn batch_decode(c: &mut Criterion) {
    let id = 7;
    let values: Vec<f64> = (0..u64::from(FEATURES))
        .map(|index| (index as f64 * 0.618_033_988_749_895).fract() * 2.0 - 1.0)
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "id": id, "values": values }))
        .expect("plain JSON values serialise");
    #[derive(serde::Deserialize)]
    struct FeatureBatch {
        id: u64,
        values: Vec<f64>,
    }
    let mut group = c.benchmark_group("batch_decode");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("serde_json", |bencher| {
        bencher.iter(|| {
            let batch: FeatureBatch =
                serde_json::from_slice(black_box(&body)).expect("a valid body");
            assert_eq!(batch.id, id);
            batch.values
        });
    });
    group.bench_function("streaming/whole", |bencher| {
        bencher.iter(|| pipeline::decode_batch(id, black_box(&body)).expect("a valid body"));
    });
    group.bench_function(format!("streaming/{CHUNK_BYTES}B-chunks"), |bencher| {
        bencher.iter(|| {
            let mut decoder = pipeline::BatchDecoder::with_capacity(id, FEATURES as usize);
            for chunk in black_box(&body).chunks(CHUNK_BYTES) {
                decoder.feed(chunk).expect("a valid chunk");
            }
            decoder.finish().expect("a whole body").values
        });
    });
    group.finish();
}

/// One request on the blocking path, decoded and preprocessed; a failed
/// request stops the bench, since its cost would not be a request's.
fn fetch_blocking(fetcher: &BlockingFetcher, workload: &Workload, id: u64) {
    let body = fetcher
        .fetch(id)
        .unwrap_or_else(|error| panic!("batch {id} failed: {error}"));
    pipeline::process(workload, id, &body)
        .unwrap_or_else(|error| panic!("batch {id} did not decode: {error}"));
}

/// The requests for `ids` on the async path, [`IN_FLIGHT`] at a time, each
/// decoded and preprocessed on the runtime's workers.
async fn fetch_async(
    fetcher: &Arc<AsyncFetcher<TokioConnect>>,
    workload: &Workload,
    ids: impl Iterator<Item = u64>,
) {
    let mut in_flight = tokio::task::JoinSet::new();
    for id in ids {
        if in_flight.len() >= IN_FLIGHT {
            join_one(&mut in_flight).await;
        }
        let fetcher = Arc::clone(fetcher);
        let workload = workload.clone();
        in_flight.spawn(async move {
            let body = fetcher
                .fetch(id)
                .await
                .unwrap_or_else(|error| panic!("batch {id} failed: {error}"));
            pipeline::process(&workload, id, &body)
                .unwrap_or_else(|error| panic!("batch {id} did not decode: {error}"));
        });
    }
    while !in_flight.is_empty() {
        join_one(&mut in_flight).await;
    }
}

async fn join_one(in_flight: &mut tokio::task::JoinSet<()>) {
    if let Some(Err(error)) = in_flight.join_next().await {
        panic!("a request task failed: {error}");
    }
}

/// The CPU time of every thread of this process so far.
fn process_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(Duration::from)
        .expect("the process CPU clock is readable")
}

/// The CPU time of the threads of process `pid` so far, in nanoseconds.
fn thread_cpu_of(pid: u32) -> Duration {
    let process = procfs::process::Process::new(pid as i32).expect("the feature store is running");
    let nanos: u64 = process
        .tasks()
        .expect("the feature store's threads are listed")
        .flatten()
        .filter_map(|task| task.schedstat().ok())
        .map(|schedstat| schedstat.sum_exec_runtime)
        .sum();
    Duration::from_nanos(nanos)
}

fn config() -> Criterion {
    common::harness(SAMPLE_SIZE, MEASUREMENT_TIME, WARM_UP_TIME)
}

criterion_group! {
    name = benches;
    config = config();
    targets = request_cost, batch_decode
}
criterion_main!(benches);
