//! The async fetch path, shared by every async executor: hyper 1.x's
//! low-level HTTP/1.1 client connection, generic over the connection's IO.
//!
//! hyper's `client::conn::http1` API needs no runtime: it takes any IO that
//! implements [`hyper::rt::Read`] and [`hyper::rt::Write`] and gives back a
//! request sender plus a *connection future* that someone must poll. This
//! module polls that future itself, alongside the request, instead of
//! spawning it, so the same code runs on tokio, smol, async-std and glommio
//! and the runtime is the only variable between them. Each runtime supplies a
//! [`Connect`] implementation for its own TCP stream.

use crate::phases::{Scheduled, WakeClock};
use crate::{
    BatchDecoder, BatchError, Connections, FetchTimes, Fetched, Payload, UpstreamKind, Workload,
    backoff, count_retries, is_retryable,
};
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{Either, select};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::{Request, header};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Largest response body any executor accepts; past it the batch fails.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Opens a TCP connection on one runtime, as IO that hyper can drive.
///
/// tokio implements it with `hyper_util::rt::TokioIo<tokio::net::TcpStream>`;
/// runtimes built on the `futures-io` traits wrap their stream in [`FuturesIo`].
pub trait Connect {
    /// The connected stream.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin;

    /// Connects to `addr`.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Io>>;

