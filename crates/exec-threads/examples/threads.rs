//! One OS thread per request: the blocking code of `serial`, made concurrent
//! by `std::thread::scope`.
//!
//! Scoped threads may borrow from the stack (the workload, the fetcher), and
//! the scope joins them all before it returns, so no thread can outlive the
//! data it uses. This example runs 16 batches of 200 ms I/O: serially that is
//! 3.2 s, with a thread each it is about one delay. It then prints the thread
//! peak, the cost that the async runtimes avoid.
//!
//! Run with: cargo run -p exec-threads --example threads

use feature_store::{Config, FeatureStore};
use pipeline::{BlockingFetcher, Upstream, Workload};
use std::sync::Mutex;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let workload = Workload::new(upstream).batches(16).io_ms(200);

    // The pattern by hand: one scoped thread per batch, results in a Mutex<Vec>.
    let fetcher = BlockingFetcher::new(&workload);
    let digests = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for id in workload.batch_ids() {
            let (fetcher, workload, digests) = (&fetcher, &workload, &digests);
            scope.spawn(move || {
                let processed = fetcher
                    .fetch(id)
                    .and_then(|body| pipeline::process(workload, id, &body));
                if let Ok(processed) = processed {
                    digests
                        .lock()
                        .expect("no thread panics while holding it")
                        .push(processed.digest);
                }
            });
        }
        // Leaving the scope joins every thread.
    });
    let digests = digests.into_inner()?;
    println!(
        "by hand: {} batches in {:.0} ms, checksum {:016x}",
        digests.len(),
        started.elapsed().as_secs_f64() * 1e3,
        pipeline::combine_digests(digests)
    );

    // The crate's entry point does the same and measures it.
    let report = exec_threads::run(&workload)?;
    println!(
        "exec_threads::run: wall {:.0} ms (ideal {:.0} ms), {} threads at the peak, checksum {}",
        report.wall_ms, report.ideal_ms, report.threads_peak, report.checksum
    );

    // A cap turns it into a fixed pool: 4 threads need 4 waves of I/O.
    let capped = exec_threads::run(&workload.clone().max_in_flight(Some(4)))?;
    println!(
        "with --max-in-flight 4: wall {:.0} ms, {} threads at the peak",
        capped.wall_ms, capped.threads_peak
    );
    Ok(())
}
