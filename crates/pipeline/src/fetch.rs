//! The blocking fetch path, shared by every executor that blocks a thread per request.

use crate::{
    BatchDecoder, BatchError, Connections, FetchTimes, Fetched, MAX_BODY_BYTES, Payload,
    UpstreamKind, Workload,
};
use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// A blocking HTTP/1.1 client (ureq) for one workload.
///
/// With [`Connections::Fresh`] the agent keeps no idle connection, so every
/// request opens and closes its own TCP connection, as `requests.get` does.
/// With [`Connections::Pooled`] connections are kept alive and reused. The
/// fetcher is `Clone + Send + Sync`: share one between threads to share its pool.
#[derive(Clone)]
pub struct BlockingFetcher {
    agent: ureq::Agent,
    workload: Workload,
}

impl BlockingFetcher {
    /// A fetcher for `workload`'s upstream and connection mode.
    pub fn new(workload: &Workload) -> Self {
        let idle = match workload.connections {
            Connections::Fresh => 0,
            // Enough idle slots that no connection of the run is ever dropped.
            Connections::Pooled => workload.in_flight_limit().max(workload.workers),
        };
        // The request head is set whole on each request (`crate::wire`), so
        // that it is byte for byte the async path's; the agent adds no
        // header of its own, and follows no redirect, as hyper does not.
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .timeout_global(Some(Duration::from_millis(workload.timeout_ms)))
            .build();
        // Plain TCP on the lab's client sockets (`crate::client_socket`), in
        // a transport that stamps the points of the exchange.
        let connector = ClientSocketConnector;
        BlockingFetcher {
            agent: ureq::Agent::with_parts(config, connector, DefaultResolver::default()),
            workload: workload.clone(),
        }
    }

    /// Fetches batch `id` and returns the response body, retrying transient
    /// failures as the workload allows (see [`crate::is_retryable`]).
    pub fn fetch(&self, id: u64) -> Result<Vec<u8>, BatchError> {
        let (result, _) = self.fetch_retrying(id, false);
        match result?.body {
            Payload::Body(body) => Ok(body.into()),
            // Not reached: a fetch that may not stream buffers every body.
            Payload::Values(_) => Err(BatchError::Http("body was not buffered".into())),
        }
    }

    /// Like [`BlockingFetcher::fetch`], and also says when the fetch reached
    /// each point, for [`crate::process_fetched`] to cut the batch's latency
    /// into phases.
    ///
    /// A feature-store body in plain JSON is decoded as it is read, a few
    /// kilobytes at a time, and never held whole: the batch comes back as
    /// [`Payload::Values`]. Any other body comes back whole, as [`Payload::Body`].
    pub fn fetch_timed(&self, id: u64) -> Result<Fetched<Payload>, BatchError> {
        self.fetch_counting_retries(id).0
    }

    /// Like [`BlockingFetcher::fetch_timed`], and also says how many retries
    /// it took, for executors that report retries made in another process.
    pub fn fetch_counting_retries(&self, id: u64) -> (Result<Fetched<Payload>, BatchError>, u32) {
        self.fetch_retrying(id, true)
    }

    fn fetch_retrying(
        &self,
        id: u64,
        may_stream: bool,
    ) -> (Result<Fetched<Payload>, BatchError>, u32) {
        let started = Instant::now();
        let stream = may_stream && self.workload.upstream.kind == UpstreamKind::FeatureStore;
        let (result, retries) = crate::retry::with_retries(&self.workload, id, |attempt| {
            self.fetch_once(id, attempt, stream)
        });
        let fetched = result.map(|(body, wire)| Fetched {
            body,
            times: FetchTimes {
                started,
                connected: wire.connected,
                responded: wire.responded,
                received: wire.received,
                scheduling: [Duration::ZERO; 3],
                decoded: wire.decoded,
            },
        });
        (fetched, retries)
    }

    fn fetch_once(
        &self,
        id: u64,
        attempt: u32,
        stream: bool,
    ) -> Result<(Payload, AttemptTimes), BatchError> {
        let attempt_started = Instant::now();
        WIRE.set(WireTimes::default());
        // The address resolved when the workload was built, as the async
        // path connects to; the `host` header names the host as given.
        let url = format!(
            "http://{}{}",
            self.workload.upstream.addr,
            self.workload.request_path(id, attempt)
        );
        let mut request = self.agent.get(&url);
        for (name, value) in crate::wire::request_headers(&self.workload) {
            request = request.header(name, value);
        }
        let mut response = request.call().map_err(|err| self.classify(err))?;
        let head_read = Instant::now();
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(BatchError::Status(status));
        }
        let plain = response.headers().get("content-encoding").is_none();
        let (body, decoded) = if stream && plain {
            self.read_decoding(id, response.body_mut())?
        } else {
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_BODY_BYTES as u64)
                .read_to_vec()
                .map_err(|err| self.classify(err))?;
            let encoding = response
                .headers()
                .get("content-encoding")
                .map(|value| value.as_bytes());
            let body = crate::wire::decode_content(encoding, &body)?.unwrap_or(body);
            (Payload::Body(body.into()), Duration::ZERO)
        };
        // Closing a fresh connection (or pooling a kept one) is part of receiving.
        drop(response);
        // The transport stamped the connection and the first byte of the
        // reply on this thread (ureq does its I/O on the caller's thread).
        let wire = WIRE.get();
        let connected = wire.connected.unwrap_or(attempt_started);
        Ok((
            body,
            AttemptTimes {
                connected,
                responded: wire.responded.unwrap_or(head_read).max(connected),
                received: Instant::now(),
                decoded,
            },
        ))
    }

    /// Reads a plain feature-store body through a small buffer on the
    /// stack, feeding each read to the batch decoder, whose byte limit is
    /// [`MAX_BODY_BYTES`]; returns the values and the time the decoder took
    /// to finish.
    fn read_decoding(
        &self,
        id: u64,
        body: &mut ureq::Body,
    ) -> Result<(Payload, Duration), BatchError> {
        let mut decoder = BatchDecoder::with_capacity(id, self.workload.features as usize);
        let mut reader = body.as_reader();
        let mut chunk = [0; READ_CHUNK_BYTES];
        loop {
            let read = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(self.classify(err.into())),
            };
            decoder.feed(&chunk[..read])?;
        }
        let finishing = Instant::now();
        let batch = decoder.finish()?;
        Ok((Payload::Values(batch.values), finishing.elapsed()))
    }

    fn classify(&self, error: ureq::Error) -> BatchError {
        classify(error, self.workload.timeout_ms)
    }
}

