//! Thread-per-core with glommio: one io_uring `LocalExecutor` per core, batches sharded by id, CPU work inline.
//!
//! Each executor owns one thread (pinned to its own core where the machine
//! allows it), one io_uring and a share of the batches (`id % executors`),
//! and nothing is shared between them: no work stealing, no locks, no
//! `Send` bounds, so each shard builds its own fetcher behind an `Rc`. I/O
//! concurrency within a shard is unbounded (thousands of tasks on one ring),
//! and CPU work runs inline on the shard's core, so W shards preprocess on W
//! cores at once. The price is the one of every sharded design: a shard that
//! got the slow batches cannot hand them to an idle neighbour, and while a
//! shard preprocesses, its own sockets wait. glommio needs Linux 5.8+ with
//! io_uring allowed and at least 512 KiB of locked memory; [`available`]
//! says whether this machine qualifies, and why not.
//!
//! # Example
//!
//! ```no_run
//! use pipeline::{Upstream, Workload};
//!
//! if let Err(why) = exec_glommio::available() {
//!     eprintln!("no glommio here: {why}");
//!     return Ok(());
//! }
//! let upstream = Upstream::parse("http://127.0.0.1:8000")?;
//! let report = exec_glommio::run(&Workload::new(upstream).batches(64).io_ms(200))?;
//! println!("64 batches on {} shards in {:.0} ms", report.workers, report.wall_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use glommio::net::{TcpListener, TcpStream};
use glommio::{
    CpuSet, GlommioError, LocalExecutorBuilder, LocalExecutorPoolBuilder, Placement, PoolPlacement,
    ReactorErrorKind,
};
use pipeline::serve::{AsyncService, Control, Inline, serve_connection};
use pipeline::{
    AsyncFetcher, BatchError, BatchOutcome, Connect, FuturesIo, RunClock, RunReport, Workload,
};
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The name of this executor in `runtime-lab list` and in reports.
pub const NAME: &str = "glommio";

/// Errors that stop a glommio run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be run.
    #[error(transparent)]
    Workload(#[from] pipeline::Error),
    /// glommio cannot run on this machine (kernel, locked memory, io_uring blocked).
    #[error("glommio is unavailable: {0}")]
    Unavailable(String),
    /// The executors could not be started or failed while running.
    #[error("glommio executors failed: {0}")]
    Executor(String),
}

/// Connects with glommio's io_uring `TcpStream`, adapted to hyper by [`FuturesIo`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GlommioConnect;

impl Connect for GlommioConnect {
    type Io = FuturesIo<TcpStream>;

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Io> {
        // The lab's client socket (TCP_NODELAY, a cheap local port search),
        // in blocking mode as glommio's own sockets are (its I/O goes through
        // io_uring, or non-blocking flags per call); the connect started
        // there completes on glommio's reactor.
        let stream = pipeline::start_connect(addr)?;
        stream.set_nonblocking(false)?;
        let mut stream = TcpStream::from(glommio_socket2::Socket::from(stream));
        pipeline::connected(&mut stream).await?;
        Ok(FuturesIo::new(stream))
    }

    async fn sleep(&self, duration: Duration) {
        glommio::timer::sleep(duration).await;
    }
}

/// Whether glommio can run here; the first call probes (starts an executor
/// and makes one loopback connection), later calls return the cached answer.
pub fn available() -> Result<(), Error> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone().map_err(Error::Unavailable)
}

/// Runs `workload` on one glommio executor per worker, each fetching and
/// preprocessing the batches whose `id % executors` is its shard.
pub fn run(workload: &Workload) -> Result<RunReport, Error> {
    workload.validate()?;
    available()?;
    let clock = RunClock::start();
    // More shards than requests allowed in flight would leave shards with no
    // request slot, so the cap on requests also caps the shards.
    let n_shards = workload.workers.min(workload.in_flight_limit());
    let next_shard = Arc::new(AtomicUsize::new(0));
    let shards = LocalExecutorPoolBuilder::new(placement(n_shards))
        .name("glommio-shard")
        .io_memory(IO_MEMORY)
        .on_all_shards({
            // The closure is cloned into every executor thread and called
            // there, so it may only capture `Send` data; the `!Send` parts
            // (the fetcher, the task queue) are built inside each shard.
            let workload = workload.clone();
            move || async move {
                let shard = next_shard.fetch_add(1, Ordering::Relaxed);
                run_shard(workload, shard, n_shards).await
            }
        })
        .map_err(|error| Error::Executor(describe(&error)))?;

    let mut outcomes = Vec::with_capacity(workload.batches as usize);
    let mut lost = None;
    for shard in shards.join_all() {
        match shard {
            Ok(shard_outcomes) => outcomes.extend(shard_outcomes),
            Err(GlommioError::BuilderError(glommio::BuilderErrorKind::ThreadPanic(_))) => {
                lost = Some("a glommio executor thread panicked".to_owned());
            }
            Err(error) => return Err(Error::Executor(describe(&error))),
        }
    }
    // A shard that panicked returned nothing: its batches are failed, not forgotten.
    if let Some(reason) = lost {
        let done: BTreeSet<u64> = outcomes.iter().map(|outcome| outcome.id).collect();
        let now = Instant::now();
        for id in workload.batch_ids().filter(|id| !done.contains(id)) {
            let error = BatchError::WorkerLost(reason.clone());
            outcomes.push(BatchOutcome::new(id, now, Err(error)));
        }
    }
    Ok(clock.finish(workload, NAME, outcomes))
}

