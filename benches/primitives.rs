//! The runtime costs that explain the pipeline results: spawn, yield, wake-up and timers.
//!
//! Run with: `cargo bench --bench primitives` (or `cargo bench -- timer_sleep`).
//!
//! **What it measures**, on tokio (current-thread and multi-thread), smol
//! (an `async_executor::Executor` run on one thread per core), async-std
//! (its global executor), glommio (one `LocalExecutor`) and plain std threads
//! (the `std-thread` row), one group per primitive:
//!
//! - `spawn_join`: spawn [`TASKS`] tasks that return at once, then await them
//!   all (throughput per task).
//! - `thread_spawn_join`, for contrast: the same with [`THREADS`]
//!   `std::thread::spawn` + `join` (what the `threads` executor pays per
//!   batch); compare the two groups per element.
//! - `yield_now`: [`YIELDS`] round-trips of one task through its scheduler
//!   (the runtime's own `yield_now`; `std::thread::yield_now` for threads).
//! - `channel_ping_pong`: [`ROUND_TRIPS`] round-trips of a number between two
//!   tasks over two bounded channels of capacity 1, i.e. two wake-ups each.
//!   Every async runtime uses the same runtime-agnostic `async-channel`, so
//!   the difference is the runtime's wake-up and rescheduling path, not the
//!   channel; the `std-thread` row uses `std::sync::mpsc::sync_channel`
//!   between two threads (a futex wake-up per message).
//! - `timer_sleep`: the duration of one [`SLEEP`] sleep as measured around
//!   it, so criterion reports the time of a "1 ms sleep" directly: the
//!   overshoot is that time minus 1 ms (timer-wheel granularity, reactor
//!   wake-up, the kernel's timer slack).
//!
//! Every measurement runs inside a task spawned onto the runtime (never in
//! `block_on`'s own future, which some runtimes poll on the calling thread
//! rather than on a worker), and times itself with `Instant` inside that task
//! through `iter_custom`: the cost of entering the runtime is not measured,
//! and the same measuring code (the `*_loop` functions) runs on every runtime.
//! Each runtime is built right before each of its benchmarks and dropped
//! after it, so no other runtime's threads are alive while it is measured
//! (async-std's global executor excepted: it cannot be dropped). The runtime order is
//! rotated between groups.
//!
//! **What it does not measure**: building a runtime; I/O readiness (sockets
//! are the pipeline's job, `benches/pipeline.rs`); contention with many busy
//! tasks or threads; rayon, crossbeam and processes, which are not runtimes
//! of tasks. glommio needs io_uring and enough locked memory: where its
//! executor cannot start (gVisor, a low `memlock` limit), its rows are
//! skipped with the reason printed, and the other rows still run.

mod common;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks spawned and joined per `spawn_join` iteration.
const TASKS: usize = 10_000;
/// Threads spawned and joined per `thread_spawn_join` iteration.
const THREADS: usize = 1_000;
/// Yields per `yield_now` iteration.
const YIELDS: u64 = 1_000;
/// Round-trips per `channel_ping_pong` iteration.
const ROUND_TRIPS: u64 = 1_000;
/// The sleep whose actual duration `timer_sleep` measures.
const SLEEP: Duration = Duration::from_millis(1);

/// Samples per benchmark (criterion's default is 100; these are stable enough).
const SAMPLE_SIZE: usize = 20;
/// Target measuring time per benchmark: hundreds of iterations or more.
const MEASUREMENT_TIME: Duration = Duration::from_secs(1);
/// Warm-up per benchmark.
const WARM_UP_TIME: Duration = Duration::from_millis(500);

