//! rayon as its docs teach it: a `ThreadPoolBuilder` pool and a parallel
//! iterator run inside it with `install`, here with a blocking fetch in
//! every item: the classic mistake of waiting on I/O in a CPU pool.
//!
//! rayon's pool has one thread per core, and it is meant to stay busy. A
//! thread parked in `read` cannot steal work, so a pool of 4 threads keeps
//! exactly 4 requests in flight. This example fetches 16 batches of 200 ms on
//! 4 threads (4 waves: about 800 ms), then on 16 threads (one wave), and
//! prints the same checksum for both: the work is identical, only the wait
//! differs.
//!
//! Run with: cargo run -p exec-rayon --example rayon

use feature_store::{Config, FeatureStore};
use pipeline::{BlockingFetcher, Upstream, Workload};
use rayon::prelude::*;
use std::time::Instant;

const BATCHES: u32 = 16;
const IO_MS: u64 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let workload = Workload::new(upstream).batches(BATCHES).io_ms(IO_MS);
    let fetcher = BlockingFetcher::new(&workload);

    for threads in [4, 16] {
        // The pool's settings are explicit: its size, and names that show up
        // in a debugger or `top -H`.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("example-rayon-{index}"))
            .build()?;
        let started = Instant::now();
        // `install` runs the closure on the pool, so the parallel iterator
        // splits across this pool's threads rather than the global pool.
        let digests: Vec<u64> = pool.install(|| {
            workload
                .batch_ids()
                .collect::<Vec<u64>>()
                .into_par_iter()
                .filter_map(|id| {
                    let body = fetcher.fetch(id).ok()?;
                    pipeline::process(&workload, id, &body)
                        .ok()
                        .map(|processed| processed.digest)
                })
                .collect()
        });
        let waves = BATCHES.div_ceil(threads as u32);
        println!(
            "{threads:>2} threads: {} batches in {:.0} ms (expected about {waves} x {IO_MS} ms), checksum {:016x}",
            digests.len(),
            started.elapsed().as_secs_f64() * 1e3,
            pipeline::combine_digests(digests)
        );
    }

    // The crate's entry point does the same, measured: compare wall with ideal.
    let report = exec_rayon::run(&workload.clone().workers(4))?;
    // A run with failed batches has no efficiency: its wall time is not the work's.
    let efficiency = report.efficiency.map_or_else(
        || format!("none ({} failed)", report.failed),
        |e| format!("{e:.2}"),
    );
    println!(
        "exec_rayon::run on 4 threads: wall {:.0} ms, ideal {:.0} ms, efficiency {efficiency}, checksum {}",
        report.wall_ms, report.ideal_ms, report.checksum
    );
    Ok(())
}
