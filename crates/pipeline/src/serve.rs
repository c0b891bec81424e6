//! Serving the pipeline: the routes of every serving model, one per
//! scenario of the articles, and their answers.
//!
//! | route | scenario | what a request does | answer |
//! |---|---|---|---|
//! | `GET /ping` | ping | nothing: no fetch, no CPU | `{"ping":"pong"}` |
//! | `GET /fib?n=N` | cpu | naive recursive Fibonacci of N, 0 <= N <= 40 ([`fib`]) | `{"n":N,"fib":F}` |
//! | `GET /io?id=N` | io | two concurrent fetches, no kernel rounds | `{"id":N,"digest":"<16 hex>"}` |
//! | `GET /predict?id=N` | mix | fetch S batches, then `--cpu-ms` of calibrated CPU | `{"id":N,"digest":"<16 hex>","batches":S}` |
//! | `GET /health` | — | nothing | `{"status":"ok"}` |
//!
//! Any other path answers `404 {"error":"not found"}`, a bad parameter
//! `400 {"error":"..."}`, another method than GET `405`.
//!
//! Every serving executor answers the same routes with the same bytes, so that
//! the runtime is again the only variable. This module owns what they share:
//! the routes ([`route`]), the batches of a request ([`batch_ids`]), the
//! answers ([`Answer`]), the async server path ([`AsyncService`] and
//! [`serve_connection`], hyper 1.x's HTTP/1.1 server over any runtime's IO,
//! as [`crate::AsyncFetcher`] is on the client side), the blocking server path
//! ([`BlockingService`], a thread per connection and W handler threads), the
//! [`Control`] that tells a server to stop and a caller that it is ready, and
//! the `SO_REUSEPORT` listener that lets several processes or executors share
//! one port ([`reuseport_listener`]).
//!
//! A `/predict` request for id N with a fan-out of S fetches batches
//! `N*S .. N*S+S`. The async path fetches them concurrently (as
//! `asyncio.gather` would), the blocking path one after another (as a
//! synchronous handler calling `requests.get` would); the CPU work is the
//! same kernel either way.
//!
//! An `/io` request for id N fetches, at once, batch N from the feature store
//! (after `--io-ms`, as `/predict` fetches one batch) and batch N+1 from the
//! same store after a tenth of `--io-ms` ([`cache_delay_ms`]), which stands
//! for the cache; its digest combines the two batches' digests as `/predict`
//! combines its batches', with no kernel rounds beyond the digest's one. The
//! blocking path fetches the cache's batch on a second thread, so that both
//! waits overlap there too.
//!
//! `/fib` is the article's CPU row at equal *work*: the same recursive
//! function in every language, so that the language's speed shows (`/predict`
//! burns equal CPU *time* instead). It runs where each model runs its CPU
//! work (inline, or on `tokio-ct-offload`'s blocking pool), under the
//! emulated GIL with `--gil`.

use crate::gil::GilHold;
use crate::{AsyncFetcher, BatchError, BlockingFetcher, Connect, Workload, combine_digests};
use bytes::Bytes;
use event_listener::{Event, Listener};
use futures_util::future::{Either, select};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode, header};
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::{Deref, Range};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The prefix of a server's readiness line on stdout; `HOST:PORT` follows it.
pub const READY_PREFIX: &str = "listening on http://";

