//! Serving the pipeline: `GET /predict?id=N` fetches and preprocesses the
//! request's feature batches and answers their digest.
//!
//! Every serving executor answers the same routes with the same bytes, so that
//! the runtime is again the only variable. This module owns what they share:
//! the routes ([`route`]), the batches of a request ([`batch_ids`]), the
//! answer ([`Answer`]), the async server path ([`AsyncService`] and
//! [`serve_connection`], hyper 1.x's HTTP/1.1 server over any runtime's IO,
//! as [`crate::AsyncFetcher`] is on the client side), the blocking server path
//! ([`BlockingService`], a thread per connection and W handler threads), the
//! [`Control`] that tells a server to stop and a caller that it is ready, and
//! the `SO_REUSEPORT` listener that lets several processes or executors share
//! one port ([`reuseport_listener`]).
//!
//! A request for id N with a fan-out of S fetches batches `N*S .. N*S+S`. The
//! async path fetches them concurrently (as `asyncio.gather` would), the
//! blocking path one after another (as a synchronous handler calling
//! `requests.get` would); the CPU work is the same kernel either way.

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
    /// `GET /predict?id=N`.
    Predict(u64),
    /// `GET /health`.
    Health,
    /// A request this server cannot answer, with the status and the reason.
    Reject(u16, String),
}

/// Routes a request by its method and its target (path and query).
pub fn route(method: &str, target: &str) -> Route {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/predict" && path != "/health" {
        return Route::Reject(404, format!("no route {path}"));
    }
    if method != "GET" {
        return Route::Reject(405, format!("{path} takes GET, not {method}"));
    }
    if path == "/health" {
        return Route::Health;
    }
    let id = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("id="))
        .ok_or_else(|| "missing ?id=N".to_owned())
        .and_then(|id| {
            id.parse::<u64>()
                .map_err(|_| format!("id {id:?} is not a non-negative integer"))
        });
    match id {
        Ok(id) => Route::Predict(id),
        Err(reason) => Route::Reject(400, reason),
    }
}

/// The batch ids of request `id` with `fanout` batches per request, or
/// `None` when they would not fit in a `u64`.
pub fn batch_ids(id: u64, fanout: u32) -> Option<Range<u64>> {
    let first = id.checked_mul(u64::from(fanout))?;
    Some(first..first.checked_add(u64::from(fanout))?)
}

/// The request id and the batch ids that a request asks for, or the
/// answer that ends it at once (`/health`, or an error).
pub fn plan(method: &str, target: &str, fanout: u32) -> Result<(u64, Range<u64>), Answer> {
    match route(method, target) {
        Route::Predict(id) => batch_ids(id, fanout)
            .map(|ids| (id, ids))
            .ok_or_else(|| Answer::error(400, &format!("id {id} is too large"))),
        Route::Health => Err(Answer::health()),
        Route::Reject(status, reason) => Err(Answer::error(status, &reason)),
    }
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
        let mut digests = Vec::with_capacity(fetched.len());
        for (batch, body) in fetched {
            let processed = body.and_then(|body| crate::process(workload, batch, body.as_ref()));
            match processed {
                Ok(processed) => digests.push(processed.digest),
                Err(error) => return Answer::error(502, &format!("batch {batch}: {error}")),
            }
        }
        Answer {
            status: 200,
            body: serde_json::to_string(&Prediction {
                id,
                digest: format!("{:016x}", combine_digests(digests)),
                batches: workload.batches,
            })
            .expect("a prediction always encodes"),
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

/// The body of a `/predict` answer, in DESIGN.md's key order.
#[derive(Serialize)]
struct Prediction {
    id: u64,
    digest: String,
    batches: u32,
}

/// The fetched bodies of one `/predict` request, to be preprocessed.
///
/// It owns everything it needs, so that an executor can send it to another
/// thread for the CPU work (tokio's `spawn_blocking`).
pub struct PreprocessJob {
    workload: Arc<Workload>,
    id: u64,
    fetched: Vec<(u64, Result<Bytes, BatchError>)>,
}

impl PreprocessJob {
    /// Preprocesses every batch on this thread and builds the answer.
    pub fn run(self) -> Answer {
        Answer::predict(&self.workload, self.id, self.fetched)
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

/// An async `/predict` server over one runtime's [`Connect`]: its fetcher
/// (keep-alive connections to the feature store, unless the workload says
/// fresh) and where its CPU work goes.
pub struct AsyncService<C: Connect, P: Preprocess = Inline> {
    fetcher: AsyncFetcher<C>,
    workload: Arc<Workload>,
    preprocess: P,
}

impl<C: Connect, P: Preprocess> AsyncService<C, P> {
    /// A service for `workload` (its `batches` is the fan-out of one request).
    pub fn new(connector: C, workload: &Workload, preprocess: P) -> Self {
        AsyncService {
            fetcher: AsyncFetcher::new(connector, workload),
            workload: Arc::new(workload.clone()),
            preprocess,
        }
    }

    /// Answers one request.
    pub async fn respond(&self, method: &str, target: &str) -> Answer {
        let (id, ids) = match plan(method, target, self.workload.batches) {
            Ok(planned) => planned,
            Err(answer) => return answer,
        };
        // Every batch of the request waits on the feature store at once.
        let fetches = ids.map(|batch| async move { (batch, self.fetcher.fetch(batch).await) });
        let fetched = futures_util::future::join_all(fetches).await;
        let job = PreprocessJob {
            workload: Arc::clone(&self.workload),
            id,
            fetched,
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

/// A blocking `/predict` server: a thread per connection reads its requests,
/// and W handler threads each take one request at a time, fetch its batches
/// one after another with ureq, preprocess them and answer.
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
        BlockingService {
            fetcher: BlockingFetcher::new(workload),
            workload: workload.clone(),
        }
    }

    /// Answers one request on this thread.
    pub fn respond(&self, method: &str, target: &str) -> Answer {
        let (id, ids) = match plan(method, target, self.workload.batches) {
            Ok(planned) => planned,
            Err(answer) => return answer,
        };
        let fetched = ids
            .map(|batch| (batch, self.fetcher.fetch(batch)))
            .collect();
        Answer::predict(&self.workload, id, fetched)
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
        // `/predict` and `/health` take no body; a request that has one is not ours.
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
    fn routes_predict_health_and_rejects() {
        assert_eq!(route("GET", "/predict?id=42"), Route::Predict(42));
        assert_eq!(route("GET", "/predict?x=1&id=7"), Route::Predict(7));
        assert_eq!(route("GET", "/health"), Route::Health);
        assert!(matches!(route("GET", "/predict"), Route::Reject(400, _)));
        assert!(matches!(
            route("GET", "/predict?id=-1"),
            Route::Reject(400, _)
        ));
        assert!(matches!(
            route("POST", "/predict?id=1"),
            Route::Reject(405, _)
        ));
        assert!(matches!(route("GET", "/nope"), Route::Reject(404, _)));
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
