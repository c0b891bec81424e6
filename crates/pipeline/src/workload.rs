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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamKind {
    /// A runtime-lab feature store: `GET {base}/features/{id}?delay_ms=D&n=K`.
    FeatureStore,
    /// Any HTTP service, addressed by a URL template containing `{id}`;
    /// the response bytes are preprocessed as they are.
    Template,
}

/// Where batches are fetched from.
///
/// The host is resolved once, when the upstream is parsed, so that no
/// executor spends its run time in a resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The URL as given (base or template).
    pub url: String,
    /// Feature store or template.
    pub kind: UpstreamKind,
    /// The resolved socket address to connect to.
    pub addr: SocketAddr,
    /// The value of the `Host` header (`host:port`).
    pub authority: String,
    /// The path part of the URL: a prefix for a feature store, a template with `{id}` otherwise.
    pub path: String,
}

impl Upstream {
    /// Parses `http://host:port[/prefix]` (a feature store) or a URL
    /// containing `{id}` (any other HTTP service), and resolves its host.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUpstream {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only plain http:// upstreams are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(invalid("missing host"));
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
        let kind = if url.contains("{id}") {
            UpstreamKind::Template
        } else {
            UpstreamKind::FeatureStore
        };
        Ok(Upstream {
            url: url.to_owned(),
            kind,
            addr,
            authority: authority.to_owned(),
            path: path.trim_end_matches('/').to_owned(),
        })
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
            upstream,
        }
    }

    /// Sets the batch count.
    pub fn batches(mut self, batches: u32) -> Self {
        self.batches = batches;
        self
    }

    /// Sets the upstream delay per request.
    pub fn io_ms(mut self, io_ms: u64) -> Self {
        self.io_ms = io_ms;
        self
    }

    /// Sets the CPU work per batch as a number of kernel rounds, and the
    /// milliseconds it was calibrated for (see [`crate::Calibration`]).
    pub fn cpu(mut self, cpu_ms: f64, cpu_rounds: u64) -> Self {
        self.cpu_ms = cpu_ms;
        self.cpu_rounds = cpu_rounds;
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

    /// The origin-form request target (path and query) for batch `id`.
    pub fn request_path(&self, id: u64) -> String {
        match self.upstream.kind {
            UpstreamKind::FeatureStore => format!(
                "{}/features/{id}?delay_ms={}&n={}",
                self.upstream.path, self.io_ms, self.features
            ),
            UpstreamKind::Template => {
                let path = self.upstream.path.replace("{id}", &id.to_string());
                if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                }
            }
        }
    }

    /// The absolute URL for batch `id`, for clients that want one.
    pub fn request_url(&self, id: u64) -> String {
        format!(
            "http://{}{}",
            self.upstream.authority,
            self.request_path(id)
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
        assert_eq!(workload.request_path(7), "/features/7?delay_ms=250&n=16");
        assert_eq!(
            workload.request_url(7),
            "http://127.0.0.1:8080/features/7?delay_ms=250&n=16"
        );
    }

    #[test]
    fn templates_substitute_the_id() {
        let upstream = Upstream::parse("http://localhost:9/delay/1?x={id}").unwrap();
        assert_eq!(upstream.kind, UpstreamKind::Template);
        assert_eq!(upstream.addr.port(), 9);
        let workload = Workload::new(upstream);
        assert_eq!(workload.request_path(3), "/delay/1?x=3");
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