    /// Sleeps on the runtime's own timer: the per-request timeout and the
    /// backoff between retries use it.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

type Sender = SendRequest<Empty<Bytes>>;
/// The connection future is boxed so that it is `Unpin` and can wait in the pool.
type Driver<Io> = Pin<Box<Connection<Io, Empty<Bytes>>>>;

/// An async HTTP/1.1 client for one workload, over one runtime's [`Connect`].
///
/// With [`Connections::Fresh`] every fetch opens, uses and closes its own
/// connection. With [`Connections::Pooled`] idle connections wait in a pool
/// and are reused; one that the server closed meanwhile is dropped and
/// replaced by a fresh one.
pub struct AsyncFetcher<C: Connect> {
    connector: C,
    workload: Workload,
    idle: Mutex<Vec<(Sender, Driver<C::Io>)>>,
}

impl<C: Connect> AsyncFetcher<C> {
    /// A fetcher for `workload`, connecting with `connector`.
    pub fn new(connector: C, workload: &Workload) -> Self {
        AsyncFetcher {
            connector,
            workload: workload.clone(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Fetches batch `id` and returns the response body, each attempt
    /// within the workload's timeout, retrying transient failures as the
    /// workload allows (see [`crate::is_retryable`]).
    pub async fn fetch(&self, id: u64) -> Result<Bytes, BatchError> {
        let fetched = Scheduled::new(|clock| self.fetch_retrying(id, false, clock)).await?;
        match fetched.body {
            Payload::Body(body) => Ok(body),
            // Not reached: a fetch that may not stream buffers every body.
            Payload::Values(_) => Err(BatchError::Http("body was not buffered".into())),
        }
    }

    /// Like [`AsyncFetcher::fetch`], and also says when the fetch reached
    /// each point and how long the task waited to be polled after each
    /// wake-up (its scheduling delay), for [`crate::process_fetched`] to cut
    /// the batch's latency into phases.
    ///
    /// A feature-store body in plain JSON is decoded as it arrives, frame by
    /// frame, and never held whole: the batch comes back as
    /// [`Payload::Values`]. Any other body comes back whole, as [`Payload::Body`].
    pub async fn fetch_timed(&self, id: u64) -> Result<Fetched<Payload>, BatchError> {
        Scheduled::new(|clock| self.fetch_retrying(id, true, clock)).await
    }

    async fn fetch_retrying(
        &self,
        id: u64,
        may_stream: bool,
        clock: Arc<WakeClock>,
    ) -> Result<Fetched<Payload>, BatchError> {
        let started = Instant::now();
        let stream = may_stream && self.workload.upstream.kind == UpstreamKind::FeatureStore;
        let mut attempt = 0;
        loop {
            match self.fetch_within_timeout(id, attempt, stream, &clock).await {
                Err(error) if attempt < self.workload.retries && is_retryable(&error) => {
                    attempt += 1;
                    count_retries(1);
                    self.connector.sleep(backoff(id, attempt)).await;
                }
                Err(error) => return Err(error),
                Ok(((body, decoded), [connected, responded, received])) => {
                    return Ok(Fetched {
                        body,
                        times: FetchTimes {
                            started,
                            connected: connected.at,
                            responded: responded.at,
                            received: received.at,
                            scheduling: [
                                connected.delayed,
                                responded.delayed.saturating_sub(connected.delayed),
                                received.delayed.saturating_sub(responded.delayed),
                            ],
                            decoded,
                        },
                    });
                }
            }
        }
    }

    async fn fetch_within_timeout(
        &self,
        id: u64,
        attempt: u32,
        stream: bool,
        clock: &WakeClock,
    ) -> Result<(Received, [Stamp; 3]), BatchError> {
        let timeout_ms = self.workload.timeout_ms;
        let fetch = pin!(self.fetch_once(id, attempt, stream, clock));
        let timer = pin!(self.connector.sleep(Duration::from_millis(timeout_ms)));
        // `select` polls the fetch first: a reply that is ready wins over a
        // timer that expired while the thread was busy elsewhere.
        match select(fetch, timer).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => Err(BatchError::Timeout(timeout_ms)),
        }
    }

    async fn fetch_once(
        &self,
        id: u64,
        attempt: u32,
        stream: bool,
        clock: &WakeClock,
    ) -> Result<(Received, [Stamp; 3]), BatchError> {
        let pooled = self.workload.connections == Connections::Pooled;
        // A kept-alive connection can be closed by the server at any moment:
        // if reusing one fails, retry once on a new connection before failing the batch.
        if pooled && let Some((mut sender, mut driver)) = self.take_idle() {
            // A pooled connection is ready when it is taken from the pool.
            let connected = Stamp::now(clock);
            if let Ok((body, responded)) = self
                .exchange(id, attempt, stream, &mut sender, &mut driver, clock)
                .await
            {
                self.put_idle(sender, driver);
                return Ok((body, [connected, responded, Stamp::now(clock)]));
            }
        }
        let (mut sender, mut driver) = self.open().await?;
        let connected = Stamp::now(clock);
        let (body, responded) = self
            .exchange(id, attempt, stream, &mut sender, &mut driver, clock)
            .await?;
        if pooled {
            self.put_idle(sender, driver);
        } else {
            // Closing the socket is part of receiving on a fresh connection.
            drop((sender, driver));
        }
        Ok((body, [connected, responded, Stamp::now(clock)]))
    }

    async fn open(&self) -> Result<(Sender, Driver<C::Io>), BatchError> {
        let io = self
            .connector
            .connect(self.workload.upstream.addr)
            .await
            .map_err(|err| BatchError::Connect(err.to_string()))?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|err| BatchError::Http(err.to_string()))?;
        Ok((sender, Box::pin(connection)))
    }

    /// Sends one request and reads the whole body (decoding it frame by
    /// frame when `stream` allows and the body is plain), polling the
    /// connection future alongside so that hyper can write the request and
    /// read the reply; stamps when the response head was read.
    async fn exchange(
        &self,
        id: u64,
        attempt: u32,
        stream: bool,
        sender: &mut Sender,
        driver: &mut Driver<C::Io>,
        clock: &WakeClock,
    ) -> Result<(Received, Stamp), BatchError> {
        // The same head as the blocking path's, header for header (`crate::wire`).
        let mut request = Request::get(self.workload.request_path(id, attempt));
        for (name, value) in crate::wire::request_headers(&self.workload) {
            request = request.header(name, value);
        }
        let request = request
            .body(Empty::new())
            .map_err(|err| BatchError::Http(err.to_string()))?;
        let response = pin!(async move {
            let response = sender
                .send_request(request)
                .await
                .map_err(|err| BatchError::Http(err.to_string()))?;
            let responded = Stamp::now(clock);
            let status = response.status().as_u16();
            if !response.status().is_success() {
                return Err(BatchError::Status(status));
            }
            let (head, mut body) = response.into_parts();
            let encoding = head.headers.get(header::CONTENT_ENCODING);
            if stream && encoding.is_none() {
                let mut decoder = BatchDecoder::with_capacity(id, self.workload.features as usize);
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|err| BatchError::Http(err.to_string()))?;
                    if let Some(chunk) = frame.data_ref() {
                        decoder.feed(chunk)?;
                    }
                }
                let finishing = Instant::now();
                let batch = decoder.finish()?;
                let received = (Payload::Values(batch.values), finishing.elapsed());
                return Ok((received, responded));
            }
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .map_err(|err| {
                    if err.is::<http_body_util::LengthLimitError>() {
                        BatchError::BodyTooLarge(MAX_BODY_BYTES)
                    } else {
                        BatchError::Http(err.to_string())
                    }
                })?;
            let encoding = encoding.map(|value| value.as_bytes());
            let body = crate::wire::decode_content(encoding, &body)?.map_or(body, Bytes::from);
            Ok(((Payload::Body(body), Duration::ZERO), responded))
        });
        match select(response, driver.as_mut()).await {
            Either::Left((body, _)) => body,
            // The connection ended first (the server closed it after a
            // complete reply, or it broke): finish reading what was received.
            Either::Right((connection, response)) => {
                connection.map_err(|err| BatchError::Http(err.to_string()))?;
                response.await
            }
        }
    }

