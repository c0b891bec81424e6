//! The workload: what every executor runs, parameter for parameter.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, ToSocketAddrs};

/// How requests use TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Connections {
    /// A new TCP connection per request, closed after it (what the articles do).
    #[default]
    Fresh,
    /// Keep-alive connections reused across requests.
    Pooled,
}

impl Connections {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Connections::Fresh => "fresh",
            Connections::Pooled => "pooled",
        }
    }
}

/// What kind of service the upstream is.
///
/// The CLI decides it once, by probing the URL (see `runtime-lab`'s
/// `upstream` module), and every executor, every worker process included,
/// receives the decision inside the [`Workload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamKind {
    /// A runtime-lab feature store: `GET {base}/features/{id}?delay_ms=D&n=K`.
    #[default]
    FeatureStore,
    /// Any HTTP service, addressed by a URL template containing `{id}`,
    /// which each request replaces with its batch id; the response bytes are
    /// preprocessed, folded into `features` values ([`crate::fold_body`]).
    Template,
    /// Any HTTP URL without `{id}`, requested as it is for every batch; the
    /// response bytes are preprocessed, folded as a template's are (the batch id still
    /// enters each digest, so the checksum stays well defined).
    Url,
}

impl UpstreamKind {
    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::FeatureStore => "feature-store",
            UpstreamKind::Template => "template",
            UpstreamKind::Url => "url",
        }
    }

    /// The kind of a URL that is not a feature store: a template when it
    /// holds `{id}`, a plain URL otherwise.
    pub fn of_other_service(url: &str) -> Self {
        if url.contains(ID_PLACEHOLDER) {
            UpstreamKind::Template
        } else {
            UpstreamKind::Url
        }
    }
}

/// The placeholder that a [`UpstreamKind::Template`] URL holds for the batch id.
pub const ID_PLACEHOLDER: &str = "{id}";

/// Where batches are fetched from.
///
/// The host is resolved once, when the upstream is parsed, so that no
/// executor spends its run time in a resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The URL as given (base or template).
    pub url: String,
    /// Feature store, template or plain URL.
    pub kind: UpstreamKind,
    /// The resolved socket address to connect to.
    pub addr: SocketAddr,
    /// The value of the `Host` header (`host:port`).
    pub authority: String,
    /// The path and query of the URL exactly as given (empty when it has
    /// none): a prefix for a feature store, the request target otherwise.
    pub path: String,
}

impl Upstream {
    /// Parses `http://host[:port][/path]` and resolves its host.
    ///
    /// Without a probe, the kind is a guess: a template when the URL holds
    /// `{id}`, otherwise the base of a feature store. Callers that know
    /// better (the CLI probes the URL) set it with [`Upstream::with_kind`].
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUpstream {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only plain http:// upstreams are supported"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(invalid("missing host"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "user names and passwords in the URL are not supported",
            ));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|source| Error::Resolve {
                host: with_port.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| invalid("host resolved to no address"))?;
        let kind = match UpstreamKind::of_other_service(url) {
            UpstreamKind::Template => UpstreamKind::Template,
            _ => UpstreamKind::FeatureStore,
        };
        // A fragment is never sent: it names a part of a page, not a resource.
        let path = path.split_once('#').map_or(path, |(before, _)| before);
        Ok(Upstream {
            url: url.to_owned(),
            kind,
            addr,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The same upstream, as a service of `kind`.
    pub fn with_kind(mut self, kind: UpstreamKind) -> Self {
        self.kind = kind;
        self
    }

    /// The path prefix of a feature store: the URL's path without its
    /// trailing slashes (a query makes no sense on a store's base URL).
    pub fn store_prefix(&self) -> &str {
        self.path
            .split_once('?')
            .map_or(self.path.as_str(), |(path, _)| path)
            .trim_end_matches('/')
    }
}

/// The number of logical CPUs this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One fetch-and-preprocess workload, identical for every executor.
///
/// Build it with [`Workload::new`] and the builder methods; the defaults are
/// DESIGN.md's (`32` batches, `1000` ms I/O, no CPU work, `1024` features,
/// one worker per core, fresh connections, unbounded in-flight, no GIL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    /// Feature batches to fetch and preprocess.
    pub batches: u32,
    /// The feature store answers each request after this delay.
    pub io_ms: u64,
    /// Requested single-core CPU time per batch (informational once `cpu_rounds` is set).
    pub cpu_ms: f64,
    /// Kernel rounds per batch: the CPU work actually done, identical across executors.
    pub cpu_rounds: u64,
    /// Feature values per batch.
    pub features: u32,
    /// Threads, executors or processes, where the executor has a pool.
    pub workers: usize,
    /// Fresh or pooled connections.
    pub connections: Connections,
    /// Cap on concurrent requests (`None`: unbounded).
    pub max_in_flight: Option<usize>,
    /// Emulate CPython's global interpreter lock around CPU work.
    pub gil: bool,
    /// Per-request timeout, each attempt; see [`Workload::default_timeout_ms`].
    pub timeout_ms: u64,
    /// Retries per batch after a connect error, reset, timeout or 5xx.
    pub retries: u32,
    /// Where batches come from.
    pub upstream: Upstream,
}

