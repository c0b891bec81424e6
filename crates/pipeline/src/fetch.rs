//! The blocking fetch path, shared by every executor that blocks a thread per request.

use crate::{BatchError, Connections, MAX_BODY_BYTES, Workload};
use std::time::Duration;

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
        BlockingFetcher {
            agent: ureq::Agent::new_with_config(config),
            workload: workload.clone(),
        }
    }

    /// Fetches batch `id` and returns the response body, retrying transient
    /// failures as the workload allows (see [`crate::is_retryable`]).
    pub fn fetch(&self, id: u64) -> Result<Vec<u8>, BatchError> {
        self.fetch_counting_retries(id).0
    }

    /// Like [`BlockingFetcher::fetch`], and also says how many retries it
    /// took, for executors that report retries made in another process.
    pub fn fetch_counting_retries(&self, id: u64) -> (Result<Vec<u8>, BatchError>, u32) {
        crate::retry::with_retries(&self.workload, id, |attempt| self.fetch_once(id, attempt))
    }

    fn fetch_once(&self, id: u64, attempt: u32) -> Result<Vec<u8>, BatchError> {
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
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(BatchError::Status(status));
        }
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
        Ok(crate::wire::decode_content(encoding, &body)?.unwrap_or(body))
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
