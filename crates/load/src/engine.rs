//! The engine: one explicitly built tokio runtime, one task per keep-alive
//! connection, hyper's HTTP/1.1 client connection polled inside that task.

use crate::report::{Outcome, Recorder};
use crate::target::Target;
use crate::{Config, Error, ErrorKind, LoadReport, Mode, ModeName, PROBE_TIMEOUT};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};

/// How long after the end of the measured window the connection tasks have
/// to notice it before they are dropped; they normally stop at the end itself.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// Connects in flight at once while opening the connections: ten thousand at
/// once would overflow a server's accept queue (often 1024 or 4096), and a
/// dropped SYN is retried only a whole second later.
const MAX_PARALLEL_CONNECTS: usize = 128;

/// The pause of a closed-loop connection after a failed connect: a refused
/// connect fails at once, and without it a dead server would turn the
/// generator into a busy loop counting millions of connect errors.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(10);

pub(crate) fn run(config: &Config) -> Result<LoadReport, Error> {
    config.validate()?;
    let target = Arc::new(Target::parse(&config.url)?);
    let cpu_before = CpuTime::now();
    let runtime = build_runtime(config.threads).map_err(Error::Runtime)?;
    let totals = runtime.block_on(drive(config.clone(), Arc::clone(&target)));
    // Every connection task has ended or been aborted by now; whatever still
    // holds a socket is dropped without waiting.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let totals = totals?;
    let cpu = CpuTime::now().since(&cpu_before);
    let recorder = &totals.recorder;
    let errors = recorder.errors().clone();
    Ok(LoadReport {
        mode: match config.mode {
            Mode::Open { .. } => ModeName::Open,
            Mode::Closed => ModeName::Closed,
        },
        url: target.url.clone(),
        offered_rps: match config.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed => None,
        },
        // A rate of failures is not a throughput: only ok answers count.
        achieved_rps: recorder.ok() as f64 / config.duration.as_secs_f64(),
        answered_rps: totals.answered as f64 / config.duration.as_secs_f64(),
        ok: recorder.ok(),
        errors,
        unfinished: recorder.unfinished(),
        latency_ms: recorder.latency_ms(),
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        connections: config.connections,
        connects: totals.connects,
        cpu_user_ms: cpu.user.as_secs_f64() * 1e3,
        cpu_sys_ms: cpu.system.as_secs_f64() * 1e3,
        threads: config.threads,
    })
}

/// One thread gets a current-thread runtime: no work stealing, no
/// cross-thread wake-ups, the least CPU per request.
fn build_runtime(threads: usize) -> io::Result<Runtime> {
    if threads == 1 {
        Builder::new_current_thread().enable_all().build()
    } else {
        Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("load")
            .enable_all()
            .build()
    }
}

struct Totals {
    recorder: Recorder,
    connects: u64,
    /// Ok answers that arrived inside the measured window.
    answered: u64,
}

async fn drive(config: Config, target: Arc<Target>) -> Result<Totals, Error> {
    probe(&target, config.timeout.min(PROBE_TIMEOUT)).await?;
    let connects = Arc::new(AtomicU64::new(0));
    let conns = open_connections(
        target.addr,
        config.connections,
        Instant::now() + config.timeout,
        &connects,
    )
    .await;
    // The schedule starts once the connections are open, so that opening
    // ten thousand of them is not counted as the server's queueing delay.
    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        target,
        timeout: config.timeout,
        t0,
        measure_from: t0 + config.warmup,
        end: t0 + config.warmup + config.duration,
        drained: t0 + config.warmup + config.duration + config.drain,
        next_id: AtomicU64::new(0),
        connects,
        answered: AtomicU64::new(0),
        recorder: Mutex::new(Recorder::new()),
    });
    let mut tasks = JoinSet::new();
    for conn in conns {
        let shared = Arc::clone(&shared);
        match config.mode {
            Mode::Open { rate } => tasks.spawn(open_loop(shared, conn, rate)),
            Mode::Closed => tasks.spawn(closed_loop(shared, conn)),
        };
    }
    // Each task stops at `end` by itself; the grace period only bounds a bug.
    while let Ok(Some(joined)) = timeout_at(shared.drained + GRACE, tasks.join_next()).await {
        if let Err(error) = joined
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    tasks.abort_all();
    let mut recorder = std::mem::replace(&mut *shared.lock_recorder(), Recorder::new());
    if let Mode::Open { rate } = config.mode {
        // Requests that fell due while every connection was busy and were
        // never sent are the client-side queue: unfinished, not forgotten.
        let claimed = shared.next_id.load(Ordering::Relaxed);
        let due_from = tickets_before(config.warmup, rate);
        let due_until = tickets_before(config.warmup + config.duration, rate);
        recorder.add_unfinished(due_until.saturating_sub(claimed.clamp(due_from, due_until)));
    }
    Ok(Totals {
        recorder,
        connects: shared.connects.load(Ordering::Relaxed),
        answered: shared.answered.load(Ordering::Relaxed),
    })
}

