//! Errors of the pipeline core.

/// An error that stops a whole run before or while it starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The upstream URL could not be parsed or is not supported.
    #[error("invalid upstream url {url:?}: {reason}")]
    InvalidUpstream {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The upstream host name did not resolve to an address.
    #[error("cannot resolve upstream host {host:?}")]
    Resolve {
        /// The host and port that failed to resolve.
        host: String,
        /// The underlying resolver error.
        #[source]
        source: std::io::Error,
    },
    /// The workload's parameters are inconsistent.
    #[error("invalid workload: {0}")]
    InvalidWorkload(String),
}

/// Why one batch failed; the run goes on and counts it in `failed`.
///
/// It is serializable so that a worker process can send it across a pipe unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum BatchError {
    /// The TCP connection to the upstream could not be opened.
    #[error("connect failed: {0}")]
    Connect(String),
    /// No complete answer within the per-request timeout (milliseconds).
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The HTTP exchange failed (reset, protocol error, closed early).
    #[error("http error: {0}")]
    Http(String),
    /// The upstream answered with a non-success status.
    #[error("upstream answered status {0}")]
    Status(u16),
    /// The response body was larger than [`crate::MAX_BODY_BYTES`].
    #[error("response body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The response was not the feature batch that was asked for.
    #[error("malformed feature batch: {0}")]
    Decode(String),
    /// The executor lost the batch (a worker died or a task panicked).
    #[error("worker lost: {0}")]
    WorkerLost(String),
}

impl BatchError {
    /// A short name of the error's kind, for grouping in reports.
    pub fn kind(&self) -> &'static str {
        match self {
            BatchError::Connect(_) => "connect",
            BatchError::Timeout(_) => "timeout",
            BatchError::Http(_) => "http",
            BatchError::Status(_) => "status",
            BatchError::BodyTooLarge(_) => "body-too-large",
            BatchError::Decode(_) => "decode",
            BatchError::WorkerLost(_) => "worker-lost",
        }
    }
}