/// How long a blocking server's handler waits for a request before it looks at its [`Control`] again.
pub const STOP_POLL: Duration = Duration::from_millis(50);

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /ping`: the framework's and runtime's own cost, nothing else.
    Ping,
    /// `GET /fib?n=N`: the N-th Fibonacci number, computed naively.
    Fib(u32),
    /// `GET /io?id=N`: two concurrent fetches, the store's and the cache's.
    Io(u64),
    /// `GET /predict?id=N`.
    Predict(u64),
    /// `GET /health`.
    Health,
    /// A request this server cannot answer, with the status and the reason.
    Reject(u16, String),
}

/// The largest `n` that `/fib` takes: its answer, 102334155, takes
/// CPython tens of seconds and fits every language's integer.
pub const MAX_FIB_N: u32 = 40;

/// The body of a `404` answer, for any path that no route serves.
pub const NOT_FOUND: &str = "not found";

/// Routes a request by its method and its target (path and query, the
/// query's values decoded as a form).
pub fn route(method: &str, target: &str) -> Route {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !matches!(path, "/ping" | "/fib" | "/io" | "/predict" | "/health") {
        return Route::Reject(404, NOT_FOUND.to_owned());
    }
    if method != "GET" {
        return Route::Reject(405, format!("{path} takes GET, not {method}"));
    }
    let parsed = match path {
        "/ping" => Ok(Route::Ping),
        "/health" => Ok(Route::Health),
        "/fib" => fib_n(parameter(query, "n").as_deref()).map(Route::Fib),
        "/io" => request_id(parameter(query, "id").as_deref()).and_then(|id| {
            // The cache's batch is N+1, so N+1 must be an id too.
            id.checked_add(1)
                .map(|_| Route::Io(id))
                .ok_or_else(|| format!("id {id} is too large"))
        }),
        _ => request_id(parameter(query, "id").as_deref()).map(Route::Predict),
    };
    parsed.unwrap_or_else(|reason| Route::Reject(400, reason))
}

/// The value of the first `key=VALUE` pair of `query`, decoded as a form
/// (`%XX` escapes, `+` for a space), as Go's `url.ParseQuery` and the
/// Python servers' query parsers decode it: `/fib?n=%35` is `/fib?n=5`
/// on every server.
fn parameter(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// A request id: ASCII digits that fit a `u64`.
fn request_id(text: Option<&str>) -> Result<u64, String> {
    let text = text.ok_or_else(|| "missing ?id=N".to_owned())?;
    // `str::parse` would take a leading `+`, which the baselines refuse.
    digits(text)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("id {text:?} is not a non-negative integer"))
}

/// `/fib`'s `n`: ASCII digits, at most [`MAX_FIB_N`].
fn fib_n(text: Option<&str>) -> Result<u32, String> {
    let text = text.ok_or_else(|| "missing ?n=N".to_owned())?;
    digits(text)
        .and_then(|text| text.parse().ok())
        .filter(|&n| n <= MAX_FIB_N)
        .ok_or_else(|| format!("n {text:?} is not an integer from 0 to {MAX_FIB_N}"))
}

/// `text` if it is one or more ASCII digits.
fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())).then_some(text)
}

/// The N-th Fibonacci number by the naive recursion `fib(n) = fib(n-1) +
/// fib(n-2)`, `fib(0) = 0`, `fib(1) = 1`: the same calls and additions as
/// the Python and Go servers make, about `2 * fib(n+1)` calls.
///
/// `black_box` on each call's argument and result keeps the compiler from
/// folding the recursion away or turning one of its calls into a loop, so
/// that the work is the textbook one in every language.
///
/// ```
/// assert_eq!(pipeline::serve::fib(0), 0);
/// assert_eq!(pipeline::serve::fib(1), 1);
/// assert_eq!(pipeline::serve::fib(20), 6765);
/// ```
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    black_box(fib(black_box(n - 1))) + black_box(fib(black_box(n - 2)))
}

/// Below this `n`, [`fib_holding`] computes without looking at the GIL:
/// `fib(22)` is well under a millisecond, a fraction of a switch interval.
const FIB_CHECKPOINT_N: u32 = 22;

/// [`fib`] under the emulated GIL when `gil` is set: the same recursion,
/// which offers the lock to a waiting thread at its upper calls, as
/// CPython's eval loop does every switch interval.
fn fib_holding(n: u32, gil: &mut GilHold) -> u64 {
    if n < FIB_CHECKPOINT_N {
        return fib(n);
    }
    gil.checkpoint();
    fib_holding(n - 1, gil) + fib_holding(n - 2, gil)
}

/// The delay of `/io`'s second upstream, the cache: a tenth of the store's.
pub fn cache_delay_ms(io_ms: u64) -> u64 {
    io_ms / 10
}

/// The batch ids of request `id` with `fanout` batches per request, or
/// `None` when they would not fit in a `u64`.
pub fn batch_ids(id: u64, fanout: u32) -> Option<Range<u64>> {
    let first = id.checked_mul(u64::from(fanout))?;
    Some(first..first.checked_add(u64::from(fanout))?)
}