/// Checks that the URL answers HTTP before any load is sent, so that a wrong
/// URL is one clear error instead of a report full of failed requests.
async fn probe(target: &Target, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let addr = target.addr;
    let unreachable = |reason: String| Error::Unreachable {
        url: target.url.clone(),
        reason,
    };
    let not_http = |reason: String| Error::NotHttp {
        url: target.url.clone(),
        reason,
    };
    let mut conn = match timeout_at(deadline, Conn::open(addr)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(unreachable(format!("{addr} refused the connection")));
        }
        Ok(Err(error)) => return Err(unreachable(format!("cannot connect to {addr}: {error}"))),
        Err(_) => {
            return Err(unreachable(format!(
                "{addr} accepted no connection within {timeout:?}"
            )));
        }
    };
    match timeout_at(deadline, conn.exchange(target.request(0))).await {
        Ok((Exchange::Answered { .. }, _)) => Ok(()),
        Ok((Exchange::Failed(ErrorKind::Protocol), _)) => {
            Err(not_http("its answer is not HTTP/1.1".into()))
        }
        Ok((Exchange::Failed(kind), _)) => Err(not_http(format!(
            "no answer, the connection failed ({})",
            kind.name()
        ))),
        Ok((Exchange::Unsent(_), _)) => Err(not_http(
            "it closed the connection before the request".into(),
        )),
        Err(_) => Err(not_http(format!("no answer within {timeout:?}"))),
    }
}

/// Opens `count` connections, at most [`MAX_PARALLEL_CONNECTS`] at a time,
/// until `deadline`; a connection not open by then is opened by its task
/// when it first sends.
async fn open_connections(
    addr: SocketAddr,
    count: usize,
    deadline: Instant,
    connects: &AtomicU64,
) -> Vec<Option<Conn>> {
    let permits = Arc::new(Semaphore::new(MAX_PARALLEL_CONNECTS));
    let mut opening = JoinSet::new();
    for _ in 0..count {
        let permits = Arc::clone(&permits);
        opening.spawn(async move {
            let open = async {
                let _permit = permits.acquire_owned().await.ok()?;
                Conn::open(addr).await.ok()
            };
            timeout_at(deadline, open).await.ok().flatten()
        });
    }
    let mut conns = Vec::with_capacity(count);
    while let Some(joined) = opening.join_next().await {
        conns.push(joined.ok().flatten());
    }
    let opened = conns.iter().filter(|conn| conn.is_some()).count();
    connects.fetch_add(opened as u64, Ordering::Relaxed);
    conns
}

/// What the connection tasks share.
struct Shared {
    target: Arc<Target>,
    timeout: Duration,
    /// The start of the schedule: request `k`'s intended start is `t0 + k / rate`.
    t0: Instant,
    /// The end of the warm-up.
    measure_from: Instant,
    /// The end of the run: no request is sent after it.
    end: Instant,
    /// The end of the drain: requests sent before `end` may finish until then.
    drained: Instant,
    /// The next request's number: the open loop's ticket, and `{id}`.
    next_id: AtomicU64,
    connects: Arc<AtomicU64>,
    /// Ok answers that arrived inside the measured window, whatever their start.
    answered: AtomicU64,
    recorder: Mutex<Recorder>,
}

impl Shared {
    fn lock_recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends request `id` on `conn`, reconnecting when the server has closed
    /// it, within the request timeout and the end of the run. `start` is the
    /// instant its latency counts from.
    async fn request(&self, conn: &mut Option<Conn>, id: u64, start: Instant) -> Outcome {
        let deadline = (Instant::now() + self.timeout).min(self.drained);
        // Cut short by the end of the drain, the request is abandoned, not failed.
        let past_deadline = |kind| {
            if deadline >= self.drained {
                Outcome::Unfinished
            } else {
                Outcome::Failed(kind)
            }
        };
        let mut request = self.target.request(id);
        loop {
            let (mut open, reused) = match conn.take().and_then(Conn::if_open) {
                Some(open) => (open, true),
                None => match timeout_at(deadline, Conn::open(self.target.addr)).await {
                    Ok(Ok(opened)) => {
                        self.connects.fetch_add(1, Ordering::Relaxed);
                        (opened, false)
                    }
                    Ok(Err(_)) => return Outcome::Failed(ErrorKind::Connect),
                    Err(_) => return past_deadline(ErrorKind::Connect),
                },
            };
            // On a timeout, dropping `open` closes the connection: HTTP/1.1
            // cannot abandon one request and keep the connection.
            let Ok((exchange, still_open)) = timeout_at(deadline, open.exchange(request)).await
            else {
                return past_deadline(ErrorKind::Timeout);
            };
            match exchange {
                Exchange::Answered { status, at } => {
                    if still_open {
                        *conn = Some(open);
                    }
                    return match status_error(status) {
                        None => Outcome::Ok(at.saturating_duration_since(start)),
                        Some(kind) => Outcome::Failed(kind),
                    };
                }
                // A kept-alive connection that the server closed just
                // before this request: send it again on a new connection.
                Exchange::Unsent(unsent) if reused => request = *unsent,
                Exchange::Unsent(_) => return Outcome::Failed(ErrorKind::Reset),
                Exchange::Failed(kind) => return Outcome::Failed(kind),
            }
        }
    }