fn classify(error: ureq::Error, timeout_ms: u64) -> BatchError {
    match error {
        ureq::Error::Timeout(_) => BatchError::Timeout(timeout_ms),
        ureq::Error::StatusCode(status) => BatchError::Status(status),
        ureq::Error::BodyExceedsLimit(_) => BatchError::BodyTooLarge(MAX_BODY_BYTES),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            BatchError::Connect(error.to_string())
        }
        ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            BatchError::Connect(error.to_string())
        }
        other => BatchError::Http(other.to_string()),
    }
}

/// How much of a streamed body one read takes: a page of the stack, so
/// that a thread blocked on its request holds no body buffer on the heap.
const READ_CHUNK_BYTES: usize = 4096;

/// When the attempt that succeeded reached each point after its start.
#[derive(Debug, Clone, Copy)]
struct AttemptTimes {
    connected: Instant,
    responded: Instant,
    received: Instant,
    /// The time a streamed decode took to finish (zero for a buffered body).
    decoded: Duration,
}

/// What the transport saw of the current attempt on this thread.
#[derive(Debug, Clone, Copy, Default)]
struct WireTimes {
    /// A new connection was made, or a pooled one first written to.
    connected: Option<Instant>,
    /// The first bytes of the reply were read.
    responded: Option<Instant>,
    /// The request was written and no reply byte has been read since.
    awaiting_reply: bool,
}

thread_local! {
    /// ureq does all the I/O of a call on the calling thread, so the
    /// transport reports to the fetch on that thread through this cell.
    static WIRE: Cell<WireTimes> = Cell::new(WireTimes::default());
}

/// The connector: plain TCP, as ureq's own `TcpConnector`, but on a
/// [`crate::client_socket`], so that the blocking path's connections get the
/// async path's socket options; each connection is a [`TimedTransport`].
#[derive(Debug)]
struct ClientSocketConnector;

impl Connector<()> for ClientSocketConnector {
    type Out = TimedTransport;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        _chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // The URL holds the address the workload resolved, so there is one.
        let addr = *details.addrs.first().ok_or(ureq::Error::HostNotFound)?;
        let socket = crate::client_socket(addr)?;
        let connecting = match details.timeout.not_zero() {
            Some(limit) => socket.connect_timeout(&addr.into(), *limit),
            None => socket.connect(&addr.into()),
        };
        connecting.map_err(|err| timeout_or(err, details.timeout))?;
        WIRE.set(WireTimes {
            connected: Some(Instant::now()),
            ..WIRE.get()
        });
        let config = details.config;
        Ok(Some(TimedTransport {
            stream: socket.into(),
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
        }))
    }
}

/// ureq's error for an I/O error: a timed-out socket is a timeout of the kind the limit was.
fn timeout_or(error: std::io::Error, timeout: NextTimeout) -> ureq::Error {
    match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ureq::Error::Timeout(timeout.reason),
        _ => error.into(),
    }
}

/// A blocking TCP transport that stamps, on this thread, when a request is
/// written and when the first byte of its reply is read.
#[derive(Debug)]
struct TimedTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
}

impl Transport for TimedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let mut wire = WIRE.get();
        // A pooled connection is ready when the request is first written to it.
        wire.connected.get_or_insert_with(Instant::now);
        wire.awaiting_reply = true;
        WIRE.set(wire);
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|limit| *limit))?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|err| timeout_or(err, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|limit| *limit))?;
        let read = loop {
            match self.stream.read(self.buffers.input_append_buf()) {
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                result => break result.map_err(|err| timeout_or(err, timeout))?,
            }
        };
        self.buffers.input_appended(read);
        let mut wire = WIRE.get();
        if read > 0 && wire.awaiting_reply {
            wire.responded = Some(Instant::now());
            wire.awaiting_reply = false;
            WIRE.set(wire);
        }
        Ok(read > 0)
    }

    fn is_open(&mut self) -> bool {
        // An idle connection is open when reading would block: nothing
        // unasked-for arrived, and the peer has not closed it.
        let mut probe = [0];
        let open = self.stream.set_nonblocking(true).is_ok()
            && matches!(self.stream.read(&mut probe), Err(err) if err.kind() == ErrorKind::WouldBlock);
        open && self.stream.set_nonblocking(false).is_ok()
    }
}