/// The batch ids of `/predict?id=N`, or the `400` answer when they do not fit a `u64`.
fn predict_ids(id: u64, fanout: u32) -> Result<Range<u64>, Answer> {
    batch_ids(id, fanout).ok_or_else(|| Answer::error(400, &format!("id {id} is too large")))
}

/// The workloads of `/io`'s two fetches, the store's and the cache's: the
/// serving workload with no kernel rounds (the route does no CPU work but
/// the digest's), the cache's with its own delay.
fn io_workloads(workload: &Workload) -> (Workload, Workload) {
    let store = workload.clone().cpu(0.0, 0);
    let cache = store.clone().io_ms(cache_delay_ms(workload.io_ms));
    (store, cache)
}

/// A complete HTTP answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl Answer {
    /// `200 {"status":"ok"}`, the answer of `/health`.
    pub fn health() -> Self {
        Answer {
            status: 200,
            body: r#"{"status":"ok"}"#.to_owned(),
        }
    }

    /// `200 {"ping":"pong"}`, the answer of `/ping`.
    pub fn ping() -> Self {
        Answer {
            status: 200,
            body: r#"{"ping":"pong"}"#.to_owned(),
        }
    }

    /// The answer to `/fib?n=N`: computes [`fib`] on the calling thread
    /// (this is the CPU work), under the emulated GIL when the workload has one.
    pub fn fib(workload: &Workload, n: u32) -> Self {
        let mut gil = GilHold::acquire(workload.gil);
        let fib = fib_holding(n, &mut gil);
        drop(gil);
        Answer {
            status: 200,
            body: serde_json::to_string(&FibAnswer { n, fib }).expect("a number always encodes"),
        }
    }

    /// The answer to `/io?id=N` once both batches were fetched (the
    /// store's, then the cache's): their digests combined, or 502 naming
    /// the first batch that failed. `store` is the store's workload with
    /// no kernel rounds (`cpu_rounds` 0): the route does no CPU work but
    /// the digest's.
    pub fn io<B: AsRef<[u8]>>(
        store: &Workload,
        id: u64,
        fetched: [(u64, Result<B, BatchError>); 2],
    ) -> Self {
        match digest_of(store, fetched) {
            Ok(digest) => Answer {
                status: 200,
                body: serde_json::to_string(&IoAnswer { id, digest })
                    .expect("an answer always encodes"),
            },
            Err(answer) => answer,
        }
    }

    /// A JSON error answer.
    pub fn error(status: u16, message: &str) -> Self {
        Answer {
            status,
            body: serde_json::json!({ "error": message }).to_string(),
        }
    }

    /// The answer to `/predict?id=N` once every batch was fetched: preprocess
    /// each (on the calling thread: this is the CPU work) and answer their
    /// combined digest, or 502 naming the first batch that failed.
    pub fn predict<B: AsRef<[u8]>>(
        workload: &Workload,
        id: u64,
        fetched: Vec<(u64, Result<B, BatchError>)>,
    ) -> Self {
        match digest_of(workload, fetched) {
            Ok(digest) => Answer {
                status: 200,
                body: serde_json::to_string(&Prediction {
                    id,
                    digest,
                    batches: workload.batches,
                })
                .expect("a prediction always encodes"),
            },
            Err(answer) => answer,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Preprocesses each fetched batch on this thread and combines their
/// digests into the 16 hex digits of an answer, or gives the 502 answer
/// naming the first batch that failed.
fn digest_of<B: AsRef<[u8]>>(
    workload: &Workload,
    fetched: impl IntoIterator<Item = (u64, Result<B, BatchError>)>,
) -> Result<String, Answer> {
    let mut digests = Vec::new();
    for (batch, body) in fetched {
        let processed = body.and_then(|body| crate::process(workload, batch, body.as_ref()));
        match processed {
            Ok(processed) => digests.push(processed.digest),
            Err(error) => return Err(Answer::error(502, &format!("batch {batch}: {error}"))),
        }
    }
    Ok(format!("{:016x}", combine_digests(digests)))
}

/// The body of a `/fib` answer.
#[derive(Serialize)]
struct FibAnswer {
    n: u32,
    fib: u64,
}

/// The body of an `/io` answer.
#[derive(Serialize)]
struct IoAnswer {
    id: u64,
    digest: String,
}

/// The body of a `/predict` answer, in DESIGN.md's key order.
#[derive(Serialize)]
struct Prediction {
    id: u64,
    digest: String,
    batches: u32,
}

/// The CPU work of one request: the fetched bodies of a `/predict`
/// request to preprocess, or the Fibonacci number of a `/fib` request.
///
/// It owns everything it needs, so that an executor can send it to another
/// thread for the CPU work (tokio's `spawn_blocking`).
pub struct PreprocessJob {
    workload: Arc<Workload>,
    work: Work,
}

/// What a [`PreprocessJob`] computes.
enum Work {
    /// `/predict`: preprocess these batches.
    Predict {
        id: u64,
        fetched: Vec<(u64, Result<Bytes, BatchError>)>,
    },
    /// `/fib`: compute fib(n).
    Fib(u32),
}

impl PreprocessJob {
    /// Does the work on this thread and builds the answer.
    pub fn run(self) -> Answer {
        match self.work {
            Work::Predict { id, fetched } => Answer::predict(&self.workload, id, fetched),
            Work::Fib(n) => Answer::fib(&self.workload, n),
        }
    }
}

/// Where an async server runs the CPU work of a request.
pub trait Preprocess {
    /// Runs `job` and gives back its answer.
    fn preprocess(&self, job: PreprocessJob) -> impl Future<Output = Answer>;
}

/// CPU work inline, on the thread that polls the request: one event loop
/// stalls while it runs, a work-stealing pool lends the other requests to
/// its other threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

impl Preprocess for Inline {
    async fn preprocess(&self, job: PreprocessJob) -> Answer {
        job.run()
    }
}

/// An async server of every route over one runtime's [`Connect`]: its
/// fetchers (keep-alive connections to the feature store and to the cache,
/// unless the workload says fresh) and where its CPU work goes.
pub struct AsyncService<C: Connect, P: Preprocess = Inline> {
    fetcher: AsyncFetcher<C>,
    workload: Arc<Workload>,
    preprocess: P,
    /// `/io`'s two upstreams and the workload its digest is computed with.
    io_store: AsyncFetcher<C>,
    io_cache: AsyncFetcher<C>,
    io_workload: Workload,
}

impl<C: Connect, P: Preprocess> AsyncService<C, P> {
    /// A service for `workload` (its `batches` is the fan-out of one request).
    pub fn new(connector: C, workload: &Workload, preprocess: P) -> Self
    where
        C: Clone,
    {
        let (io_store, io_cache) = io_workloads(workload);
        AsyncService {
            fetcher: AsyncFetcher::new(connector.clone(), workload),
            workload: Arc::new(workload.clone()),
            preprocess,
            io_store: AsyncFetcher::new(connector.clone(), &io_store),
            io_cache: AsyncFetcher::new(connector, &io_cache),
            io_workload: io_store,
        }
    }

    /// Answers one request.
    pub async fn respond(&self, method: &str, target: &str) -> Answer {
        match route(method, target) {
            Route::Ping => Answer::ping(),
            Route::Fib(n) => self.cpu(Work::Fib(n)).await,
            Route::Io(id) => self.io(id).await,
            Route::Predict(id) => self.predict(id).await,
            Route::Health => Answer::health(),
            Route::Reject(status, reason) => Answer::error(status, &reason),
        }
    }

    /// `/predict?id=N`: every batch of the request waits on the feature
    /// store at once, then the CPU work goes where the model puts it.
    async fn predict(&self, id: u64) -> Answer {
        let ids = match predict_ids(id, self.workload.batches) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        let fetches = ids.map(|batch| async move { (batch, self.fetcher.fetch(batch).await) });
        let fetched = futures_util::future::join_all(fetches).await;
        self.cpu(Work::Predict { id, fetched }).await
    }

    /// `/io?id=N`: the store's batch N and the cache's batch N+1 at once;
    /// their digests take no kernel rounds, so they are computed here.
    async fn io(&self, id: u64) -> Answer {
        let cache_id = id + 1;
        let (store, cache) =
            futures_util::future::join(self.io_store.fetch(id), self.io_cache.fetch(cache_id))
                .await;
        Answer::io(&self.io_workload, id, [(id, store), (cache_id, cache)])
    }

    /// Runs CPU work where this service's [`Preprocess`] puts it.
    async fn cpu(&self, work: Work) -> Answer {
        let job = PreprocessJob {
            workload: Arc::clone(&self.workload),
            work,
        };
        self.preprocess.preprocess(job).await
    }
}

/// Serves HTTP/1.1 requests on one accepted connection until the client
/// closes it, with hyper's server connection: keep-alive, one request at a
/// time per connection, each answered by [`AsyncService::respond`].
///
/// The returned future needs no runtime: the executor spawns it as a task.
/// `service` is an `Arc` on a multi-thread runtime, and may be an `Rc` on a
/// thread-per-core one, whose tasks never leave their thread.
pub async fn serve_connection<S, C, P, Io>(service: S, io: Io) -> Result<(), hyper::Error>
where
    S: Deref<Target = AsyncService<C, P>> + Clone,
    C: Connect,
    P: Preprocess,
    Io: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        let service = service.clone();
        async move {
            let method = request.method().as_str().to_owned();
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |target| target.as_str())
                .to_owned();
            let answer = service.respond(&method, &target).await;
            Ok::<_, Infallible>(answer.into_response())
        }
    });
    http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, handler)
        .await
}

