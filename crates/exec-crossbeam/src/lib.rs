//! A hand-built staged pipeline: fetch threads feed CPU worker threads through crossbeam channels.
//!
//! The two kinds of work get two kinds of threads. Fetch threads (one per
//! request allowed in flight) only wait on the network; W CPU workers (one
//! per core by default) only preprocess. A bounded channel between the stages
//! hands fetched bodies to whichever worker is free and gives back-pressure:
//! when the CPU stage falls behind, fetch threads block on `send` instead of
//! piling bodies up in memory. I/O overlaps fully and CPU work never runs on
//! more threads than cores, at the price of writing the plumbing yourself:
//! three channels, two thread groups and an exact order of hang-ups so that
//! every stage sees the end of its input.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let workload = Workload::new(upstream).batches(16).io_ms(200).cpu(20.0, 5_000).workers(2);
//! let report = exec_crossbeam::run(&workload)?;
//! println!("{:.0} ms, {} threads at the peak", report.wall_ms, report.threads_peak);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crossbeam_channel::{Receiver, Sender};
use pipeline::{
    BatchError, BatchOutcome, BlockingFetcher, Fetched, Payload, RunClock, RunReport, Workload,
};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "crossbeam";

/// Errors that stop a crossbeam run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// The OS refused to start a thread of one of the stages.
    #[error("cannot spawn {stage} thread {index}")]
    Spawn {
        /// `fetch` or `cpu`.
        stage: &'static str,
        /// How many threads of that stage had started.
        index: usize,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `workload` as a two-stage pipeline: `workload.in_flight_limit()`
/// fetch threads, then `workload.workers` CPU worker threads.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    let fetcher = BlockingFetcher::new(workload);

    let outcomes = std::thread::scope(|scope| -> Result<Vec<BatchOutcome>, Error> {
        // Stage 0: the batch ids, all queued up front. Fetch threads take the
        // next id when they are free, so M threads share N batches.
        let (id_sender, id_receiver) = crossbeam_channel::unbounded::<u64>();
        for id in workload.batch_ids() {
            id_sender.send(id).expect("the receiver is alive");
        }
        drop(id_sender);

        // Between the stages: room for one waiting body per CPU worker, so
        // fetch threads block (back-pressure) when the CPU stage is behind.
        let (fetched_sender, fetched_receiver) = crossbeam_channel::bounded(workload.workers);

        // The CPU stage first: if it cannot start, no fetch thread is waiting on it.
        let mut cpu_workers = Vec::with_capacity(workload.workers);
        for index in 0..workload.workers {
            let fetched = fetched_receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cpu-{index}"))
                .spawn_scoped(scope, move || preprocess_stage(workload, fetched));
            match spawned {
                Ok(handle) => cpu_workers.push(handle),
                Err(source) => {
                    return Err(Error::Spawn {
                        stage: "cpu",
                        index,
                        source,
                    });
                }
            }
        }
        // Only the workers hold the receiving end now: if they all died,
        // `send` would fail instead of blocking forever.
        drop(fetched_receiver);

        spawn_fetch_stage(scope, workload, &fetcher, &id_receiver, &fetched_sender)?;
        // The fetch threads hold their own senders; dropping this one lets
        // the channel disconnect when the last fetch thread is done, which
        // ends the CPU workers' `for` loops.
        drop(fetched_sender);

        let mut outcomes = Vec::with_capacity(workload.batches as usize);
        for worker in cpu_workers {
            outcomes.extend(join_worker(worker));
        }
        Ok(outcomes)
    })?;

    Ok(clock.finish(workload, NAME, outcomes))
}

/// A fetched batch on its way to the CPU stage.
struct FetchedBatch {
    id: u64,
    issued: Instant,
    fetched: Result<Fetched<Payload>, BatchError>,
}

/// Starts one fetch thread per request allowed in flight.
fn spawn_fetch_stage<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    workload: &'env Workload,
    fetcher: &'env BlockingFetcher,
    ids: &Receiver<u64>,
    fetched: &Sender<FetchedBatch>,
) -> Result<(), Error> {
    for index in 0..workload.in_flight_limit() {
        let (ids, fetched) = (ids.clone(), fetched.clone());
        std::thread::Builder::new()
            .name(format!("fetch-{index}"))
            // A fetch thread only blocks in the network: a small stack keeps
            // thousands of them cheap.
            .stack_size(256 * 1024)
            .spawn_scoped(scope, move || {
                for id in ids {
                    let issued = Instant::now();
                    // The body and when it arrived: the wait in the channel
                    // until a CPU worker is free is the batch's `queue` phase.
                    let batch = FetchedBatch {
                        id,
                        issued,
                        fetched: fetcher.fetch_timed(id),
                    };
                    if fetched.send(batch).is_err() {
                        // Every CPU worker is gone; nothing can use this batch.
                        break;
                    }
                }
            })
            // The threads already started drain the remaining ids, and the
            // scope joins them, before this error is returned.
            .map_err(|source| Error::Spawn {
                stage: "fetch",
                index,
                source,
            })?;
    }
    Ok(())
}

/// One CPU worker: preprocesses fetched batches until the fetch stage hangs up.
fn preprocess_stage(workload: &Workload, fetched: Receiver<FetchedBatch>) -> Vec<BatchOutcome> {
    fetched
        .iter()
        .map(
            |FetchedBatch {
                 id,
                 issued,
                 fetched,
             }| {
                let result =
                    fetched.and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
                BatchOutcome::new(id, issued, result)
            },
        )
        .collect()
}

/// The outcomes of one CPU worker; a worker cannot panic on input, since
/// `pipeline::process` returns errors, so a panic is a bug worth propagating.
fn join_worker(worker: ScopedJoinHandle<'_, Vec<BatchOutcome>>) -> Vec<BatchOutcome> {
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
