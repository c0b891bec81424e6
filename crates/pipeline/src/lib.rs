//! The runtime-agnostic core of runtime-lab: one fetch-and-preprocess workload, measured the same way on every executor.
//!
//! Every executor crate does the same two things per batch: fetch it over HTTP
//! from the feature store, then preprocess it on the CPU. This crate owns
//! everything that must not differ between executors, so that the runtime is
//! the only variable: the [`Workload`], the blocking ([`BlockingFetcher`]) and
//! async ([`AsyncFetcher`]) HTTP/1.1 clients, the calibrated preprocess kernel
//! ([`process`]), the emulated GIL, the order-independent checksum, the
//! [`Phases`] that each batch's latency is cut into, and the [`RunReport`]
//! built by [`RunClock`]. It depends on no async runtime: the
//! async client is generic over the connection's IO, and each runtime crate
//! only supplies a [`Connect`] implementation for its own TCP stream.
//!
//! # Choose your executor
//!
//! | executor | I/O concurrency | CPU parallelism | pick it when |
//! |---|---|---|---|
//! | `serial` | none | none | you want the baseline |
//! | `threads` | one OS thread per request | all cores | few thousand requests, simple code |
//! | `rayon` | capped by the pool size | all cores | CPU-heavy work with little I/O |
//! | `crossbeam` | one thread per in-flight fetch | W CPU workers | you want explicit stages and back-pressure |
//! | `processes` | per worker process | all cores, isolated memory | a GIL (or a crash) must not cross workers |
//! | `tokio-ct` | thousands of tasks | one core | I/O only: the asyncio model |
//! | `tokio-ct-offload` | thousands of tasks | blocking pool | asyncio + `run_in_executor` |
//! | `tokio-mt` | thousands of tasks | all cores, work stealing | I/O and CPU together: the goroutine model |
//! | `smol` | thousands of tasks | W executor threads | a small runtime you can read in an afternoon |
//! | `async-std` | thousands of tasks | global pool | legacy code (discontinued upstream) |
//! | `glommio` | thousands of tasks per core | one pinned executor per core | thread-per-core, io_uring, sharded data |
//!
//! # Example
//!
//! A serial executor in a dozen lines: fetch each batch, preprocess it, and
//! let [`RunClock`] turn the outcomes into a [`RunReport`]. The timed pair,
//! [`BlockingFetcher::fetch_timed`] and [`process_fetched`], is what lets the
//! report say where each batch's time went.
//!
//! ```no_run
//! use pipeline::{BatchOutcome, BlockingFetcher, RunClock, Upstream, Workload};
//! use std::time::Instant;
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let workload = Workload::new(upstream).batches(4).io_ms(100);
//! let fetcher = BlockingFetcher::new(&workload);
//! let clock = RunClock::start();
//! let mut outcomes = Vec::new();
//! for id in workload.batch_ids() {
//!     let issued = Instant::now();
//!     let result = fetcher
//!         .fetch_timed(id)
//!         .and_then(|fetched| pipeline::process_fetched(&workload, id, &fetched));
//!     outcomes.push(BatchOutcome::new(id, issued, result));
//! }
//! let report = clock.finish(&workload, "serial", outcomes);
//! println!("{} batches in {:.0} ms", report.ok, report.wall_ms);
//! if let Some(phases) = report.phases_ms {
//!     println!("waited {:.0} ms on the store at the median", phases.wait.p50);
//! }
//! # Ok::<(), pipeline::Error>(())
//! ```

mod decode;
mod error;
mod fetch;
mod gil;
mod http;
mod kernel;
mod phases;
mod report;
mod retry;
pub mod serve;
mod socket;
mod wire;
mod workload;

pub use decode::{BatchDecoder, DecodedBatch, decode_batch};
pub use error::{BatchError, Error};
pub use fetch::BlockingFetcher;
pub use http::{AsyncFetcher, Connect, FuturesIo, MAX_BODY_BYTES};
pub use kernel::{
    Calibration, Processed, batch_digest, combine_digests, fold_body, fold_values, process,
    process_fetched,
};
pub use phases::{FetchTimes, Fetched, Payload, Phases};
pub use report::{BatchOutcome, LatencySummary, PhaseSummary, RunClock, RunReport};
pub use retry::{backoff, count_retries, is_retryable};
pub use socket::{client_socket, connected, nonblocking_client_socket, start_connect};
pub use wire::{ACCEPT, USER_AGENT, request_headers};
pub use workload::{
    Connections, ID_PLACEHOLDER, Upstream, UpstreamKind, Workload, available_cores,
};