/// The four primitives on one runtime; each returns the time of `iters` iterations.
trait Primitives {
    /// Spawns [`TASKS`] tasks (the `std-thread` row: [`THREADS`] threads) and
    /// joins them, `iters` times.
    fn spawn_join(&self, iters: u64) -> Duration;
    /// Yields `iters * YIELDS` times.
    fn yield_now(&self, iters: u64) -> Duration;
    /// Bounces a number between two tasks `iters * ROUND_TRIPS` times.
    fn ping_pong(&self, iters: u64) -> Duration;
    /// Sleeps [`SLEEP`] `iters` times.
    fn sleep(&self, iters: u64) -> Duration;
}

/// A row of the groups: a name and how to build the runtime.
struct Runtime {
    name: &'static str,
    /// Whether it runs tasks (every row but `std-thread`, which runs threads).
    tasks: bool,
    build: fn() -> Result<Box<dyn Primitives>, String>,
}

const RUNTIMES: &[Runtime] = &[
    Runtime {
        name: "tokio-ct",
        tasks: true,
        build: || Tokio::current_thread().map(boxed),
    },
    Runtime {
        name: "tokio-mt",
        tasks: true,
        build: || Tokio::multi_thread().map(boxed),
    },
    Runtime {
        name: "smol",
        tasks: true,
        build: || Ok(boxed(Smol::new())),
    },
    Runtime {
        name: "async-std",
        tasks: true,
        build: || Ok(boxed(AsyncStd)),
    },
    #[cfg(target_os = "linux")]
    Runtime {
        name: "glommio",
        tasks: true,
        build: || Glommio::new().map(boxed),
    },
    Runtime {
        name: "std-thread",
        tasks: false,
        build: || Ok(boxed(StdThread)),
    },
];

fn boxed(runtime: impl Primitives + 'static) -> Box<dyn Primitives> {
    Box::new(runtime)
}

fn spawn_join(c: &mut Criterion) {
    let group = Group::new("spawn_join", 0, TASKS).per_element(TASKS as u64);
    group.bench(
        c,
        |row| row.tasks,
        |runtime, iters| runtime.spawn_join(iters),
    );
}

/// Threads get a group of their own: a thousand threads per iteration, not
/// ten thousand tasks, so the rows of `spawn_join` stay comparable; compare
/// the two groups per element.
fn thread_spawn_join(c: &mut Criterion) {
    let group = Group::new("thread_spawn_join", 0, THREADS).per_element(THREADS as u64);
    group.bench(
        c,
        |row| !row.tasks,
        |runtime, iters| runtime.spawn_join(iters),
    );
}

fn yield_now(c: &mut Criterion) {
    let group = Group::new("yield_now", 1, YIELDS).per_element(YIELDS);
    group.bench(c, |_| true, |runtime, iters| runtime.yield_now(iters));
}

fn channel_ping_pong(c: &mut Criterion) {
    let group = Group::new("channel_ping_pong", 2, ROUND_TRIPS).per_element(ROUND_TRIPS);
    group.bench(c, |_| true, |runtime, iters| runtime.ping_pong(iters));
}

fn timer_sleep(c: &mut Criterion) {
    let group = Group::new("timer_sleep", 3, format!("{}ms", SLEEP.as_millis()));
    group.bench(c, |_| true, |runtime, iters| runtime.sleep(iters));
}

/// One criterion group: a primitive on a set of rows.
struct Group {
    name: &'static str,
    /// Rotates the row order, so that no runtime always runs first or last.
    pass: usize,
    /// The benchmark parameter: what one iteration does.
    parameter: String,
    throughput: Option<Throughput>,
}

impl Group {
    fn new(name: &'static str, pass: usize, parameter: impl ToString) -> Self {
        Group {
            name,
            pass,
            parameter: parameter.to_string(),
            throughput: None,
        }
    }

    /// Reports throughput in `elements` (tasks, yields, round-trips) per iteration.
    fn per_element(mut self, elements: u64) -> Self {
        self.throughput = Some(Throughput::Elements(elements));
        self
    }

