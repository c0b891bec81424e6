//! Thread-per-core with glommio: a pool of `LocalExecutor`s, one per core,
//! each fetching its own shard of the batches over io_uring.
//!
//! `LocalExecutorPoolBuilder` starts one thread per executor, placed by a
//! `PoolPlacement` (`MaxSpread` pins each to a different core), and calls the
//! same closure on each to build that shard's future. Inside a shard nothing
//! is `Send` or shared: tasks are `spawn_local`ed onto the shard's own queue,
//! and the fetcher lives in an `Rc`. This example fetches 64 batches of
//! 200 ms, sharded by `id % shards`, and checks the checksum against the
//! crate's measured run. glommio needs io_uring and 512 KiB of locked memory:
//! where it cannot start, the example says why and exits.
//!
//! Run with: cargo run -p exec-glommio --example glommio

use exec_glommio::GlommioConnect;
use feature_store::{Config, FeatureStore};
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};
use pipeline::{AsyncFetcher, Upstream, Workload};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Err(reason) = exec_glommio::available() {
        eprintln!("glommio cannot run here: {reason}");
        return Ok(());
    }
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let workload = Workload::new(upstream).batches(64).io_ms(200);
    let shards = pipeline::available_cores();

    let started = Instant::now();
    let next_shard = Arc::new(AtomicU64::new(0));
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(shards))
        .name("example-shard")
        // The closure is cloned to each executor thread: only `Send` data in it.
        .on_all_shards({
            let workload = workload.clone();
            move || async move {
                let shard = next_shard.fetch_add(1, Ordering::Relaxed);
                let fetcher = Rc::new(AsyncFetcher::new(GlommioConnect, &workload));
                let workload = Rc::new(workload);
                let tasks: Vec<_> = workload
                    .batch_ids()
                    .filter(|id| id % shards as u64 == shard)
                    .map(|id| {
                        let (fetcher, workload) = (fetcher.clone(), workload.clone());
                        // A task on this executor only; it never migrates.
                        glommio::spawn_local(async move {
                            let body = fetcher.fetch(id).await.ok()?;
                            pipeline::process(&workload, id, &body).ok()
                        })
                    })
                    .collect();
                let mut digests = Vec::new();
                for task in tasks {
                    digests.extend(task.await.map(|processed| processed.digest));
                }
                digests
            }
        })?;
    let digests: Vec<u64> = handles
        .join_all()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    println!(
        "by hand on {shards} shards: {} batches in {:.0} ms, checksum {:016x}",
        digests.len(),
        started.elapsed().as_secs_f64() * 1e3,
        pipeline::combine_digests(digests)
    );

    let report = exec_glommio::run(&workload)?;
    println!(
        "exec_glommio::run: wall {:.0} ms (ideal {:.0} ms), {} threads at the peak, checksum {}",
        report.wall_ms, report.ideal_ms, report.threads_peak, report.checksum
    );
    Ok(())
}