/// A blocking server of every route: a thread per connection reads its
/// requests, and W handler threads each take one request at a time, fetch
/// its batches one after another with ureq (`/io`'s two at once, the
/// cache's on a second thread), preprocess them and answer.
///
/// A connection's thread reads requests from its blocking socket (parsing
/// each head with `httparse`): it blocks while the client is idle, which
/// costs a thread, not a core, and hands each request to the handlers
/// through a queue. With W handlers
/// this is gunicorn's threaded worker (W threads, idle keep-alive
/// connections parked); with one, a sync worker process.
#[derive(Clone)]
pub struct BlockingService {
    fetcher: BlockingFetcher,
    workload: Workload,
    /// `/io`'s two upstreams and the workload its digest is computed with.
    io_store: BlockingFetcher,
    io_cache: BlockingFetcher,
    io_workload: Workload,
}

/// A request waiting for a handler thread, and where its answer goes.
struct Job {
    method: String,
    target: String,
    reply: mpsc::SyncSender<Answer>,
}

/// Stack of a connection thread: it parses HTTP and waits, nothing more.
const CONNECTION_STACK: usize = 256 * 1024;

impl BlockingService {
    /// A service for `workload` (its `batches` is the fan-out of one request).
    pub fn new(workload: &Workload) -> Self {
        let (io_store, io_cache) = io_workloads(workload);
        BlockingService {
            fetcher: BlockingFetcher::new(workload),
            workload: workload.clone(),
            io_store: BlockingFetcher::new(&io_store),
            io_cache: BlockingFetcher::new(&io_cache),
            io_workload: io_store,
        }
    }