/// Serves `GET /predict?id=N` thread-per-core until `control` is stopped:
/// one executor per worker, each with its own listener on `listener`'s port
/// (glommio binds with `SO_REUSEPORT`, so the kernel spreads connections over
/// the cores), its own connections, fetcher and CPU work, and nothing shared.
///
/// `listener` holds the port until every executor listens on it too; then
/// the last one to bind closes it and marks the server ready.
pub fn serve(
    listener: std::net::TcpListener,
    workload: &Workload,
    control: &Control,
) -> Result<(), Error> {
    workload.validate()?;
    available()?;
    let addr = listener
        .local_addr()
        .map_err(|error| Error::Executor(format!("cannot read the listening address: {error}")))?;
    let n_shards = workload.workers;
    let handoff = Arc::new(PortHandoff {
        listener: Mutex::new(Some(listener)),
        listening: AtomicUsize::new(0),
    });
    let shards = LocalExecutorPoolBuilder::new(placement(n_shards))
        .name("glommio-server")
        .io_memory(IO_MEMORY)
        .on_all_shards({
            let (workload, control) = (workload.clone(), control.clone());
            move || async move { serve_shard(workload, addr, control, handoff, n_shards).await }
        })
        .map_err(|error| Error::Executor(describe(&error)))?;
    for shard in shards.join_all() {
        shard
            .map_err(|error| Error::Executor(describe(&error)))?
            .map_err(Error::Executor)?;
    }
    Ok(())
}

/// The caller's listener, kept until every shard listens on the same port.
struct PortHandoff {
    listener: Mutex<Option<std::net::TcpListener>>,
    listening: AtomicUsize,
}

