//! The baseline executor: one request at a time, blocking, on the calling thread.
//!
//! Nothing overlaps here: each batch is fetched, then preprocessed, before the
//! next request is sent, so the wall time is about `batches x (io + cpu)`.
//! Every other executor is measured against this line. It is the first
//! figure of the articles: Python's `for` loop over `requests.get`, and Go's
//! loop over `http.Get`, are both this.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let report = exec_serial::run(&Workload::new(upstream).batches(4).io_ms(100))?;
//! println!("{} ms for 4 batches, one after another", report.wall_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pipeline::{BatchOutcome, BlockingFetcher, RunClock, RunReport, Workload};
use std::time::Instant;

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "serial";

/// Errors that stop a serial run before it starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
}

/// Runs `workload` one batch at a time on the calling thread.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    // One fetcher for the whole run: with pooled connections it keeps the
    // one connection alive between batches; with fresh ones it opens one per batch.
    let fetcher = BlockingFetcher::new(workload);
    let outcomes = workload
        .batch_ids()
        .map(|id| {
            let issued = Instant::now();
            let result = fetcher
                .fetch_timed(id)
                .and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
            BatchOutcome::new(id, issued, result)
        })
        .collect();
    Ok(clock.finish(workload, NAME, outcomes))
}