    /// Answers one request on this thread.
    pub fn respond(&self, method: &str, target: &str) -> Answer {
        match route(method, target) {
            Route::Ping => Answer::ping(),
            Route::Fib(n) => Answer::fib(&self.workload, n),
            Route::Io(id) => self.io(id),
            Route::Predict(id) => self.predict(id),
            Route::Health => Answer::health(),
            Route::Reject(status, reason) => Answer::error(status, &reason),
        }
    }

    /// `/predict?id=N`: the batches one after another, then their CPU work.
    fn predict(&self, id: u64) -> Answer {
        let ids = match predict_ids(id, self.workload.batches) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        let fetched = ids
            .map(|batch| (batch, self.fetcher.fetch(batch)))
            .collect();
        Answer::predict(&self.workload, id, fetched)
    }

    /// `/io?id=N`: the cache's batch N+1 on a second thread while this one
    /// waits for the store's batch N, so that the two waits overlap.
    fn io(&self, id: u64) -> Answer {
        let cache_id = id + 1;
        let (store, cache) = std::thread::scope(|scope| {
            let cache = std::thread::Builder::new()
                .name("io-cache".into())
                .stack_size(CONNECTION_STACK)
                .spawn_scoped(scope, || self.io_cache.fetch(cache_id));
            let store = self.io_store.fetch(id);
            let cache = match cache {
                Ok(cache) => cache.join().unwrap_or_else(|_| {
                    Err(BatchError::WorkerLost("the cache's fetch panicked".into()))
                }),
                // No thread to spare: the cache's wait comes after the store's.
                Err(_) => self.io_cache.fetch(cache_id),
            };
            (store, cache)
        });
        Answer::io(&self.io_workload, id, [(id, store), (cache_id, cache)])
    }