    /// Benchmarks `measure` on every row that `rows` selects, each runtime
    /// built just before its benchmark and dropped after it.
    fn bench(
        &self,
        c: &mut Criterion,
        rows: impl Fn(&Runtime) -> bool,
        measure: impl Fn(&dyn Primitives, u64) -> Duration,
    ) {
        let mut group = c.benchmark_group(self.name);
        group.sampling_mode(SamplingMode::Flat);
        if let Some(throughput) = self.throughput.clone() {
            group.throughput(throughput);
        }
        for index in 0..RUNTIMES.len() {
            let row = &RUNTIMES[(index + self.pass) % RUNTIMES.len()];
            if !rows(row) {
                continue;
            }
            let runtime = match (row.build)() {
                Ok(runtime) => runtime,
                Err(reason) => {
                    eprintln!("primitives: skipping {}/{}: {reason}", self.name, row.name);
                    continue;
                }
            };
            let id = BenchmarkId::new(row.name, &self.parameter);
            group.bench_function(id, |bencher| {
                bencher.iter_custom(|iters| measure(runtime.as_ref(), iters));
            });
        }
        group.finish();
    }
}

// The measuring code, identical on every async runtime. Each runtime below
// only says how to spawn, yield and sleep, and how to run a task to the end.

/// Spawns `TASKS` tasks with `spawn` and awaits them, `iters` times.
async fn spawn_join_loop<H>(iters: u64, spawn: impl Fn(usize) -> H) -> Duration
where
    H: Future<Output = usize>,
{
    let start = Instant::now();
    for _ in 0..iters {
        let handles: Vec<H> = (0..TASKS).map(&spawn).collect();
        for handle in handles {
            black_box(handle.await);
        }
    }
    start.elapsed()
}

/// Awaits `yield_now()` `iters * YIELDS` times.
async fn yield_loop<Y>(iters: u64, yield_now: impl Fn() -> Y) -> Duration
where
    Y: Future<Output = ()>,
{
    let start = Instant::now();
    for _ in 0..iters * YIELDS {
        yield_now().await;
    }
    start.elapsed()
}

/// Sends numbers to an echo task started with `spawn_echo` and awaits each
/// one back, `iters * ROUND_TRIPS` times.
async fn ping_pong_loop<H>(
    iters: u64,
    spawn_echo: impl FnOnce(async_channel::Receiver<u64>, async_channel::Sender<u64>) -> H,
) -> Duration
where
    H: Future<Output = ()>,
{
    let (ping_sender, ping_receiver) = async_channel::bounded(1);
    let (pong_sender, pong_receiver) = async_channel::bounded(1);
    let echo = spawn_echo(ping_receiver, pong_sender);
    let start = Instant::now();
    for number in 0..iters * ROUND_TRIPS {
        ping_sender
            .send(number)
            .await
            .expect("the echo task is alive");
        let echoed = pong_receiver.recv().await.expect("the echo task answers");
        assert_eq!(echoed, number);
    }
    let elapsed = start.elapsed();
    // Closing the channel ends the echo task.
    drop(ping_sender);
    echo.await;
    elapsed
}

/// The other end of the ping-pong: sends back every number it receives.
async fn echo(receiver: async_channel::Receiver<u64>, sender: async_channel::Sender<u64>) {
    while let Ok(number) = receiver.recv().await {
        if sender.send(number).await.is_err() {
            break;
        }
    }
}

/// Awaits `sleep(SLEEP)` `iters` times; the total is what the sleeps took.
async fn sleep_loop<S>(iters: u64, sleep: impl Fn(Duration) -> S) -> Duration
where
    S: Future<Output = ()>,
{
    let start = Instant::now();
    for _ in 0..iters {
        sleep(SLEEP).await;
    }
    start.elapsed()
}

/// tokio, built explicitly with the settings the executors use.
struct Tokio {
    runtime: tokio::runtime::Runtime,
}

