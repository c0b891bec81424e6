//! smol's multi-threaded executor, the way its docs build one: an `Executor`
//! and a few threads that each run it until a channel closes.
//!
//! smol has no runtime object to configure. The executor is a task queue;
//! threads become its workers by calling `block_on(executor.run(shutdown))`,
//! and `async-io` (smol's reactor) wakes whichever task a socket is ready
//! for. Because `Executor<'a>` may run tasks that borrow anything living
//! longer than it, the tasks here borrow the workload and the fetcher from
//! `main`, with no `Arc`. 16 batches of 200 ms I/O take about one delay.
//!
//! Run with: cargo run -p exec-smol --example smol

use exec_smol::SmolConnect;
use feature_store::{Config, FeatureStore};
use pipeline::{AsyncFetcher, BatchError, Upstream, Workload};
use smol::Executor;
use std::time::Instant;

const THREADS: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let workload = Workload::new(upstream)
        .batches(16)
        .io_ms(200)
        .workers(THREADS);
    let fetcher = AsyncFetcher::new(SmolConnect, &workload);

    let executor = Executor::new();
    // Dropping `signal` closes the channel, and every executor thread returns.
    let (signal, shutdown) = smol::channel::unbounded::<()>();
    let started = Instant::now();
    let digests = std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| smol::block_on(executor.run(shutdown.recv())));
        }
        // The main thread spawns the tasks and waits for them; it runs none itself.
        let digests = smol::block_on(async {
            let tasks: Vec<_> = workload
                .batch_ids()
                .map(|id| {
                    let (workload, fetcher) = (&workload, &fetcher);
                    executor.spawn(async move {
                        let body = fetcher.fetch(id).await?;
                        Ok::<_, BatchError>(pipeline::process(workload, id, &body)?.digest)
                    })
                })
                .collect();
            let mut digests = Vec::new();
            for task in tasks {
                digests.push(task.await);
            }
            digests
        });
        drop(signal);
        digests
    });
    let digests = digests.into_iter().collect::<Result<Vec<_>, _>>()?;
    println!(
        "by hand: {} batches on {THREADS} threads in {} ms, checksum {:016x}",
        digests.len(),
        started.elapsed().as_millis(),
        pipeline::combine_digests(digests)
    );

    // A timer from the same reactor: smol has no separate time driver to enable.
    let started = Instant::now();
    smol::block_on(smol::Timer::after(std::time::Duration::from_millis(50)));
    println!(
        "a 50 ms smol::Timer took {} ms",
        started.elapsed().as_millis()
    );

    // The crate's entry point does the same, with a capped variant.
    let report = exec_smol::run(&workload)?;
    println!(
        "exec_smol::run: wall {:.0} ms (ideal {:.0} ms), {} threads at the peak, checksum {}",
        report.wall_ms, report.ideal_ms, report.threads_peak, report.checksum
    );
    let capped = exec_smol::run(&workload.clone().max_in_flight(Some(4)))?;
    println!(
        "with --max-in-flight 4: wall {:.0} ms (4 waves of I/O)",
        capped.wall_ms
    );
    Ok(())
}