    /// Serves on `listener` with `handlers` handler threads until `control`
    /// is stopped; marks `control` ready once it accepts.
    pub fn serve(
        &self,
        listener: TcpListener,
        handlers: usize,
        control: &Control,
    ) -> io::Result<()> {
        listener.set_nonblocking(false)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Mutex::new(queue);
        std::thread::scope(|scope| {
            for index in 0..handlers {
                let spawned = std::thread::Builder::new()
                    .name(format!("handler-{index}"))
                    .spawn_scoped(scope, || self.handle_jobs(&queue, control));
                if let Err(error) = spawned {
                    // The handlers already started would wait forever; stop them too.
                    control.stop();
                    return Err(error);
                }
            }
            // `accept` blocks; on stop, shutting the listening socket down
            // wakes it (a connection of our own might land on another
            // process's listener of the same port).
            scope.spawn(|| {
                while !control.wait_stopped(Duration::from_secs(3600)) {}
                let _ = socket2::SockRef::from(&listener).shutdown(std::net::Shutdown::Both);
            });
            control.ready();
            for stream in listener.incoming() {
                if control.is_stopped() {
                    break;
                }
                let stream = match stream {
                    Ok(stream) => stream,
                    Err(error) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        eprintln!("warning: accept failed: {error}");
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let jobs = jobs.clone();
                // Detached: a connection blocked in a read must not hold up the stop.
                let spawned = std::thread::Builder::new()
                    .name("connection".into())
                    .stack_size(CONNECTION_STACK)
                    .spawn(move || serve_blocking_connection(stream, jobs));
                if let Err(error) = spawned {
                    eprintln!("warning: no thread for a connection: {error}");
                }
            }
            Ok(())
        })
    }

    /// One handler thread: answers queued requests until the server stops.
    fn handle_jobs(&self, queue: &Mutex<mpsc::Receiver<Job>>, control: &Control) {
        while !control.is_stopped() {
            let job = queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .recv_timeout(STOP_POLL);
            match job {
                Ok(job) => {
                    // A client that left before its answer is not the server's error.
                    let _ = job.reply.send(self.respond(&job.method, &job.target));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// The largest request head a blocking server reads.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One connection's thread: reads each request head with `httparse`,
/// blocking, queues the request for a handler, and writes its answer; keeps
/// the connection alive until the client closes it or asks to.
///
/// hyper's server cannot run here: it expects reads that return "not yet"
/// rather than block, and a blocking socket would stall it.
fn serve_blocking_connection(mut stream: TcpStream, jobs: mpsc::Sender<Job>) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::with_capacity(1024);
    loop {
        let (method, target, close, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&buffer) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let close = request.headers.iter().any(|header| {
                        header.name.eq_ignore_ascii_case("connection")
                            && header.value.eq_ignore_ascii_case(b"close")
                    }) || request.version == Some(0);
                    break (
                        request.method.unwrap_or("GET").to_owned(),
                        request.path.unwrap_or("/").to_owned(),
                        close,
                        head_len,
                    );
                }
                Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD_BYTES => {
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk) {
                        // The client closed the connection, or it broke.
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                }
                // Not HTTP, or a head too large: answer once and close.
                _ => {
                    let _ = write_answer(&mut stream, &Answer::error(400, "bad request"), true);
                    return;
                }
            }
        };
        // No route takes a body; a request that has one is not ours.
        buffer.drain(..head_len);
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            method,
            target,
            reply,
        };
        // This thread has nothing else to do than wait for its answer.
        let answer = jobs
            .send(job)
            .ok()
            .and_then(|()| answer.recv().ok())
            .unwrap_or_else(|| Answer::error(503, "the server is stopping"));
        if write_answer(&mut stream, &answer, close).is_err() || close {
            return;
        }
    }
}

/// Writes `answer` as one HTTP/1.1 response.
fn write_answer(stream: &mut TcpStream, answer: &Answer, close: bool) -> io::Result<()> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        answer.body.len(),
        if close { "connection: close\r\n" } else { "" },
    );
    let mut response = head.into_bytes();
    response.extend_from_slice(answer.body.as_bytes());
    stream.write_all(&response)
}

