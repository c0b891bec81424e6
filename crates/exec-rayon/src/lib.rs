//! A rayon thread pool that runs each batch's blocking fetch and its preprocessing: the classic mistake.
//!
//! rayon is built for CPU work: a fixed pool of W threads (one per core by
//! default) splits a parallel iterator and steals work from each other. A
//! blocking fetch inside the pool parks one of those W threads for the whole
//! upstream delay, and a parked thread can neither steal nor run anything
//! else, so I/O concurrency is capped by the pool size: N batches of `io` ms
//! take about `ceil(N / W) x io`, however little CPU work there is. The CPU
//! part itself is as good as it gets (every core busy, no oversubscription);
//! the lesson is that a CPU pool is the wrong place to wait. `--max-in-flight
//! M` below W shrinks the pool to M threads, since in this model every
//! in-flight request is a pool thread.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! // 16 batches on 4 threads: about 4 delays, not 1.
//! let workload = Workload::new(upstream).batches(16).io_ms(200).workers(4);
//! let report = exec_rayon::run(&workload)?;
//! println!("{:.0} ms for 16 batches on a pool of 4", report.wall_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pipeline::{BatchOutcome, BlockingFetcher, RunClock, RunReport, Workload};
use rayon::prelude::*;
use std::time::Instant;

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "rayon";

/// Errors that stop a rayon run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// rayon could not start the pool's threads.
    #[error("cannot build the rayon thread pool")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// Runs `workload` on a rayon pool of `workload.workers` threads, each batch
/// fetched (blocking) and preprocessed by whichever pool thread takes it.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    // A local pool rather than rayon's global one, so that its size is this
    // run's `--workers` and it is gone (threads joined) when the run ends.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pool_size(workload))
        .thread_name(|index| format!("rayon-{index}"))
        .build()?;
    let fetcher = BlockingFetcher::new(workload);
    // `install` runs the closure inside the pool, so the parallel iterator
    // below splits across the pool's threads, not the global pool's.
    let outcomes: Vec<BatchOutcome> = pool.install(|| {
        workload
            .batch_ids()
            .collect::<Vec<u64>>()
            .into_par_iter()
            // One batch per task: with blocking work, a task that took two
            // batches would hold the second one's request back for a whole delay.
            .with_max_len(1)
            .map(|id| {
                let issued = Instant::now();
                let result = fetcher
                    .fetch_timed(id)
                    .and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
                BatchOutcome::new(id, issued, result)
            })
            .collect()
    });
    drop(pool);
    Ok(clock.finish(workload, NAME, outcomes))
}

/// The pool's thread count: `--workers`, or fewer when `--max-in-flight`
/// allows fewer concurrent requests (each request occupies a pool thread).
fn pool_size(workload: &Workload) -> usize {
    workload.workers.min(workload.in_flight_limit()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::Upstream;

    fn workload() -> Workload {
        Workload::new(Upstream::parse("http://127.0.0.1:1").expect("a valid url")).batches(8)
    }

    #[test]
    fn pool_is_the_smaller_of_workers_and_in_flight() {
        assert_eq!(pool_size(&workload().workers(4)), 4);
        assert_eq!(pool_size(&workload().workers(16)), 8);
        assert_eq!(pool_size(&workload().workers(4).max_in_flight(Some(2))), 2);
    }
}