/// One shard of the server: accept on this core, serve on this core.
async fn serve_shard(
    workload: Workload,
    addr: SocketAddr,
    control: Control,
    handoff: Arc<PortHandoff>,
    n_shards: usize,
) -> Result<(), String> {
    let listener = TcpListener::bind(addr).map_err(|error| describe(&error))?;
    if handoff.listening.fetch_add(1, Ordering::SeqCst) + 1 == n_shards {
        drop(
            handoff
                .listener
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        control.ready();
    }
    // Tasks never leave this thread, so the service is shared with an `Rc`.
    let service = Rc::new(AsyncService::new(GlommioConnect, &workload, Inline));
    while let Some(accepted) = control.until_stopped(listener.accept()).await {
        match accepted {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let connection = serve_connection(Rc::clone(&service), FuturesIo::new(stream));
                glommio::spawn_local(connection).detach();
            }
            // Out of file descriptors, say: wait a little rather than spin.
            Err(error) => {
                eprintln!("warning: accept failed: {error}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(())
}

/// glommio pre-registers this much memory with io_uring for file I/O (10 MiB
/// by default); this workload does network I/O only, so a little will do, and
/// it stays well under the locked-memory limit of unprivileged users.
const IO_MEMORY: usize = 256 * 1024;

/// How long the availability probe may take before glommio is declared stuck.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One executor pinned per core where the process may use every online CPU;
/// unbound (the kernel places the threads) when there are more executors than
/// CPUs, or when the topology or the affinity mask makes pinning unsafe.
fn placement(n_shards: usize) -> PoolPlacement {
    let cores = pipeline::available_cores();
    match CpuSet::online() {
        Ok(online) if online.len() == cores && n_shards <= cores => {
            PoolPlacement::MaxSpread(n_shards, Some(online))
        }
        _ => PoolPlacement::Unbound(n_shards),
    }
}

/// One shard: its batches, its own fetcher, and at most its share of the
/// in-flight cap as tasks that each take the next batch when free.
async fn run_shard(workload: Workload, shard: usize, n_shards: usize) -> Vec<BatchOutcome> {
    let queue: VecDeque<u64> = workload
        .batch_ids()
        .filter(|id| id % n_shards as u64 == shard as u64)
        .collect();
    let n_tasks = shard_slots(workload.in_flight_limit(), n_shards, shard).min(queue.len());
    // Everything here stays on this thread, so `Rc` and `RefCell` suffice.
    let queue = Rc::new(RefCell::new(queue));
    let fetcher = Rc::new(AsyncFetcher::new(GlommioConnect, &workload));
    let workload = Rc::new(workload);
    let tasks: Vec<_> = (0..n_tasks)
        .map(|_| {
            let (queue, fetcher, workload) = (queue.clone(), fetcher.clone(), workload.clone());
            glommio::spawn_local(async move {
                let mut outcomes = Vec::new();
                loop {
                    let Some(id) = queue.borrow_mut().pop_front() else {
                        break;
                    };
                    let issued = Instant::now();
                    let result = match fetcher.fetch_timed(id).await {
                        // CPU work inline, on this shard's core: the other
                        // tasks of the shard wait, the other shards do not.
                        Ok(fetched) => pipeline::process_fetched(&workload, id, &fetched),
                        Err(error) => Err(error),
                    };
                    outcomes.push(BatchOutcome::new(id, issued, result));
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await);
    }
    outcomes
}

/// Shard `shard`'s share of `limit` concurrent requests, spread evenly so that
/// the shares add up to exactly `limit` (at least one each: `n_shards <= limit`).
fn shard_slots(limit: usize, n_shards: usize, shard: usize) -> usize {
    (limit / n_shards + usize::from(shard < limit % n_shards)).max(1)
}

/// Starts one executor on a scratch thread and makes one loopback TCP
/// connection on it: the exact io_uring operations a run needs.
fn probe() -> Result<(), String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("glommio-probe".into())
        .spawn(move || {
            let _ = sender.send(probe_on_this_thread());
        })
        .map_err(|error| format!("cannot start a probe thread: {error}"))?;
    match receiver.recv_timeout(PROBE_TIMEOUT) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "io_uring did not complete a loopback connection within {PROBE_TIMEOUT:?} \
             (a partial io_uring, as in some sandboxes?)"
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("glommio panicked while starting an executor".to_owned())
        }
    }
}

fn probe_on_this_thread() -> Result<(), String> {
    // glommio checks this too, but its error reaches us flattened into an
    // `io::Error`; checking first gives the user the limit and the fix.
    if let Some(limit) = locked_memory_limit()
        && limit < MIN_LOCKED_MEMORY
    {
        return Err(memlock_message(limit, MIN_LOCKED_MEMORY));
    }
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(IO_MEMORY)
        .make()
        .map_err(|error| describe(&error))?;
    executor.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| describe(&error))?;
        let addr = listener.local_addr().map_err(|error| error.to_string())?;
        let accepted = glommio::spawn_local(async move { listener.accept().await.map(drop) });
        TcpStream::connect(addr)
            .await
            .map_err(|error| describe(&error))?;
        accepted.await.map_err(|error| describe(&error))
    })
}

/// Names the cause of a glommio error in terms a user can act on.
fn describe<T>(error: &GlommioError<T>) -> String {
    let io_error = match error {
        GlommioError::ReactorError(ReactorErrorKind::MemLockLimit(limit, needed)) => {
            return memlock_message(*limit, *needed);
        }
        GlommioError::IoError(source) | GlommioError::EnhancedIoError { source, .. } => source,
        other => return other.to_string(),
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "unknown".to_owned(),
        |release| release.trim().to_owned(),
    );
    let disabled_by_sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|value| value.trim() != "0");
    match io_error.kind() {
        _ if disabled_by_sysctl => {
            format!("io_uring is disabled by the kernel.io_uring_disabled sysctl ({io_error})")
        }
        io::ErrorKind::Unsupported => format!(
            "io_uring is not supported (kernel {kernel}; glommio needs 5.8+, \
             and sandboxes such as gVisor lack it): {io_error}"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "io_uring is blocked here (seccomp policy or sandbox such as gVisor): {io_error}"
        ),
        io::ErrorKind::OutOfMemory => format!(
            "io_uring could not allocate its rings (locked-memory limit too low?): {io_error}"
        ),
        _ => format!("io_uring failed (kernel {kernel}): {io_error}"),
    }
}

/// The locked memory glommio's reactor insists on, in bytes.
const MIN_LOCKED_MEMORY: u64 = 512 * 1024;

/// The soft `RLIMIT_MEMLOCK` of this process in bytes, from `/proc/self/limits`
/// (`None` when unlimited or unreadable).
fn locked_memory_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max locked memory"))?;
    line["Max locked memory".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn memlock_message(limit: u64, needed: u64) -> String {
    format!(
        "the locked-memory limit (ulimit -l) is {} KiB, glommio needs at least {} KiB",
        limit / 1024,
        needed / 1024
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_slots_add_up_to_the_limit() {
        for (limit, n_shards) in [(8, 2), (7, 3), (3, 3), (100, 7)] {
            let total: usize = (0..n_shards)
                .map(|shard| shard_slots(limit, n_shards, shard))
                .sum();
            assert_eq!(total, limit, "limit {limit}, {n_shards} shards");
        }
    }

    #[test]
    fn memlock_errors_name_the_limit() {
        let error: GlommioError<()> =
            GlommioError::ReactorError(ReactorErrorKind::MemLockLimit(64 * 1024, 512 * 1024));
        let message = describe(&error);
        assert!(message.contains("ulimit -l"), "{message}");
        assert!(message.contains("64 KiB"), "{message}");
    }

    #[test]
    fn reads_the_locked_memory_limit() {
        // Unlimited reads as `None`; any number is a real limit in bytes.
        if let Some(limit) = locked_memory_limit() {
            assert!(limit > 0);
        }
    }
}