/// Tells a server to stop, and its caller that it is ready.
///
/// A server calls [`Control::ready`] once its listener accepts connections,
/// and returns once [`Control::stop`] was called (from a signal handler's
/// thread, say). Async servers wait on [`Control::stopped`], which works on
/// any runtime; blocking servers look at [`Control::is_stopped`] between
/// requests. Clones share their state.
#[derive(Clone, Default)]
pub struct Control {
    inner: Arc<ControlState>,
}

#[derive(Default)]
struct ControlState {
    ready: AtomicBool,
    stopped: AtomicBool,
    changed: Event,
}

impl Control {
    /// A control neither ready nor stopped.
    pub fn new() -> Self {
        Control::default()
    }

    /// Marks the server ready to accept connections.
    pub fn ready(&self) {
        self.inner.ready.store(true, Ordering::SeqCst);
        self.inner.changed.notify(usize::MAX);
    }

    /// Asks the server to stop.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.changed.notify(usize::MAX);
    }

    /// Whether [`Control::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Completes once [`Control::stop`] was called.
    pub async fn stopped(&self) {
        while !self.is_stopped() {
            let listener = self.inner.changed.listen();
            // Checked again after listening, so a stop in between is not missed.
            if self.is_stopped() {
                return;
            }
            listener.await;
        }
    }

    /// Runs `future` until it completes (`Some` of its output) or until
    /// [`Control::stop`] is called (`None`), on any runtime: an accept loop
    /// awaits each accept through it.
    pub async fn until_stopped<F: Future>(&self, future: F) -> Option<F::Output> {
        let future = pin!(future);
        let stopped = pin!(self.stopped());
        match select(future, stopped).await {
            Either::Left((output, _)) => Some(output),
            Either::Right(((), _)) => None,
        }
    }

    /// Blocks until the server is ready or stopped; returns whether it is ready.
    pub fn wait_ready(&self) -> bool {
        let is_ready = || self.inner.ready.load(Ordering::SeqCst);
        self.wait_until(|| is_ready() || self.is_stopped(), None);
        is_ready()
    }

    /// Blocks until [`Control::stop`] is called or `timeout` has passed;
    /// returns whether it was stopped.
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        self.wait_until(|| self.is_stopped(), Some(timeout));
        self.is_stopped()
    }

    fn wait_until(&self, condition: impl Fn() -> bool, timeout: Option<Duration>) {
        let deadline = timeout.map(|timeout| std::time::Instant::now() + timeout);
        while !condition() {
            let listener = self.inner.changed.listen();
            // Checked again after listening, so a change in between is not missed.
            if condition() {
                return;
            }
            match deadline {
                None => {
                    listener.wait();
                }
                Some(deadline) => {
                    if listener.wait_deadline(deadline).is_none() {
                        return;
                    }
                }
            }
        }
    }
}