    fn record(&self, outcome: Outcome) {
        self.lock_recorder().record(outcome);
    }

    /// Counts `outcome`, which has just arrived, in `answered` if it is an
    /// ok answer inside the measured window.
    fn count_answer(&self, outcome: Outcome) {
        let now = Instant::now();
        if matches!(outcome, Outcome::Ok(_)) && now >= self.measure_from && now < self.end {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One connection of the open loop: takes the next ticket, waits for its
/// intended start if that is still ahead, sends, records.
async fn open_loop(shared: Arc<Shared>, mut conn: Option<Conn>, rate: f64) {
    loop {
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let intended = shared.t0 + intended_offset(id, rate);
        // A ticket due before the end is sent even when a connection frees
        // up only during the drain: it is the queue, timed from its intended start.
        if intended >= shared.end {
            return;
        }
        if Instant::now() >= shared.drained {
            if intended >= shared.measure_from {
                shared.record(Outcome::Unfinished);
            }
            return;
        }
        let start = if Instant::now() < intended {
            // The connection was free before the request was due. tokio's
            // timer wakes up to a millisecond late (it rounds deadlines up
            // to whole milliseconds); that lateness is the generator's, not
            // the server's, so the request counts from when it is sent.
            sleep_until(intended).await;
            Instant::now()
        } else {
            // Every connection was busy when the request was due: the wait
            // for one is queueing that a real client would see, and it is
            // exactly what a closed loop omits.
            intended
        };
        let outcome = shared.request(&mut conn, id, start).await;
        shared.count_answer(outcome);
        if intended >= shared.measure_from {
            shared.record(outcome);
        }
    }
}

/// When ticket `ticket` is due, after the start of the schedule.
fn intended_offset(ticket: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(ticket as f64 / rate)
}

/// How many tickets fall due before `offset`: the first ticket due at or after it.
fn tickets_before(offset: Duration, rate: f64) -> u64 {
    // The float estimate can be one off either way; the exact predicate decides.
    let mut ticket = (offset.as_secs_f64() * rate).ceil() as u64;
    while ticket > 0 && intended_offset(ticket - 1, rate) >= offset {
        ticket -= 1;
    }
    while intended_offset(ticket, rate) < offset {
        ticket += 1;
    }
    ticket
}

/// One connection of the closed loop: sends its next request as soon as the
/// last one has ended.
///
/// A request counts when it *completes* inside the measured window, whatever
/// its start (wrk's rule): at C connections into a server that takes a
/// second per C requests, every request started in the window ends in it or
/// just after, and counting by start as well as end would drop the requests
/// that straddle the window's edges, a share that grows as the window
/// shrinks. Counted by completion, the throughput is the server's rate of
/// answers, whatever the window's length. The closed loop has no drain: a
/// request still outstanding when the window ends is abandoned as unfinished.
async fn closed_loop(shared: Arc<Shared>, mut conn: Option<Conn>) {
    loop {
        let start = Instant::now();
        if start >= shared.end {
            return;
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let Ok(outcome) = timeout_at(shared.end, shared.request(&mut conn, id, start)).await else {
            shared.record(Outcome::Unfinished);
            return;
        };
        shared.count_answer(outcome);
        if Instant::now() >= shared.measure_from {
            shared.record(outcome);
        }
        if matches!(outcome, Outcome::Failed(ErrorKind::Connect)) {
            sleep_until((Instant::now() + CONNECT_RETRY_PAUSE).min(shared.end)).await;
        }
    }
}

type Body = Empty<Bytes>;

/// One HTTP/1.1 connection: hyper's request sender and the connection future
/// that does its reading and writing, polled by the task that uses it.
struct Conn {
    sender: SendRequest<Body>,
    driver: Pin<Box<Connection<TokioIo<TcpStream>, Body>>>,
}

/// How one exchange on a connection ended.
enum Exchange {
    /// A whole answer arrived, at `at`.
    Answered { status: StatusCode, at: Instant },
    /// The connection was closed before the request was written (boxed:
    /// a request is large, and this is the rare case).
    Unsent(Box<Request<Body>>),
    /// The exchange failed midway.
    Failed(ErrorKind),
}

impl Conn {
    async fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        // Requests are one small write each: send it now, not after Nagle's delay.
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Conn {
            sender,
            driver: Box::pin(driver),
        })
    }

    /// The connection if it is still open: polling its future once reads a
    /// close that arrived while it was idle (or the end of a `Connection:
    /// close` answer) without waiting for anything.
    fn if_open(mut self) -> Option<Conn> {
        let mut context = Context::from_waker(Waker::noop());
        let open = self.driver.as_mut().poll(&mut context).is_pending() && !self.sender.is_closed();
        open.then_some(self)
    }

    /// Sends `request` and reads the whole answer, polling the connection
    /// future alongside. Also says whether the connection is still open.
    async fn exchange(&mut self, request: Request<Body>) -> (Exchange, bool) {
        let Conn { sender, driver } = self;
        let response = async move {
            if sender.ready().await.is_err() {
                return Exchange::Unsent(Box::new(request));
            }
            let response = match sender.try_send_request(request).await {
                Ok(response) => response,
                Err(mut error) => {
                    return match error.take_message() {
                        Some(request) => Exchange::Unsent(Box::new(request)),
                        None => Exchange::Failed(error_kind(error.error())),
                    };
                }
            };
            let status = response.status();
            // The body is read and dropped frame by frame: a load generator
            // has no use for it, and buffering it would cost a copy.
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                if let Err(error) = frame {
                    return Exchange::Failed(error_kind(&error));
                }
            }
            Exchange::Answered {
                status,
                at: Instant::now(),
            }
        };
        tokio::pin!(response);
        tokio::select! {
            biased;
            exchange = &mut response => (exchange, true),
            // The connection ended first: the server closed it after its
            // answer (`Connection: close`) or broke it; the response future
            // has either the whole answer or the error.
            _ = driver.as_mut() => (response.await, false),
        }
    }
}

/// The error kind of a status that is not ok (2xx or 3xx).
fn status_error(status: StatusCode) -> Option<ErrorKind> {
    if status.is_client_error() {
        Some(ErrorKind::Status4xx)
    } else if status.is_server_error() || status.as_u16() >= 600 {
        Some(ErrorKind::Status5xx)
    } else if status.is_informational() {
        Some(ErrorKind::Protocol)
    } else {
        None
    }
}

fn error_kind(error: &hyper::Error) -> ErrorKind {
    if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
        return ErrorKind::Protocol;
    }
    if error.is_timeout() {
        return ErrorKind::Timeout;
    }
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return ErrorKind::Reset;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return match io_error.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
                _ => ErrorKind::Io,
            };
        }
        source = cause.source();
    }
    ErrorKind::Io
}