impl Tokio {
    fn current_thread() -> Result<Self, String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map(|runtime| Tokio { runtime })
            .map_err(|error| format!("cannot build a tokio runtime: {error}"))
    }

    fn multi_thread() -> Result<Self, String> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(available_cores())
            .enable_time()
            .build()
            .map(|runtime| Tokio { runtime })
            .map_err(|error| format!("cannot build a tokio runtime: {error}"))
    }

    /// Runs `future` as a task on the runtime and blocks until it ends.
    fn run<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        self.runtime
            .block_on(self.runtime.spawn(future))
            .expect("benchmark tasks do not panic")
    }
}

/// `tokio::spawn`, with the join handle's `Result` unwrapped.
fn tokio_spawn<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> impl Future<Output = T> {
    let handle = tokio::spawn(future);
    async move { handle.await.expect("benchmark tasks do not panic") }
}

impl Primitives for Tokio {
    fn spawn_join(&self, iters: u64) -> Duration {
        self.run(spawn_join_loop(iters, |i| tokio_spawn(async move { i })))
    }

    fn yield_now(&self, iters: u64) -> Duration {
        self.run(yield_loop(iters, tokio::task::yield_now))
    }

    fn ping_pong(&self, iters: u64) -> Duration {
        self.run(ping_pong_loop(iters, |receiver, sender| {
            tokio_spawn(echo(receiver, sender))
        }))
    }

    fn sleep(&self, iters: u64) -> Duration {
        self.run(sleep_loop(iters, tokio::time::sleep))
    }
}

/// smol: an `async_executor::Executor` run by one thread per core, as the
/// `smol` executor does.
struct Smol {
    executor: Arc<smol::Executor<'static>>,
    /// Dropping it ends `Executor::run` on every thread.
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Smol {
    fn new() -> Self {
        let executor = Arc::new(smol::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..available_cores())
            .map(|_| {
                let executor = Arc::clone(&executor);
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    // `smol::block_on` also drives the I/O and timer reactor
                    // while this thread has nothing to run.
                    let _ = smol::block_on(executor.run(stopped.recv()));
                })
            })
            .collect();
        Smol {
            executor,
            stop: Some(stop),
            threads,
        }
    }

    /// Runs `future` as a task on the executor and blocks until it ends.
    fn run<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        smol::block_on(self.executor.spawn(future))
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Primitives for Smol {
    fn spawn_join(&self, iters: u64) -> Duration {
        let executor = Arc::clone(&self.executor);
        self.run(spawn_join_loop(iters, move |i| {
            executor.spawn(async move { i })
        }))
    }

    fn yield_now(&self, iters: u64) -> Duration {
        self.run(yield_loop(iters, smol::future::yield_now))
    }

    fn ping_pong(&self, iters: u64) -> Duration {
        let executor = Arc::clone(&self.executor);
        self.run(ping_pong_loop(iters, move |receiver, sender| {
            executor.spawn(echo(receiver, sender))
        }))
    }

    fn sleep(&self, iters: u64) -> Duration {
        self.run(sleep_loop(iters, |duration| async move {
            smol::Timer::after(duration).await;
        }))
    }
}

/// async-std: its global executor, which starts on first use and cannot be
/// configured in code (nor dropped).
struct AsyncStd;

impl AsyncStd {
    /// Runs `future` as a task on the global executor and blocks until it ends.
    fn run<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        async_std::task::block_on(async_std::task::spawn(future))
    }
}

impl Primitives for AsyncStd {
    fn spawn_join(&self, iters: u64) -> Duration {
        self.run(spawn_join_loop(iters, |i| {
            async_std::task::spawn(async move { i })
        }))
    }

    fn yield_now(&self, iters: u64) -> Duration {
        self.run(yield_loop(iters, async_std::task::yield_now))
    }

    fn ping_pong(&self, iters: u64) -> Duration {
        self.run(ping_pong_loop(iters, |receiver, sender| {
            async_std::task::spawn(echo(receiver, sender))
        }))
    }

