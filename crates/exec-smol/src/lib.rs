//! smol runs the batches as tasks of one `async_executor::Executor` shared by W threads.
//!
//! smol is a small runtime assembled from separate crates: `async-io` is the
//! reactor (sockets and timers), `async-executor` the task queue, and a
//! "runtime" is whatever threads you choose to run the executor on. Here W
//! threads each call `block_on(executor.run(..))`, as the smol docs teach, and
//! pick tasks from one shared queue: I/O and CPU work overlap on every core
//! like `tokio-mt`, with no work-stealing scheduler of its own to tune, but
//! also with nothing hidden. Because the executor borrows rather than owns,
//! tasks may borrow the workload and the fetcher from the calling stack, with
//! no `Arc` and no `'static` bound.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let report = exec_smol::run(&Workload::new(upstream).batches(64).io_ms(200).workers(2))?;
//! println!("64 batches on 2 threads in {:.0} ms", report.wall_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pipeline::serve::{AsyncService, Control, Inline, serve_connection};
use pipeline::{AsyncFetcher, BatchOutcome, Connect, FuturesIo, RunClock, RunReport, Workload};
use smol::Executor;
use smol::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "smol";

/// Errors that stop a smol run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// The listener could not be registered with the reactor.
    #[error("cannot listen")]
    Listen(#[source] io::Error),
    /// The OS refused to start an executor thread.
    #[error("cannot spawn executor thread {index} of {wanted}")]
    Spawn {
        /// How many threads had started.
        index: usize,
        /// How many were needed.
        wanted: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Opens async-io TCP connections (`smol::net`) for the shared [`AsyncFetcher`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolConnect;

impl Connect for SmolConnect {
    type Io = FuturesIo<TcpStream>;

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Io> {
        // The lab's client socket (TCP_NODELAY, a cheap local port search),
        // connected on this runtime's reactor.
        let mut stream = TcpStream::try_from(pipeline::start_connect(addr)?)?;
        pipeline::connected(&mut stream).await?;
        Ok(FuturesIo::new(stream))
    }

    async fn sleep(&self, duration: Duration) {
        smol::Timer::after(duration).await;
    }
}

/// Runs `workload` on an executor shared by `workload.workers` threads.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    let fetcher = AsyncFetcher::new(SmolConnect, workload);
    let next_id = AtomicU64::new(0);
    // Declared after what its tasks borrow, so it is dropped before them.
    let executor = Executor::new();
    // Every executor thread runs until this channel closes.
    let (stop, stopped) = smol::channel::unbounded::<()>();

    let outcomes = std::thread::scope(|scope| {
        // Owned by this closure: returning from it, even early with an error,
        // closes the channel, so the scope's join below cannot hang.
        let stop = stop;
        run_executor_threads(scope, &executor, &stopped, workload.workers)?;
        // This thread only waits for the tasks; the executor threads run them.
        // Uncapped, there is one task per batch; with `--max-in-flight M`, M
        // tasks take the next batch id from the shared counter.
        let outcomes = smol::block_on(async {
            let tasks: Vec<_> = (0..workload.in_flight_limit())
                .map(|_| executor.spawn(batch_task(workload, &fetcher, &next_id)))
                .collect();
            let mut outcomes = Vec::with_capacity(workload.batches as usize);
            for task in tasks {
                outcomes.extend(task.await);
            }
            outcomes
        });
        drop(stop);
        Ok::<_, Error>(outcomes)
    })?;
    Ok(clock.finish(workload, NAME, outcomes))
}

/// Serves `GET /predict?id=N` on `listener` until `control` is stopped.
///
/// This thread accepts connections; each becomes a task of one executor run
/// by `workload.workers` threads, with the CPU work inline in the task, so a
/// busy thread leaves the other connections to the others.
pub fn serve(
    listener: std::net::TcpListener,
    workload: &Workload,
    control: &Control,
) -> Result<(), Error> {
    workload.validate()?;
    // `Async` registers the socket with async-io's reactor, in non-blocking mode.
    let listener = TcpListener::try_from(listener).map_err(Error::Listen)?;
    let service = Arc::new(AsyncService::new(SmolConnect, workload, Inline));
    let executor = Executor::new();
    let (stop, stopped) = smol::channel::unbounded::<()>();
    std::thread::scope(|scope| {
        // Dropped on every way out of this closure, which ends the executor threads.
        let stop = stop;
        run_executor_threads(scope, &executor, &stopped, workload.workers)?;
        control.ready();
        while let Some(accepted) = smol::block_on(control.until_stopped(listener.accept())) {
            match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let connection = serve_connection(Arc::clone(&service), FuturesIo::new(stream));
                    executor.spawn(connection).detach();
                }
                // Out of file descriptors, say: wait a little rather than spin.
                Err(error) => {
                    eprintln!("warning: accept failed: {error}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        drop(stop);
        Ok(())
    })
}

/// Starts `workers` threads in `scope` that each run `executor` until the
/// `stopped` channel closes.
fn run_executor_threads<'scope, 'env, 'tasks: 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    executor: &'env Executor<'tasks>,
    stopped: &smol::channel::Receiver<()>,
    workers: usize,
) -> Result<(), Error> {
    for index in 0..workers {
        let stopped = stopped.clone();
        std::thread::Builder::new()
            .name(format!("smol-{index}"))
            .spawn_scoped(scope, move || smol::block_on(executor.run(stopped.recv())))
            .map_err(|source| Error::Spawn {
                index,
                wanted: workers,
                source,
            })?;
    }
    Ok(())
}

/// One task: fetch and preprocess batches until none are left.
async fn batch_task(
    workload: &Workload,
    fetcher: &AsyncFetcher<SmolConnect>,
    next_id: &AtomicU64,
) -> Vec<BatchOutcome> {
    let mut outcomes = Vec::new();
    loop {
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        if id >= u64::from(workload.batches) {
            return outcomes;
        }
        let issued = Instant::now();
        // The CPU work runs inline: it occupies one executor thread while the others go on.
        let result = fetcher
            .fetch_timed(id)
            .await
            .and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
        outcomes.push(BatchOutcome::new(id, issued, result));
    }
}
