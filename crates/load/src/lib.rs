//! The load generator of runtime-lab: HTTP/1.1 requests at a constant rate (open loop) or as fast as answers come (closed loop), with latency percentiles from an HDR histogram.
//!
//! A closed-loop generator (wrk, ab, most benchmark scripts) sends a
//! connection's next request only when the last answer has arrived, so when
//! the server stalls for a second the generator stops sending too, and the
//! requests that a real client would have sent during that second, and that
//! would all have waited, are never measured: the stall shows up as one slow
//! request instead of hundreds. Gil Tene named this *coordinated omission*.
//! The open-loop mode avoids it, as wrk2 and oha's latency correction do:
//! request `k` has an intended start `t0 + k / rate` fixed before the run,
//! a request that has to wait for a free connection is timed from that
//! intended start, and so the time a request spends queued behind a slow
//! server is part of its latency even when the queue is on the client side.
//! (A request that an idle connection sends on time counts from its actual
//! send: tokio's timer wakes up to a millisecond late, and that lateness is
//! the generator's, not the server's.)
//! Closed-loop mode ([`Mode::Closed`]) is kept for what it measures well: the
//! maximum throughput at a given number of connections. It counts every
//! request that completes inside the measured window, whatever its start,
//! as wrk does, so its throughput does not depend on the window's length;
//! `achieved_rps` counts successful answers only, in both modes.
//!
//! The generator is one tokio runtime (one thread by default, the most
//! CPU-frugal) driving hyper's low-level HTTP/1.1 client connections, one
//! task per keep-alive connection. A server that closes connections is
//! reconnected transparently (counted in [`LoadReport::connects`]); a server
//! that dies or stalls ends the run at its duration with the errors counted
//! and the requests still outstanding reported as `unfinished`.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let config = load::Config {
//!     connections: 16,
//!     duration: Duration::from_secs(5),
//!     ..load::Config::new("http://127.0.0.1:8000/predict?id={id}", load::Mode::Open { rate: 500.0 })
//! };
//! let report = load::run(&config)?;
//! println!(
//!     "{:.0} of {:.0} req/s, p99 {:.1} ms",
//!     report.achieved_rps,
//!     report.offered_rps.unwrap_or_default(),
//!     report.latency_ms.p99
//! );
//! # Ok::<(), load::Error>(())
//! ```

mod engine;
mod report;
mod target;

pub use report::{ErrorKind, LatencyMs, LoadReport, ModeName};

use std::time::Duration;

/// Length of the measured window unless the caller says otherwise.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Warm-up before the measured window unless the caller says otherwise.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(2);
/// Keep-alive connections unless the caller says otherwise.
pub const DEFAULT_CONNECTIONS: usize = 64;
/// Per-request timeout unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the URL probe before a run waits for an answer (less when
/// the request timeout is shorter).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The highest rate [`Config::validate`] accepts.
pub const MAX_RATE: f64 = 10_000_000.0;
/// The longest duration or warm-up [`Config::validate`] accepts (one day).
pub const MAX_SECONDS: f64 = 86_400.0;
/// The most runtime threads [`Config::validate`] accepts.
pub const MAX_THREADS: usize = 1024;

/// How requests are scheduled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Open loop: `rate` requests per second at fixed intended start times,
    /// each timed from its intended start.
    Open {
        /// Requests per second.
        rate: f64,
    },
    /// Closed loop: each connection sends its next request as soon as the
    /// last answer has arrived, timed from the moment it is sent (like wrk).
    Closed,
}

/// One load run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `http://host:port/path?query`; each `{id}` in it becomes the request's
    /// running number (0, 1, 2, ...), so `/predict?id={id}` asks for distinct ids.
    pub url: String,
    /// Open or closed loop.
    pub mode: Mode,
    /// Keep-alive connections, all opened before the run starts.
    pub connections: usize,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// Before the measured window: requests sent (open loop: due) or, in
    /// closed loop, completed in it are not recorded.
    pub warmup: Duration,
    /// Per request, connect included; a request past it counts as an error.
    pub timeout: Duration,
    /// After the measured window, how long requests due in it may still
    /// complete (and count); 0 abandons them at the window's end as
    /// `unfinished`. A drain as long as the latency that still counts as
    /// served keeps `achieved_rps` from being short by the requests in flight.
    /// Open loop only: the closed loop counts what completes in the window.
    pub drain: Duration,
    /// Runtime threads: 1 runs everything on one thread (current-thread runtime).
    pub threads: usize,
}

impl Config {
    /// A run against `url` in `mode`, with the default duration, warm-up,
    /// connections and timeout, on one thread.
    pub fn new(url: impl Into<String>, mode: Mode) -> Self {
        Config {
            url: url.into(),
            mode,
            connections: DEFAULT_CONNECTIONS,
            duration: DEFAULT_DURATION,
            warmup: DEFAULT_WARMUP,
            timeout: DEFAULT_TIMEOUT,
            drain: Duration::ZERO,
            threads: 1,
        }
    }

    /// Checks every setting but the URL (which [`run`] parses and probes).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |setting: &'static str, reason: &str| {
            Err(Error::InvalidConfig {
                setting,
                reason: reason.to_owned(),
            })
        };
        if let Mode::Open { rate } = self.mode
            && !(rate > 0.0 && rate <= MAX_RATE)
        {
            return invalid("rate", "must be above 0 and at most 10000000 per second");
        }
        if self.duration.is_zero() || self.duration.as_secs_f64() > MAX_SECONDS {
            return invalid("duration", "must be above 0 and at most 86400 seconds");
        }
        if self.warmup.as_secs_f64() > MAX_SECONDS {
            return invalid("warmup", "must be at most 86400 seconds");
        }
        if self.connections == 0 {
            return invalid("connections", "must be at least 1");
        }
        if self.timeout.is_zero() {
            return invalid("timeout", "must be above 0");
        }
        if self.threads == 0 || self.threads > MAX_THREADS {
            return invalid("threads", "must be between 1 and 1024");
        }
        Ok(())
    }

    /// The longest a [`run`] of this configuration can take: the probe, the
    /// connects, the warm-up and the duration, and a grace second.
    pub fn deadline(&self) -> Duration {
        self.timeout.min(PROBE_TIMEOUT)
            + self.timeout
            + self.warmup
            + self.duration
            + self.drain
            + engine::GRACE
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of range.
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL cannot be used.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's host does not resolve.
    #[error("cannot resolve {host}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// Nothing accepts connections at the URL's address.
    #[error("{url} does not answer: {reason}")]
    Unreachable {
        /// The URL as given.
        url: String,
        /// Refused, or no connection within the probe's timeout.
        reason: String,
    },
    /// Something accepts connections there but gives no HTTP/1.1 answer.
    #[error("{url} is not an HTTP server: {reason}")]
    NotHttp {
        /// The URL as given.
        url: String,
        /// What the probe saw.
        reason: String,
    },
    /// The tokio runtime could not be started.
    #[error("cannot start the load generator's runtime")]
    Runtime(#[source] std::io::Error),
}

impl Error {
    /// Whether the error is the caller's input (settings, URL, a server that
    /// is not there) rather than this machine failing: the CLI exits 2 for it.
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::Runtime(_))
    }
}

/// Probes `config.url` (one connection, one request, any status, within
/// [`PROBE_TIMEOUT`]), opens the connections, drives the load for the warm-up
/// and the duration, and reports. It returns by [`Config::deadline`] whatever
/// the server does.
pub fn run(config: &Config) -> Result<LoadReport, Error> {
    engine::run(config)
}