    fn sleep(&self, iters: u64) -> Duration {
        self.run(sleep_loop(iters, async_std::task::sleep))
    }
}

/// glommio: one `LocalExecutor` on the bench's thread (thread-per-core with
/// one core), not pinned, so that it leaves the other rows' threads alone.
#[cfg(target_os = "linux")]
struct Glommio {
    executor: glommio::LocalExecutor,
}

#[cfg(target_os = "linux")]
impl Glommio {
    /// Builds the executor and runs one timer on it. Without io_uring or
    /// enough locked memory, `make` fails; a sandbox that accepts
    /// `io_uring_setup` but not every operation could make glommio panic
    /// instead, which would stop the whole bench, so the probe runs under
    /// `catch_unwind`.
    fn new() -> Result<Self, String> {
        let probed = std::panic::catch_unwind(|| {
            let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .make()
                .map_err(|error| {
                    format!("glommio cannot start here (io_uring, memlock): {error}")
                })?;
            executor.run(glommio::timer::sleep(SLEEP));
            Ok(Glommio { executor })
        });
        probed.unwrap_or_else(|_| Err("glommio panicked on its first timer".to_owned()))
    }

    /// Runs `future` to the end; `LocalExecutor::run` makes it a task of
    /// the executor's default queue.
    fn run<T>(&self, future: impl Future<Output = T>) -> T {
        self.executor.run(future)
    }
}

#[cfg(target_os = "linux")]
impl Primitives for Glommio {
    fn spawn_join(&self, iters: u64) -> Duration {
        self.run(spawn_join_loop(iters, |i| {
            glommio::spawn_local(async move { i })
        }))
    }

    fn yield_now(&self, iters: u64) -> Duration {
        self.run(yield_loop(iters, || async {
            glommio::executor().yield_now().await;
        }))
    }

    fn ping_pong(&self, iters: u64) -> Duration {
        self.run(ping_pong_loop(iters, |receiver, sender| {
            glommio::spawn_local(echo(receiver, sender))
        }))
    }

    fn sleep(&self, iters: u64) -> Duration {
        self.run(sleep_loop(iters, glommio::timer::sleep))
    }
}

/// Plain OS threads, for contrast: what a task saves (or does not).
struct StdThread;

impl Primitives for StdThread {
    fn spawn_join(&self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            let handles: Vec<_> = (0..THREADS)
                .map(|i| std::thread::spawn(move || black_box(i)))
                .collect();
            for handle in handles {
                black_box(handle.join().expect("benchmark threads do not panic"));
            }
        }
        start.elapsed()
    }

    fn yield_now(&self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters * YIELDS {
            std::thread::yield_now();
        }
        start.elapsed()
    }

    fn ping_pong(&self, iters: u64) -> Duration {
        let (ping_sender, ping_receiver) = std::sync::mpsc::sync_channel::<u64>(1);
        let (pong_sender, pong_receiver) = std::sync::mpsc::sync_channel::<u64>(1);
        let echo = std::thread::spawn(move || {
            while let Ok(number) = ping_receiver.recv() {
                if pong_sender.send(number).is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        for number in 0..iters * ROUND_TRIPS {
            ping_sender.send(number).expect("the echo thread is alive");
            let echoed = pong_receiver.recv().expect("the echo thread answers");
            assert_eq!(echoed, number);
        }
        let elapsed = start.elapsed();
        drop(ping_sender);
        echo.join().expect("the echo thread does not panic");
        elapsed
    }

    fn sleep(&self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            std::thread::sleep(SLEEP);
        }
        start.elapsed()
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

criterion_group! {
    name = benches;
    config = common::harness(SAMPLE_SIZE, MEASUREMENT_TIME, WARM_UP_TIME);
    targets = spawn_join, thread_spawn_join, yield_now, channel_ping_pong, timer_sleep
}
criterion_main!(benches);
