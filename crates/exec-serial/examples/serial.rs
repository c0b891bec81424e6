//! The baseline, step by step: fetch a batch, preprocess it, then the next one.
//!
//! This is the loop of the articles' first figure (`for _ in range(n):
//! requests.get(...)`). It starts a feature store in-process, runs the same
//! four batches with fresh and with pooled connections, and shows that the
//! wall time is about `batches x io` either way: a connection pool saves the
//! TCP handshakes, not the waiting.
//!
//! Run with: cargo run -p exec-serial --example serial

use feature_store::{Config, FeatureStore};
use pipeline::{BatchOutcome, BlockingFetcher, Connections, RunClock, Upstream, Workload};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A real HTTP server on 127.0.0.1, on its own threads; it stops when dropped.
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;

    // Four batches, each answered after 100 ms, with a little CPU work.
    let calibration = pipeline::Calibration::measure(1024);
    let workload = Workload::new(upstream)
        .batches(4)
        .io_ms(100)
        .cpu(10.0, calibration.rounds_for(10.0));

    // First by hand, to show what the executor does inside.
    let fetcher = BlockingFetcher::new(&workload);
    let clock = RunClock::start();
    let mut outcomes = Vec::new();
    for id in workload.batch_ids() {
        let issued = Instant::now();
        // `fetch` blocks this thread for the whole delay: nothing else runs.
        let result = fetcher
            .fetch_timed(id)
            .and_then(|fetched| pipeline::process_fetched(&workload, id, &fetched));
        outcomes.push(BatchOutcome::new(id, issued, result));
    }
    let by_hand = clock.finish(&workload, "serial (by hand)", outcomes);
    print(&by_hand);

    // Then through the crate's entry point, with fresh and pooled connections.
    for connections in [Connections::Fresh, Connections::Pooled] {
        let report = exec_serial::run(&workload.clone().connections(connections))?;
        print(&report);
        assert_eq!(
            report.checksum, by_hand.checksum,
            "same work, same checksum"
        );
    }
    Ok(())
}

fn print(report: &pipeline::RunReport) {
    println!(
        "{:<18} {:>6} connections: wall {:>6.1} ms, ideal {:>6.1} ms, checksum {}",
        report.executor, report.connections, report.wall_ms, report.ideal_ms, report.checksum
    );
}
