//! The upstream of runtime-lab: an HTTP/1.1 feature store that answers each request after a delay.
//!
//! Every experiment needs an upstream whose latency is known exactly and
//! whose answers are the same on every run and machine. This server gives
//! both: `GET /features/{id}?delay_ms=D&n=K` sleeps D milliseconds on a timer
//! (no thread is held while it waits, so it holds ten thousand requests at
//! once) and answers `{"id": id, "values": [K numbers]}`, the values a pure
//! function of `id` and their index. It also answers `GET /delay/{seconds}`
//! like httpbin (the articles' upstream) and `GET /health` (whose body names
//! [`HEALTH_SERVICE`], so that clients can tell a store from other servers). Bad input gets a
//! `400` (or `404` for unknown paths) with a JSON error body.
//!
//! The binary runs it as a child process (`runtime-lab serve-features`) so
//! that its CPU time and sockets are not charged to the executor under test.
//!
//! # Example
//!
//! ```
//! let store = feature_store::FeatureStore::spawn(feature_store::Config::default())?;
//! let url = format!("http://{}/features/7?delay_ms=0&n=3", store.addr());
//! println!("try: curl '{url}'");
//! assert_eq!(feature_store::values(7, 3).len(), 3);
//! # Ok::<(), feature_store::Error>(())
//! ```

mod faults;
mod routes;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

pub use faults::{Fault, Faults, MAX_STALL_MS};
pub use routes::{HEALTH_SERVICE, MAX_DELAY_MS, MAX_VALUES, values};

/// Errors starting the feature store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be created or bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The fault rates are out of range.
    #[error("invalid fault configuration: {0}")]
    InvalidFaults(String),
    /// The server's runtime or thread could not be started.
    #[error("cannot start the feature store runtime")]
    Runtime(#[source] std::io::Error),
}

/// How to run the feature store.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Worker threads of the server's tokio runtime.
    pub worker_threads: usize,
    /// Listen backlog of each listening socket: room for connections not yet
    /// accepted (the kernel caps it at `net.core.somaxconn`, often 4096).
    pub backlog: u32,
    /// Injected faults (none by default).
    pub faults: Faults,
    /// Listening sockets sharing the port (`SO_REUSEPORT`), each with its own
    /// accept loop. The kernel spreads new connections over them, so a burst
    /// of ten thousand connects fits in their accept queues together; with
    /// one queue capped at 4096, the rest would have their SYN dropped and
    /// retried by the client a whole second later. The default,
    /// [`listeners_for_burst`] of [`BURST_CONNECTS`], fits the largest burst
    /// one client process can open.
    pub listeners: usize,
    /// Bytes of encoded batch bodies kept for reuse (0 keeps none): a batch
    /// asked for again, by a later run of a sweep say, is not encoded again.
    pub body_cache_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            worker_threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            backlog: 65_535,
            faults: Faults::default(),
            listeners: listeners_for_burst(BURST_CONNECTS),
            // Every batch of the largest run one client can hold
            // (`BURST_CONNECTS` default batches of about 20 KB), so that run's
            // repeats in a sweep hit; memory is only taken as batches are asked for.
            body_cache_bytes: 512 * 1024 * 1024,
        }
    }
}

/// The largest burst of connects the default store takes without dropping a
/// SYN: one client process holds at most 20,000 open files here (its hard
/// `RLIMIT_NOFILE`), so a run has at most about that many requests in flight.
pub const BURST_CONNECTS: usize = 20_000;

/// Listening sockets whose accept queues, together, hold `connects` new
/// connections at once: each queue holds `net.core.somaxconn` (4096 when it
/// cannot be read), and the kernel's hash spreads connections over the queues
/// unevenly, so a quarter more room is kept. At least four.
pub fn listeners_for_burst(connects: usize) -> usize {
    let queue = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|&queue| queue > 0)
        .unwrap_or(4096);
    (connects + connects / 4).div_ceil(queue).clamp(4, 64)
}

/// A feature store running on its own threads; dropping it stops it.
pub struct FeatureStore {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FeatureStore {
    /// Binds the listener and starts serving on a background thread.
    /// Returns once the socket is listening, so requests can be sent at once.
    pub fn spawn(config: Config) -> Result<Self, Error> {
        let runtime = build_runtime(&config)?;
        let (listeners, addr) = runtime.block_on(bind(&config))?;
        let shared = shared(&config);
        let (shutdown, shutdown_signal) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("feature-store".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // The accept loops run on the workers: see `serve`.
                    let accepting: Vec<_> = listeners
                        .into_iter()
                        .map(|listener| tokio::spawn(accept_loop(listener, Arc::clone(&shared))))
                        .collect();
                    let _ = shutdown_signal.await;
                    accepting.iter().for_each(|task| task.abort());
                });
                // Dropping the runtime here cancels the in-flight connections.
            })
            .map_err(Error::Runtime)?;
        Ok(FeatureStore {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the store listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FeatureStore {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves on the calling thread until the process ends; `on_ready` gets the
/// bound address once the socket is listening (the CLI prints it).
pub fn serve(config: Config, on_ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    let runtime = build_runtime(&config)?;
    let shared = shared(&config);
    runtime.block_on(async {
        let (listeners, addr) = bind(&config).await?;
        on_ready(addr);
        // block_on's own future runs outside the runtime's workers, so each
        // connection it spawned would have to wake a worker; accepting on a
        // worker instead queues new connections locally, where the other
        // workers steal them. At ten thousand connections this saves a
        // thread wake-up per connection.
        let accepting: Vec<_> = listeners
            .into_iter()
            .map(|listener| tokio::spawn(accept_loop(listener, Arc::clone(&shared))))
            .collect();
        for task in accepting {
            let _ = task.await;
        }
        Ok(())
    })
}

/// What every connection of one store shares: the faults and the body cache.
fn shared(config: &Config) -> Arc<routes::Shared> {
    Arc::new(routes::Shared {
        faults: config.faults,
        bodies: routes::BatchBodies::new(config.body_cache_bytes),
    })
}

fn build_runtime(config: &Config) -> Result<tokio::runtime::Runtime, Error> {
    config.faults.validate().map_err(Error::InvalidFaults)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads.max(1))
        .thread_name("feature-store-worker")
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Binds `config.listeners` sockets to one address with `SO_REUSEPORT`; the
/// first picks the port when `config.addr` has port 0, the others join it.
async fn bind(config: &Config) -> Result<(Vec<TcpListener>, SocketAddr), Error> {
    let bind_error = |source| Error::Bind {
        addr: config.addr,
        source,
    };
    let mut addr = config.addr;
    let mut listeners = Vec::with_capacity(config.listeners.max(1));
    for _ in 0..config.listeners.max(1) {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(bind_error)?;
        socket.set_reuseaddr(true).map_err(bind_error)?;
        socket.set_reuseport(true).map_err(bind_error)?;
        socket.bind(addr).map_err(bind_error)?;
        let listener = socket.listen(config.backlog).map_err(bind_error)?;
        addr = listener.local_addr().map_err(bind_error)?;
        listeners.push(listener);
    }
    Ok((listeners, addr))
}

async fn accept_loop(listener: TcpListener, shared: Arc<routes::Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            // Out of file descriptors or a connection reset before accept:
            // keep serving the connections we have and try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .max_buf_size(64 * 1024)
                .serve_connection(
                    TokioIo::new(stream),
                    service_fn(|request| {
                        let shared = Arc::clone(&shared);
                        async move { routes::handle(request, &shared).await }
                    }),
                );
            // A client that disconnects mid-delay ends here; nothing to report.
            let _ = connection.await;
        });
    }
}
