//! One OS thread per batch: blocking I/O made concurrent by the kernel's scheduler.
//!
//! Each batch gets its own thread, which blocks in `connect`/`read` while the
//! feature store waits and then preprocesses on whatever core is free. With
//! no GIL, this is what a `ThreadPoolExecutor` on free-threaded Python does:
//! I/O overlaps and CPU work runs in parallel, so the wall time is close to
//! the machine's bound. The price is a kernel thread (a stack, a scheduler
//! entry) per in-flight request, which the memory figure of the sweep shows.
//! With `--max-in-flight M`, M threads share the batches instead.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let report = exec_threads::run(&Workload::new(upstream).batches(16).io_ms(200))?;
//! println!("16 batches in {:.0} ms, {} threads at the peak", report.wall_ms, report.threads_peak);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pipeline::serve::{BlockingService, Control};
use pipeline::{BatchOutcome, BlockingFetcher, RunClock, RunReport, Workload};
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "threads";

/// Errors that stop a threads run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// The server could not listen or start its handler threads.
    #[error("cannot serve")]
    Listen(#[source] std::io::Error),
    /// The OS refused to start another thread.
    #[error("cannot spawn thread {index} of {wanted}")]
    Spawn {
        /// How many threads had started.
        index: usize,
        /// How many were needed.
        wanted: usize,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `workload` with one thread per in-flight batch.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    let fetcher = BlockingFetcher::new(workload);
    let n_threads = workload.in_flight_limit();
    // Batches are handed out from a shared counter: uncapped, each thread
    // takes exactly one; capped, the M threads take the next one when free.
    let next_id = AtomicU64::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(workload.batches as usize));

    std::thread::scope(|scope| {
        for index in 0..n_threads {
            let spawned = std::thread::Builder::new()
                .name(format!("batch-{index}"))
                // Fetch and preprocess need little stack; small stacks keep
                // ten thousand threads cheap in address space.
                .stack_size(256 * 1024)
                .spawn_scoped(scope, || {
                    loop {
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        if id >= u64::from(workload.batches) {
                            break;
                        }
                        let issued = Instant::now();
                        let result = fetcher
                            .fetch_timed(id)
                            .and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
                        let outcome = BatchOutcome::new(id, issued, result);
                        outcomes
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(outcome);
                    }
                });
            if let Err(source) = spawned {
                // The scope still joins the threads already started (they
                // drain the remaining ids) before this error is returned.
                return Err(Error::Spawn {
                    index,
                    wanted: n_threads,
                    source,
                });
            }
        }
        Ok(())
    })?;

    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(clock.finish(workload, NAME, outcomes))
}

/// Serves `GET /predict?id=N` on `listener` with a pool of
/// `workload.workers` handler threads until `control` is stopped.
///
/// Each connection has a thread that reads its requests (and blocks while
/// the client is idle); each handler thread takes one request, blocks in
/// its fetches, preprocesses and answers, then takes the next, as
/// gunicorn's threaded workers do. With no GIL (free-threaded Python) the
/// CPU work of W handlers runs on all cores; `--gil` makes them take turns.
pub fn serve(listener: TcpListener, workload: &Workload, control: &Control) -> Result<(), Error> {
    workload.validate()?;
    BlockingService::new(workload)
        .serve(listener, workload.workers, control)
        .map_err(Error::Listen)
}