/// CPU time of this process so far.
struct CpuTime {
    user: Duration,
    system: Duration,
}

impl CpuTime {
    fn now() -> Self {
        use nix::sys::resource::{UsageWho, getrusage};
        use nix::sys::time::TimeValLike;
        let micros = |value: nix::sys::time::TimeVal| {
            Duration::from_micros(value.num_microseconds().max(0) as u64)
        };
        match getrusage(UsageWho::RUSAGE_SELF) {
            Ok(usage) => CpuTime {
                user: micros(usage.user_time()),
                system: micros(usage.system_time()),
            },
            Err(_) => CpuTime {
                user: Duration::ZERO,
                system: Duration::ZERO,
            },
        }
    }

    fn since(&self, before: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_before_counts_the_tickets_due_before_an_instant() {
        assert_eq!(tickets_before(Duration::ZERO, 100.0), 0);
        // Tickets 0..=99 are due in the first second at 100 per second.
        assert_eq!(tickets_before(Duration::from_secs(1), 100.0), 100);
        assert_eq!(tickets_before(Duration::from_millis(1001), 100.0), 101);
        assert_eq!(tickets_before(Duration::from_millis(2500), 3.0), 8);
        for ticket in 0..1000 {
            let offset = intended_offset(ticket, 7.3);
            assert_eq!(tickets_before(offset, 7.3), ticket);
        }
    }

    #[test]
    fn statuses_sort_into_ok_and_error_kinds() {
        assert_eq!(status_error(StatusCode::OK), None);
        assert_eq!(status_error(StatusCode::NO_CONTENT), None);
        assert_eq!(status_error(StatusCode::FOUND), None);
        assert_eq!(
            status_error(StatusCode::NOT_FOUND),
            Some(ErrorKind::Status4xx)
        );
        assert_eq!(
            status_error(StatusCode::SERVICE_UNAVAILABLE),
            Some(ErrorKind::Status5xx)
        );
    }
}
