//! Tokio two ways: a multi-thread runtime, and one event-loop thread that
//! sends its CPU work to `spawn_blocking`.
//!
//! Outside `#[tokio::main]`, tokio's docs build the runtime with
//! `tokio::runtime::Builder`, so every setting is in plain sight. This example
//! does that twice for 8 batches of 100 ms I/O and 50 ms CPU each, spawning
//! one task per batch into a `JoinSet` and fetching through the shared hyper
//! client. Both take about `io + 8 x 50 ms / 2 threads`; run all inline on a
//! current-thread runtime (the last table, `tokio-ct`) and the CPU work
//! serialises to `io + 8 x 50 ms`.
//!
//! Run with: cargo run -p exec-tokio --example tokio

use exec_tokio::{Flavor, TokioConnect};
use feature_store::{Config, FeatureStore};
use pipeline::{AsyncFetcher, Calibration, Upstream, Workload};
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::Builder;
use tokio::task::JoinSet;

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let rounds = Calibration::measure(1024).rounds_for(50.0);
    let workload = Workload::new(upstream)
        .batches(8)
        .io_ms(100)
        .cpu(50.0, rounds)
        .workers(2);
    let workload = Arc::new(workload);

    // Two worker threads; every task may run on either, and an idle worker
    // steals tasks from a busy one.
    let multi_thread = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let checksum = multi_thread.block_on(fetch_all(Arc::clone(&workload), false))?;
    println!(
        "multi_thread, CPU inline:          {:>4} ms, checksum {checksum:016x}",
        started.elapsed().as_millis()
    );

    // One thread for the event loop; CPU work goes to at most two blocking threads.
    let current_thread = Builder::new_current_thread()
        .max_blocking_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let checksum = current_thread.block_on(fetch_all(Arc::clone(&workload), true))?;
    println!(
        "current_thread + spawn_blocking:   {:>4} ms, checksum {checksum:016x}",
        started.elapsed().as_millis()
    );

    // The crate's entry point runs the same tasks, measured, in each flavour.
    for flavor in Flavor::ALL {
        let report = exec_tokio::run(&workload, flavor)?;
        println!(
            "exec_tokio::run {:<17} {:>4.0} ms (ideal {:.0} ms), checksum {}",
            report.executor, report.wall_ms, report.ideal_ms, report.checksum
        );
    }
    Ok(())
}

/// Spawns one task per batch and folds their digests into the run's checksum.
async fn fetch_all(workload: Arc<Workload>, offload: bool) -> Result<u64, BoxError> {
    // Spawned tasks must be 'static, so they share the fetcher through an Arc.
    let fetcher = Arc::new(AsyncFetcher::new(TokioConnect, &workload));
    let mut tasks = JoinSet::new();
    for id in workload.batch_ids() {
        let (workload, fetcher) = (Arc::clone(&workload), Arc::clone(&fetcher));
        tasks.spawn(async move {
            let body = fetcher.fetch(id).await?;
            let processed = if offload {
                // The event loop awaits here and serves other sockets meanwhile.
                tokio::task::spawn_blocking(move || pipeline::process(&workload, id, &body))
                    .await??
            } else {
                pipeline::process(&workload, id, &body)?
            };
            Ok::<_, BoxError>(processed.digest)
        });
    }
    let mut digests = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        digests.push(joined??);
    }
    Ok(pipeline::combine_digests(digests))
}