    fn take_idle(&self) -> Option<(Sender, Driver<C::Io>)> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((sender, mut driver)) = idle.pop() {
            // A connection whose future has completed was closed by the peer.
            if !sender.is_closed() && driver.as_mut().now_or_never().is_none() {
                return Some((sender, driver));
            }
        }
        None
    }

    fn put_idle(&self, sender: Sender, driver: Driver<C::Io>) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((sender, driver));
    }
}

/// What one exchange brought back: the batch, and the time its streamed
/// decode took to finish (zero for a buffered body).
type Received = (Payload, Duration);

/// A point of a fetch: when it was reached, and the fetch's scheduling delay until then.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    at: Instant,
    delayed: Duration,
}

impl Stamp {
    fn now(clock: &WakeClock) -> Self {
        Stamp {
            at: Instant::now(),
            delayed: clock.delayed(),
        }
    }
}

/// Adapts a `futures-io` stream (smol, async-std, glommio) to hyper's IO traits.
///
/// hyper reads into a possibly uninitialised buffer; rather than use
/// `unsafe`, the adapter reads into an initialised scratch buffer and copies,
/// which costs a memcpy per read and nothing else. The scratch buffer belongs
/// to the thread, not to the connection: a read fills it and empties it
/// before returning, so ten thousand open connections do not hold ten
/// thousand scratch buffers (160 MB), and the memory figures of the
/// futures-io runtimes stay comparable with tokio's.
pub struct FuturesIo<T> {
    inner: T,
}

impl<T> FuturesIo<T> {
    /// Wraps a connected stream.
    pub fn new(inner: T) -> Self {
        FuturesIo { inner }
    }
}

const SCRATCH_BYTES: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_BYTES].into_boxed_slice());
}

impl<T: futures_io::AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = Pin::new(&mut self.get_mut().inner);
        let read_into = |scratch: &mut [u8]| {
            let len = scratch.len().min(buf.remaining());
            match inner.poll_read(cx, &mut scratch[..len]) {
                Poll::Ready(Ok(read)) => {
                    buf.put_slice(&scratch[..read]);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                Poll::Pending => Poll::Pending,
            }
        };
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => read_into(&mut scratch),
            // Only a stream whose own poll_read reads another FuturesIo gets
            // here; it pays for a buffer of its own rather than panicking.
            Err(_) => read_into(&mut vec![0; SCRATCH_BYTES]),
        })
    }
}

impl<T: futures_io::AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