/// A listening socket with `SO_REUSEPORT` (and `SO_REUSEADDR`), so that
/// several processes or executors can listen on the same port and the
/// kernel spreads new connections over them. It is in blocking mode; async
/// runtimes switch it to non-blocking before they adopt it.
pub fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    // The kernel caps the backlog at net.core.somaxconn.
    socket.listen(4096)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_scenario_and_rejects() {
        assert_eq!(route("GET", "/ping"), Route::Ping);
        assert_eq!(route("GET", "/fib?n=35"), Route::Fib(35));
        assert_eq!(route("GET", "/fib?x=1&n=0"), Route::Fib(0));
        // Decoded as a form, as Go and Python decode a query.
        assert_eq!(route("GET", "/fib?n=%35"), Route::Fib(5));
        assert_eq!(route("GET", "/fib?%6E=2%30"), Route::Fib(20));
        assert_eq!(route("GET", "/io?id=%33"), Route::Io(3));
        assert_eq!(
            route("GET", "/fib?n=%2B5"),
            Route::Reject(400, r#"n "+5" is not an integer from 0 to 40"#.to_owned())
        );
        assert_eq!(
            route("GET", "/fib?n=+5"),
            Route::Reject(400, r#"n " 5" is not an integer from 0 to 40"#.to_owned())
        );
        assert_eq!(route("GET", "/io?id=3"), Route::Io(3));
        assert_eq!(route("GET", "/predict?id=42"), Route::Predict(42));
        assert_eq!(route("GET", "/predict?x=1&id=7"), Route::Predict(7));
        assert_eq!(route("GET", "/health"), Route::Health);
        for bad in [
            "/predict",
            "/predict?id=-1",
            "/predict?id=+1",
            "/predict?ids=1",
            "/io?id=x",
            "/io?id=18446744073709551615",
            "/fib",
            "/fib?n=",
            "/fib?n=-1",
            "/fib?n=x",
            "/fib?n=41",
            "/fib?n=+5",
            "/fib?n=99999999999999999999999",
        ] {
            assert!(matches!(route("GET", bad), Route::Reject(400, _)), "{bad}");
        }
        assert_eq!(
            route("GET", "/fib?n=x"),
            Route::Reject(400, r#"n "x" is not an integer from 0 to 40"#.into())
        );
        assert!(matches!(
            route("POST", "/predict?id=1"),
            Route::Reject(405, _)
        ));
        assert_eq!(
            route("GET", "/nope"),
            Route::Reject(404, "not found".into())
        );
        assert_eq!(
            route("GET", "/ping/"),
            Route::Reject(404, "not found".into())
        );
    }

    #[test]
    fn fib_is_the_textbook_sequence() {
        let first: Vec<u64> = (0..10).map(fib).collect();
        assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
        assert_eq!(fib(30), 832_040);
        let mut gil = GilHold::acquire(true);
        assert_eq!(fib_holding(30, &mut gil), 832_040);
    }

    #[test]
    fn answers_are_the_contract_s_json() {
        assert_eq!(Answer::ping().body, r#"{"ping":"pong"}"#);
        let workload = Workload::new(crate::Upstream::parse("http://127.0.0.1:9").unwrap());
        let answer = Answer::fib(&workload, 20);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, r#"{"n":20,"fib":6765}"#);
        let failed = Answer::io::<Vec<u8>>(
            &workload,
            3,
            [(3, Err(BatchError::Status(503))), (4, Ok(Vec::new()))],
        );
        assert_eq!(failed.status, 502);
        assert!(failed.body.contains("batch 3"), "{}", failed.body);
    }

    #[test]
    fn io_s_cache_waits_a_tenth_and_neither_fetch_burns_rounds() {
        let workload = Workload::new(crate::Upstream::parse("http://127.0.0.1:9").unwrap())
            .io_ms(20)
            .cpu(5.0, 1_000);
        let (store, cache) = io_workloads(&workload);
        assert_eq!((store.io_ms, store.cpu_rounds), (20, 0));
        assert_eq!((cache.io_ms, cache.cpu_rounds), (2, 0));
    }

    #[test]
    fn batch_ids_are_disjoint_per_request_and_checked() {
        assert_eq!(batch_ids(0, 3), Some(0..3));
        assert_eq!(batch_ids(5, 3), Some(15..18));
        assert_eq!(batch_ids(u64::MAX, 2), None);
    }

    #[test]
    fn control_wakes_a_waiter_on_ready_and_on_stop() {
        let control = Control::new();
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.wait_ready())
        };
        control.ready();
        assert!(waiter.join().unwrap());

        let stopped = Control::new();
        let waiter = {
            let stopped = stopped.clone();
            std::thread::spawn(move || stopped.wait_ready())
        };
        stopped.stop();
        assert!(!waiter.join().unwrap());
        assert!(stopped.is_stopped());
        futures_util::FutureExt::now_or_never(stopped.stopped()).expect("already stopped");
    }
}
