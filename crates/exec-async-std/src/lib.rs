//! async-std runs the batches as tasks on its global executor: discontinued upstream in favour of smol, kept as a legacy comparison row.
//!
//! **async-std is discontinued upstream in favour of smol**, on whose crates
//! (`async-io`, `async-executor`) it ran in its last years. This crate is
//! kept as a legacy comparison row, for code still written against it; new
//! code should follow `exec-smol`.
//! Its model is the global runtime: `task::spawn` works anywhere, with no
//! runtime to build or pass around, and the price is that nothing about the
//! runtime can be set in code. Its thread pool is sized once per process from
//! the `ASYNC_STD_THREAD_COUNT` environment variable (default: one thread per
//! logical CPU), so `--workers` does not apply to this executor; set the
//! variable instead. CPU work runs inline on the pool threads, as in
//! `tokio-mt` and `smol`.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let report = exec_async_std::run(&Workload::new(upstream).batches(64).io_ms(200))?;
//! println!("64 batches in {:.0} ms", report.wall_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use async_std::net::{TcpListener, TcpStream};
use async_std::task;
use pipeline::serve::{AsyncService, Control, Inline, serve_connection};
use pipeline::{AsyncFetcher, BatchOutcome, Connect, FuturesIo, RunClock, RunReport, Workload};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "async-std";

/// Errors that stop an async-std run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// The listener could not be switched to non-blocking mode.
    #[error("cannot listen")]
    Listen(#[source] io::Error),
}

/// Opens async-std TCP connections for the shared [`AsyncFetcher`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdConnect;

impl Connect for AsyncStdConnect {
    type Io = FuturesIo<TcpStream>;

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Io> {
        // The lab's client socket (TCP_NODELAY, a cheap local port search),
        // connected on this runtime's reactor.
        let mut stream = TcpStream::from(pipeline::start_connect(addr)?);
        pipeline::connected(&mut stream).await?;
        Ok(FuturesIo::new(stream))
    }

    async fn sleep(&self, duration: Duration) {
        async_std::task::sleep(duration).await;
    }
}

/// Runs `workload` on async-std's global executor.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    // The global runtime starts its threads on the first spawn, after the clock.
    let clock = RunClock::start();
    let shared = Arc::new(Shared {
        workload: workload.clone(),
        fetcher: AsyncFetcher::new(AsyncStdConnect, workload),
        next_id: AtomicU64::new(0),
    });
    // Uncapped, there is one task per batch; with `--max-in-flight M`, M
    // tasks take the next batch id from the shared counter.
    let outcomes = task::block_on(async {
        let handles: Vec<_> = (0..workload.in_flight_limit())
            .map(|_| task::spawn(batch_task(Arc::clone(&shared))))
            .collect();
        let mut outcomes = Vec::with_capacity(workload.batches as usize);
        for handle in handles {
            outcomes.extend(handle.await);
        }
        outcomes
    });
    Ok(clock.finish(workload, NAME, outcomes))
}

/// Serves `GET /predict?id=N` on `listener` until `control` is stopped.
///
/// This thread accepts connections and spawns each as a task on async-std's
/// global executor, with the CPU work inline in the task.
pub fn serve(
    listener: std::net::TcpListener,
    workload: &Workload,
    control: &Control,
) -> Result<(), Error> {
    workload.validate()?;
    let service = Arc::new(AsyncService::new(AsyncStdConnect, workload, Inline));
    task::block_on(async {
        listener.set_nonblocking(true).map_err(Error::Listen)?;
        let listener = TcpListener::from(listener);
        control.ready();
        while let Some(accepted) = control.until_stopped(listener.accept()).await {
            match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    task::spawn(serve_connection(
                        Arc::clone(&service),
                        FuturesIo::new(stream),
                    ));
                }
                // Out of file descriptors, say: wait a little rather than spin.
                Err(error) => {
                    eprintln!("warning: accept failed: {error}");
                    task::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        Ok(())
    })
}

/// What every batch task shares; `task::spawn` needs `'static` tasks, hence the `Arc`.
struct Shared {
    workload: Workload,
    fetcher: AsyncFetcher<AsyncStdConnect>,
    next_id: AtomicU64,
}

/// One task: fetch and preprocess batches until none are left.
async fn batch_task(shared: Arc<Shared>) -> Vec<BatchOutcome> {
    let mut outcomes = Vec::new();
    loop {
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        if id >= u64::from(shared.workload.batches) {
            return outcomes;
        }
        let issued = Instant::now();
        // The CPU work runs inline: it occupies one pool thread while the others go on.
        let result = shared
            .fetcher
            .fetch_timed(id)
            .await
            .and_then(|fetched| pipeline::process_fetched(&shared.workload, id, &fetched));
        outcomes.push(BatchOutcome::new(id, issued, result));
    }
}
