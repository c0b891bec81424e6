//! Tokio runs the batches as async tasks, on a work-stealing pool or on one event-loop thread.
//!
//! The three flavours run identical tasks and differ only in where the CPU
//! work lands. `tokio-mt` ([`Flavor::MultiThread`]) runs the tasks on W worker
//! threads; a worker busy preprocessing one batch blocks only itself, because
//! the idle workers steal the other tasks, so I/O and CPU overlap on every
//! core, as goroutines do. `tokio-ct` ([`Flavor::CurrentThread`]) is asyncio:
//! one thread drives every socket and runs every preprocess inline, so
//! ten thousand requests wait together for the price of one, but once batches
//! carry CPU work that work is serialised and the event loop stalls while it
//! runs. `tokio-ct-offload` ([`Flavor::CurrentThreadOffload`]) keeps the single
//! event loop for I/O and hands each preprocess to `spawn_blocking`, a pool of
//! W threads (asyncio's `run_in_executor`): the CPU work is parallel again, at
//! the cost of a hand-off between threads per batch.
//!
//! # Example
//!
//! ```no_run
//! use exec_tokio::Flavor;
//! use pipeline::{Upstream, Workload};
//!
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let workload = Workload::new(upstream).batches(64).io_ms(200).workers(2);
//! for flavor in Flavor::ALL {
//!     let report = exec_tokio::run(&workload, flavor)?;
//!     println!("{}: {:.0} ms", report.executor, report.wall_ms);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use hyper_util::rt::TokioIo;
use pipeline::serve::{Answer, AsyncService, Control, Preprocess, PreprocessJob};
use pipeline::{AsyncFetcher, BatchError, BatchOutcome, Connect, RunClock, RunReport, Workload};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;

/// The name of [`Flavor::MultiThread`] in `runtime-lab list` and in reports.
pub const NAME_MT: &str = "tokio-mt";
/// The name of [`Flavor::CurrentThread`] in `runtime-lab list` and in reports.
pub const NAME_CT: &str = "tokio-ct";
/// The name of [`Flavor::CurrentThreadOffload`] in `runtime-lab list` and in reports.
pub const NAME_CT_OFFLOAD: &str = "tokio-ct-offload";

/// Which tokio runtime runs the batches, and where their CPU work goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `new_multi_thread` with W workers; CPU work inline in each task.
    MultiThread,
    /// `new_current_thread`; CPU work inline on the one event-loop thread.
    CurrentThread,
    /// `new_current_thread` for I/O; CPU work on `spawn_blocking`, at most W threads.
    CurrentThreadOffload,
}

impl Flavor {
    /// Every flavour, in the order of DESIGN.md's table.
    pub const ALL: [Flavor; 3] = [
        Flavor::CurrentThread,
        Flavor::CurrentThreadOffload,
        Flavor::MultiThread,
    ];

    /// The executor name of this flavour.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MultiThread => NAME_MT,
            Flavor::CurrentThread => NAME_CT,
            Flavor::CurrentThreadOffload => NAME_CT_OFFLOAD,
        }
    }
}

