//! async-std's global runtime: `task::spawn` anywhere, `task::block_on` at the top.
//!
//! async-std is discontinued upstream in favour of smol; this example is
//! here to read legacy code against, not to copy. There is no runtime to
//! build: the first `task::spawn` starts a global thread pool, sized from
//! `ASYNC_STD_THREAD_COUNT` (one thread per logical CPU by default), that
//! lives until the process exits. Spawned tasks must be `'static`, so they
//! share the workload and the fetcher through an `Arc`. 16 batches of 200 ms
//! I/O take about one delay.
//!
//! Run with: cargo run -p exec-async-std --example async-std

use async_std::task;
use exec_async_std::AsyncStdConnect;
use feature_store::{Config, FeatureStore};
use pipeline::{AsyncFetcher, BatchError, Upstream, Workload};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let workload = Arc::new(Workload::new(upstream).batches(16).io_ms(200));
    let fetcher = Arc::new(AsyncFetcher::new(AsyncStdConnect, &workload));

    let started = Instant::now();
    let digests = task::block_on(async {
        let handles: Vec<_> = workload
            .batch_ids()
            .map(|id| {
                let (workload, fetcher) = (Arc::clone(&workload), Arc::clone(&fetcher));
                task::spawn(async move {
                    let body = fetcher.fetch(id).await?;
                    Ok::<_, BatchError>(pipeline::process(&workload, id, &body)?.digest)
                })
            })
            .collect();
        let mut digests = Vec::new();
        for handle in handles {
            // A JoinHandle is a future of the task's output.
            digests.push(handle.await);
        }
        digests
    });
    let digests = digests.into_iter().collect::<Result<Vec<_>, _>>()?;
    println!(
        "by hand: {} batches in {} ms, checksum {:016x}",
        digests.len(),
        started.elapsed().as_millis(),
        pipeline::combine_digests(digests)
    );

    // Its std-like API: an async sleep, on the same global runtime.
    let started = Instant::now();
    task::block_on(task::sleep(Duration::from_millis(50)));
    println!(
        "task::sleep(50 ms) took {} ms",
        started.elapsed().as_millis()
    );

    // The crate's entry point does the same and measures it.
    let report = exec_async_std::run(&workload)?;
    println!(
        "exec_async_std::run: wall {:.0} ms (ideal {:.0} ms), {} threads at the peak, checksum {}",
        report.wall_ms, report.ideal_ms, report.threads_peak, report.checksum
    );
    Ok(())
}