impl Workload {
    /// The default workload against `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Workload {
            batches: 32,
            io_ms: 1000,
            cpu_ms: 0.0,
            cpu_rounds: 0,
            features: 1024,
            workers: available_cores(),
            connections: Connections::Fresh,
            max_in_flight: None,
            gil: false,
            timeout_ms: Self::default_timeout_ms(1000, 32, 0.0),
            retries: 2,
            upstream,
        }
    }

    /// The default per-request timeout: twice the delay plus two seconds,
    /// plus all the CPU work of the run, because a single event loop
    /// (`tokio-ct`) may finish reading a reply only after preprocessing every
    /// batch before it, and that is slowness, not a lost request.
    pub fn default_timeout_ms(io_ms: u64, batches: u32, cpu_ms: f64) -> u64 {
        2 * io_ms + 2000 + (f64::from(batches) * cpu_ms).ceil() as u64
    }

    /// Sets the per-request timeout.
    pub fn timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = timeout_ms;
        self
    }

    /// Sets the retries per batch.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the batch count (and the default timeout that depends on it).
    pub fn batches(mut self, batches: u32) -> Self {
        self.batches = batches;
        self.timeout_ms = Self::default_timeout_ms(self.io_ms, batches, self.cpu_ms);
        self
    }

    /// Sets the upstream delay per request (and the default timeout that depends on it).
    pub fn io_ms(mut self, io_ms: u64) -> Self {
        self.io_ms = io_ms;
        self.timeout_ms = Self::default_timeout_ms(io_ms, self.batches, self.cpu_ms);
        self
    }

    /// Sets the CPU work per batch as a number of kernel rounds, and the
    /// milliseconds it was calibrated for (see [`crate::Calibration`]).
    pub fn cpu(mut self, cpu_ms: f64, cpu_rounds: u64) -> Self {
        self.cpu_ms = cpu_ms;
        self.cpu_rounds = cpu_rounds;
        self.timeout_ms = Self::default_timeout_ms(self.io_ms, self.batches, cpu_ms);
        self
    }

    /// Sets the feature values per batch.
    pub fn features(mut self, features: u32) -> Self {
        self.features = features;
        self
    }

    /// Sets the pool size of executors that have one.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets fresh or pooled connections.
    pub fn connections(mut self, connections: Connections) -> Self {
        self.connections = connections;
        self
    }

    /// Caps the number of concurrent requests.
    pub fn max_in_flight(mut self, max_in_flight: Option<usize>) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// Turns the emulated GIL on or off.
    pub fn gil(mut self, gil: bool) -> Self {
        self.gil = gil;
        self
    }

    /// The batch ids of this workload, `0..batches`.
    pub fn batch_ids(&self) -> impl Iterator<Item = u64> + use<> {
        0..u64::from(self.batches)
    }

    /// Requests allowed in flight at once: `max_in_flight`, at most `batches`.
    pub fn in_flight_limit(&self) -> usize {
        let batches = self.batches as usize;
        self.max_in_flight
            .map_or(batches, |cap| cap.min(batches))
            .max(1)
    }

    /// The longest a run of this workload may take before it is called hung:
    /// every batch, one after another, spending all its attempts on timeouts
    /// and backoffs plus its CPU work, twice over, plus half a minute.
    pub fn deadline(&self) -> std::time::Duration {
        let attempts = u64::from(self.retries) + 1;
        let backoffs: std::time::Duration = (1..=self.retries)
            .map(|attempt| crate::backoff(u64::MAX, attempt) * 2)
            .sum();
        let per_batch_ms =
            attempts * self.timeout_ms + backoffs.as_millis() as u64 + self.cpu_ms.ceil() as u64;
        std::time::Duration::from_millis(30_000 + 2 * u64::from(self.batches) * per_batch_ms)
    }

    /// Checks the parameters that no executor can run with.
    pub fn validate(&self) -> Result<(), Error> {
        if self.batches == 0 {
            return Err(Error::InvalidWorkload("batches must be at least 1".into()));
        }
        if self.workers == 0 {
            return Err(Error::InvalidWorkload("workers must be at least 1".into()));
        }
        if self.features == 0 {
            return Err(Error::InvalidWorkload("features must be at least 1".into()));
        }
        if self.max_in_flight == Some(0) {
            return Err(Error::InvalidWorkload(
                "max-in-flight must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The origin-form request target (path and query) for attempt
    /// `attempt` (0 for the first) of batch `id`. A feature store is told
    /// the attempt, so that its injected faults are the same for every
    /// executor; any other URL is requested as given, `{id}` replaced.
    pub fn request_path(&self, id: u64, attempt: u32) -> String {
        match self.upstream.kind {
            UpstreamKind::FeatureStore => format!(
                "{}/features/{id}?delay_ms={}&n={}&attempt={attempt}",
                self.upstream.store_prefix(),
                self.io_ms,
                self.features
            ),
            UpstreamKind::Template | UpstreamKind::Url => {
                let path = self.upstream.path.replace(ID_PLACEHOLDER, &id.to_string());
                if path.starts_with('/') {
                    path
                } else {
                    // An empty path, or a query straight after the host.
                    format!("/{path}")
                }
            }
        }
    }

    /// The absolute URL of [`Workload::request_path`], for clients that want one.
    pub fn request_url(&self, id: u64, attempt: u32) -> String {
        format!(
            "http://{}{}",
            self.upstream.authority,
            self.request_path(id, attempt)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_store_paths_carry_delay_and_size() {
        let upstream = Upstream::parse("http://127.0.0.1:8080/").unwrap();
        let workload = Workload::new(upstream).io_ms(250).features(16);
        assert_eq!(
            workload.request_path(7, 0),
            "/features/7?delay_ms=250&n=16&attempt=0"
        );
        assert_eq!(
            workload.request_url(7, 2),
            "http://127.0.0.1:8080/features/7?delay_ms=250&n=16&attempt=2"
        );
    }

    #[test]
    fn templates_substitute_the_id() {
        let upstream = Upstream::parse("http://localhost:9/delay/1?x={id}").unwrap();
        assert_eq!(upstream.kind, UpstreamKind::Template);
        assert_eq!(upstream.addr.port(), 9);
        let workload = Workload::new(upstream);
        assert_eq!(workload.request_path(3, 1), "/delay/1?x=3");
    }

    #[test]
    fn plain_urls_are_requested_as_given_for_every_batch() {
        let upstream = Upstream::parse("http://127.0.0.1:9/delay/1/")
            .unwrap()
            .with_kind(UpstreamKind::Url);
        let workload = Workload::new(upstream).io_ms(250);
        assert_eq!(workload.request_path(0, 0), "/delay/1/");
        assert_eq!(workload.request_path(5, 2), "/delay/1/");
        let bare = Upstream::parse("http://127.0.0.1:9?q=1#top")
            .unwrap()
            .with_kind(UpstreamKind::Url);
        assert_eq!(Workload::new(bare).request_path(1, 0), "/?q=1");
    }

    #[test]
    fn kinds_of_other_services_follow_the_placeholder() {
        assert_eq!(
            UpstreamKind::of_other_service("http://h/delay/1"),
            UpstreamKind::Url
        );
        assert_eq!(
            UpstreamKind::of_other_service("http://h/delay/1?b={id}"),
            UpstreamKind::Template
        );
        let store = Upstream::parse("http://127.0.0.1:9/prefix//").unwrap();
        assert_eq!(store.kind, UpstreamKind::FeatureStore);
        assert_eq!(store.store_prefix(), "/prefix");
    }

    #[test]
    fn rejects_https_and_empty_hosts() {
        assert!(Upstream::parse("https://example.com").is_err());
        assert!(Upstream::parse("http:///x").is_err());
    }

    #[test]
    fn default_port_is_80() {
        let upstream = Upstream::parse("http://127.0.0.1/delay/{id}").unwrap();
        assert_eq!(upstream.addr.port(), 80);
        assert_eq!(upstream.authority, "127.0.0.1");
    }
}