/// Errors that stop a tokio run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// The runtime could not be built (its threads or its I/O driver failed to start).
    #[error("cannot build the tokio runtime")]
    Runtime(#[source] io::Error),
    /// The listener could not be handed to the runtime.
    #[error("cannot listen")]
    Listen(#[source] io::Error),
    /// A batch task panicked; its batches were lost.
    #[error("a batch task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// Opens tokio TCP connections for the shared [`AsyncFetcher`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnect;

impl Connect for TokioConnect {
    type Io = TokioIo<TcpStream>;

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Io> {
        // The lab's client socket (TCP_NODELAY, a cheap local port search),
        // connected by tokio's reactor.
        let socket = pipeline::nonblocking_client_socket(addr)?;
        let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
        Ok(TokioIo::new(socket.connect(addr).await?))
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Runs `workload` on a tokio runtime of the given flavour.
pub fn run(workload: &Workload, flavor: Flavor) -> Result<RunReport, Error> {
    workload.validate()?;
    let clock = RunClock::start();
    let runtime = runtime(workload, flavor)?;

    // On the multi-thread runtime, block_on's own future runs on this thread,
    // outside the workers, and every wake-up of it is a thread switch; as
    // tokio's docs advise, it only spawns the coordinator, so that spawning
    // and collecting ten thousand batch tasks happen on a worker. (On the
    // current-thread runtime both are the one thread anyway.)
    let coordinator = runtime.spawn(run_batches(workload.clone(), flavor));
    let outcomes = runtime.block_on(async { coordinator.await.map_err(Error::Task)? })?;
    Ok(clock.finish(workload, flavor.name(), outcomes))
}

/// Serves `GET /predict?id=N` on `listener` until `control` is stopped.
///
/// The flavour decides where a request's CPU work runs, exactly as in
/// [`run`]: inline on a worker of the pool (`tokio-mt`), inline on the one
/// event loop (`tokio-ct`: one request's preprocess holds up every other
/// connection), or on the blocking pool (`tokio-ct-offload`). `workload.batches`
/// is the fan-out of one request. Several `tokio-ct` processes can share one
/// port when each gets an `SO_REUSEPORT` listener ([`pipeline::serve::reuseport_listener`]).
pub fn serve(
    listener: std::net::TcpListener,
    workload: &Workload,
    flavor: Flavor,
    control: &Control,
) -> Result<(), Error> {
    workload.validate()?;
    let runtime = runtime(workload, flavor)?;
    let cpu = match flavor {
        Flavor::CurrentThreadOffload => Cpu::Offload,
        Flavor::MultiThread | Flavor::CurrentThread => Cpu::Inline,
    };
    let service = Arc::new(AsyncService::new(TokioConnect, workload, cpu));
    // As in `run`, the accept loop is spawned so that it runs on a worker.
    let accept = runtime.spawn(accept_loop(listener, service, control.clone()));
    runtime.block_on(async { accept.await.map_err(Error::Task)? })
}

/// Accepts connections and spawns one task per connection until stopped.
async fn accept_loop(
    listener: std::net::TcpListener,
    service: Arc<AsyncService<TokioConnect, Cpu>>,
    control: Control,
) -> Result<(), Error> {
    listener.set_nonblocking(true).map_err(Error::Listen)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(Error::Listen)?;
    control.ready();
    loop {
        let Some(accepted) = control.until_stopped(listener.accept()).await else {
            return Ok(());
        };
        match accepted {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                let service = Arc::clone(&service);
                // A connection's errors (a client that leaves mid-request) end that connection only.
                tokio::spawn(pipeline::serve::serve_connection(
                    service,
                    TokioIo::new(stream),
                ));
            }
            // Out of file descriptors, say: wait a little rather than spin.
            Err(error) => {
                eprintln!("warning: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Where a served request's CPU work runs.
#[derive(Debug, Clone, Copy)]
enum Cpu {
    /// On the thread that polls the request.
    Inline,
    /// On the blocking pool (`spawn_blocking`), while the event loop goes on.
    Offload,
}

impl Preprocess for Cpu {
    async fn preprocess(&self, job: PreprocessJob) -> Answer {
        match self {
            Cpu::Inline => job.run(),
            Cpu::Offload => tokio::task::spawn_blocking(move || job.run())
                .await
                .unwrap_or_else(|lost| Answer::error(500, &format!("preprocess lost: {lost}"))),
        }
    }
}

/// Builds the runtime of `flavor`, explicitly, so that its settings are visible.
fn runtime(workload: &Workload, flavor: Flavor) -> Result<Runtime, Error> {
    match flavor {
        Flavor::MultiThread => Builder::new_multi_thread()
            .worker_threads(workload.workers)
            .thread_name("tokio-mt-worker")
            .enable_all()
            .build(),
        Flavor::CurrentThread => Builder::new_current_thread().enable_all().build(),
        // The blocking pool is where the CPU work goes, so it gets the
        // workload's pool size rather than tokio's default of 512 threads.
        Flavor::CurrentThreadOffload => Builder::new_current_thread()
            .max_blocking_threads(workload.workers)
            .thread_name("tokio-ct-blocking")
            .enable_all()
            .build(),
    }
    .map_err(Error::Runtime)
}

/// What every batch task shares; spawned tasks must own it, hence the `Arc`.
struct Shared {
    workload: Workload,
    fetcher: AsyncFetcher<TokioConnect>,
    next_id: AtomicU64,
}

/// Spawns the batch tasks and collects their outcomes.
///
/// Uncapped, there is one task per batch; with `--max-in-flight M`, M tasks
/// take the next batch id from a shared counter as they finish one.
async fn run_batches(workload: Workload, flavor: Flavor) -> Result<Vec<BatchOutcome>, Error> {
    let shared = Arc::new(Shared {
        fetcher: AsyncFetcher::new(TokioConnect, &workload),
        workload,
        next_id: AtomicU64::new(0),
    });
    let offload = flavor == Flavor::CurrentThreadOffload;
    let mut tasks = JoinSet::new();
    for _ in 0..shared.workload.in_flight_limit() {
        tasks.spawn(batch_task(Arc::clone(&shared), offload));
    }
    let mut outcomes = Vec::with_capacity(shared.workload.batches as usize);
    while let Some(joined) = tasks.join_next().await {
        outcomes.extend(joined.map_err(Error::Task)?);
    }
    Ok(outcomes)
}

/// One task: fetch and preprocess batches until none are left.
async fn batch_task(shared: Arc<Shared>, offload: bool) -> Vec<BatchOutcome> {
    let mut outcomes = Vec::new();
    loop {
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        if id >= u64::from(shared.workload.batches) {
            return outcomes;
        }
        let issued = Instant::now();
        let result = match shared.fetcher.fetch_timed(id).await {
            Ok(fetched) if offload => {
                // The event loop only waits here; a blocking-pool thread does the CPU work.
                let shared = Arc::clone(&shared);
                // The hand-back, from the kernel's end to this task running
                // again on the event loop, counts in the batch's `queue`.
                let job = move || pipeline::process_fetched(&shared.workload, id, &fetched);
                tokio::task::spawn_blocking(job)
                    .await
                    .unwrap_or_else(|lost| Err(BatchError::WorkerLost(lost.to_string())))
            }
            // Inline: the worker thread (or the only thread) is busy until it is done.
            Ok(fetched) => pipeline::process_fetched(&shared.workload, id, &fetched),
            Err(error) => Err(error),
        };
        outcomes.push(BatchOutcome::new(id, issued, result));
    }
}
