//! A staged pipeline with crossbeam channels: fetch threads send fetched
//! bodies through a bounded channel to a few CPU workers.
//!
//! crossbeam's channels are multi-producer *and* multi-consumer, so a stage is
//! just a group of threads around a `Receiver` clone, and a bounded channel is
//! the back-pressure between stages. The shutdown is by hang-up: when the last
//! `Sender` of a channel is dropped, the receivers' loops end. This example
//! runs 16 batches of 200 ms I/O and 20 ms CPU with 16 fetch threads and 2 CPU
//! workers, then the crate's measured version of the same pipeline.
//!
//! Run with: cargo run -p exec-crossbeam --example crossbeam

use crossbeam_channel::{bounded, unbounded};
use feature_store::{Config, FeatureStore};
use pipeline::{BlockingFetcher, Calibration, Upstream, Workload};
use std::time::Instant;

const CPU_WORKERS: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    let rounds = Calibration::measure(1024).rounds_for(20.0);
    let workload = Workload::new(upstream)
        .batches(16)
        .io_ms(200)
        .cpu(20.0, rounds)
        .workers(CPU_WORKERS);
    let fetcher = BlockingFetcher::new(&workload);

    let started = Instant::now();
    let digests = std::thread::scope(|scope| {
        // Stage 1 -> 2: at most one body waiting per CPU worker.
        let (fetched_tx, fetched_rx) = bounded::<(u64, Vec<u8>)>(CPU_WORKERS);
        // Stage 2 -> main: digests, unbounded (the main thread only collects).
        let (digest_tx, digest_rx) = unbounded::<u64>();

        for _ in 0..CPU_WORKERS {
            let (fetched_rx, digest_tx, workload) =
                (fetched_rx.clone(), digest_tx.clone(), &workload);
            scope.spawn(move || {
                // Ends when every fetch thread has dropped its sender.
                for (id, body) in fetched_rx {
                    if let Ok(processed) = pipeline::process(workload, id, &body) {
                        let _ = digest_tx.send(processed.digest);
                    }
                }
            });
        }
        for id in workload.batch_ids() {
            let (fetched_tx, fetcher) = (fetched_tx.clone(), &fetcher);
            scope.spawn(move || {
                if let Ok(body) = fetcher.fetch(id) {
                    // Blocks while both CPU workers are busy and the slot is full.
                    let _ = fetched_tx.send((id, body));
                }
            });
        }
        // Drop the originals so that the channels hang up when the threads are done.
        drop((fetched_tx, digest_tx));
        digest_rx.iter().collect::<Vec<u64>>()
    });
    println!(
        "by hand: {} batches in {:.0} ms (serial would take {} ms), checksum {:016x}",
        digests.len(),
        started.elapsed().as_secs_f64() * 1e3,
        16 * (200 + 20),
        pipeline::combine_digests(digests)
    );

    let report = exec_crossbeam::run(&workload)?;
    println!(
        "exec_crossbeam::run: wall {:.0} ms (ideal {:.0} ms), {} threads at the peak, checksum {}",
        report.wall_ms, report.ideal_ms, report.threads_peak, report.checksum
    );
    Ok(())
}
