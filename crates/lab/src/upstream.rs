//! The upstream of a run: an external URL, or an embedded feature store in a child process.
//!
//! The embedded store runs as a separate process (this binary, re-executed
//! as `serve-features`) so that its CPU time, memory and sockets are not
//! charged to the executor under test. The child prints one readiness line
//! with its address; the parent reads it (no sleeping), and stops the child
//! when the run ends, whether it succeeds, fails or panics. If the parent is
//! killed outright, the kernel sends the child SIGTERM (`PR_SET_PDEATHSIG`).

use anyhow::{Context, bail};
use pipeline::{BatchError, UpstreamKind};
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The prefix of the readiness line; the bound address follows it.
pub const READY_PREFIX: &str = "feature store listening on http://";

/// Where a run fetches from; dropping it stops an embedded store.
pub enum Upstream {
    /// A URL given with `--upstream`, parsed, resolved, and of the kind its
    /// probe found.
    External(pipeline::Upstream),
    /// A feature store child process.
    Embedded {
        /// The `serve-features` process.
        child: Child,
        /// Its base URL, from its readiness line.
        url: String,
    },
}

/// How long the probe of an external upstream may wait.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTimeouts {
    /// For the connection and for `GET /health`, which any server answers at once.
    pub connect: Duration,
    /// For the request of a URL that is not a feature store: the run's own
    /// per-request timeout, since the URL may take its time as every batch will.
    pub request: Duration,
}

impl Upstream {
    /// Uses `url` as it is (a feature store's base unless it holds `{id}`,
    /// unprobed), or starts an embedded feature store on 127.0.0.1 when there is none.
    pub fn start(url: Option<&str>) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Upstream::External(
                pipeline::Upstream::parse(url).map_err(|err| UsageError(err.to_string()))?,
            )),
            None => Self::start_with(&[]),
        }
    }

    /// The upstream of a run or sweep: checks the fault flags (bad rates, or
    /// faults with an external URL, are usage errors), then probes an
    /// external URL to decide its kind (see [`probe`]) unless `known_kind`
    /// says it (a sweep probes once and tells its runs), or starts an
    /// embedded store with the faults.
    pub fn prepare(
        url: Option<&str>,
        known_kind: Option<UpstreamKind>,
        faults: &crate::args::FaultArgs,
        timeouts: ProbeTimeouts,
    ) -> anyhow::Result<Self> {
        faults.faults().validate().map_err(UsageError)?;
        match url {
            Some(_) if faults.any() => Err(UsageError(
                "fault flags configure the embedded feature store; they cannot be combined with --upstream".into(),
            )
            .into()),
            Some(url) => match known_kind {
                Some(kind) => Ok(Upstream::External(
                    pipeline::Upstream::parse(url)
                        .map_err(|err| UsageError(err.to_string()))?
                        .with_kind(kind),
                )),
                None => Ok(Upstream::External(probe(url, timeouts)?)),
            },
            None => Self::start_with(&faults.to_args()),
        }
    }

    /// Starts an embedded feature store (this binary), passing `store_args`
    /// (fault flags) to it.
    pub fn start_with(store_args: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the runtime-lab binary")?;
        Self::embedded_with(&exe, store_args)
    }

    /// Starts `program serve-features` as a child and waits for its readiness
    /// line. `program` is the `runtime-lab` binary (benches and tests, whose
    /// own executable is not it, pass `env!("CARGO_BIN_EXE_runtime-lab")`).
    pub fn embedded(program: &Path) -> anyhow::Result<Self> {
        Self::embedded_with(program, &[])
    }

    /// Like [`Upstream::embedded`], with extra `serve-features` arguments.
    pub fn embedded_with(program: &Path, store_args: &[String]) -> anyhow::Result<Self> {
        let mut child = Command::new(program)
            .args([
                "serve-features",
                "--addr",
                "127.0.0.1:0",
                "--exit-with-parent",
            ])
            .args(store_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start the embedded feature store ({})",
                    program.display()
                )
            })?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        match read {
            Ok(_) if line.starts_with(READY_PREFIX) => {
                let url = format!("http://{}", line[READY_PREFIX.len()..].trim());
                Ok(Upstream::Embedded { child, url })
            }
            _ => {
                let _ = child.kill();
                let status = child.wait();
                bail!("the embedded feature store did not start (said {line:?}, exit {status:?})")
            }
        }
    }

    /// The URL to fetch from: a store's base, a template or a plain URL.
    pub fn url(&self) -> &str {
        match self {
            Upstream::External(upstream) => &upstream.url,
            Upstream::Embedded { url, .. } => url,
        }
    }

    /// What the upstream is, as decided by the probe (an embedded store is a feature store).
    pub fn kind(&self) -> UpstreamKind {
        match self {
            Upstream::External(upstream) => upstream.kind,
            Upstream::Embedded { .. } => UpstreamKind::FeatureStore,
        }
    }

    /// The upstream as the workload carries it to every executor.
    pub fn target(&self) -> anyhow::Result<pipeline::Upstream> {
        match self {
            Upstream::External(upstream) => Ok(upstream.clone()),
            Upstream::Embedded { url, .. } => Ok(pipeline::Upstream::parse(url)
                .context("the embedded feature store gave a bad url")?
                .with_kind(UpstreamKind::FeatureStore)),
        }
    }

    /// The embedded store's process id.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Upstream::External(_) => None,
            Upstream::Embedded { child, .. } => Some(child.id()),
        }
    }

    /// CPU time (user + system) the embedded store has used so far.
    pub fn cpu_ms(&self) -> Option<f64> {
        process_cpu_ms(self.pid()?)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Upstream::Embedded { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Probes an external upstream before the run and decides what it is, so
/// that a wrong URL is a clear error (exit 2) rather than a run of failed
/// batches, and so that the decision is made once, here, for every executor.
///
/// 1. The host must accept a TCP connection within `timeouts.connect`.
/// 2. A URL with `{id}` is a [`UpstreamKind::Template`]. Any other URL is a
///    feature store's base if `GET <its path>/health` answers as a store
///    does (a JSON body whose `service` is [`feature_store::HEALTH_SERVICE`]),
///    and a plain [`UpstreamKind::Url`] otherwise.
/// 3. A template or a plain URL is requested once, as batch 0 will be, with
///    exactly the run's request: a 4xx answer is an error, with a hint when
///    `{id}` or the path is the likely cause; a 5xx is only a warning, since
///    the run retries and counts server errors as failed batches.
pub fn probe(url: &str, timeouts: ProbeTimeouts) -> anyhow::Result<pipeline::Upstream> {
    let upstream = pipeline::Upstream::parse(url).map_err(|err| UsageError(err.to_string()))?;
    let addr = upstream.addr;
    let timeout = timeouts.connect;
    TcpStream::connect_timeout(&addr, timeout).map_err(|err| {
        UsageError(match err.kind() {
            ErrorKind::ConnectionRefused => {
                format!("upstream {url} refused the connection ({addr})")
            }
            ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                format!("upstream {url} did not accept a connection within {timeout:?}")
            }
            _ => format!("cannot connect to upstream {url} ({addr}): {err}"),
        })
    })?;
    let not_http =
        |detail: String| UsageError(format!("upstream {url} is not an HTTP server: {detail}"));

    let kind = UpstreamKind::of_other_service(url);
    if kind == UpstreamKind::Url && !upstream.path.contains('?') {
        let health = pipeline::Upstream {
            url: format!(
                "http://{}{}/health",
                upstream.authority,
                upstream.store_prefix()
            ),
            path: format!("{}/health", upstream.store_prefix()),
            ..upstream.clone()
        }
        .with_kind(UpstreamKind::Url);
        match fetch_first(health, timeout) {
            Ok(body) if is_feature_store_health(&body, &upstream, timeout) => {
                return Ok(upstream.with_kind(UpstreamKind::FeatureStore));
            }
            Err(BatchError::Http(detail)) => return Err(not_http(detail).into()),
            Err(BatchError::Connect(detail)) => {
                return Err(
                    UsageError(format!("cannot connect to upstream {url}: {detail}")).into(),
                );
            }
            // Anything else answered, or took its time, and is not a store:
            // the URL itself is probed next.
            _ => {}
        }
    }

    let upstream = upstream.with_kind(kind);
    let target = pipeline::Workload::new(upstream.clone()).request_path(0, 0);
    let request = timeouts.request.max(timeout);
    match fetch_first(upstream.clone(), request) {
        Ok(_) => Ok(upstream),
        Err(BatchError::Status(status)) if (400..500).contains(&status) => Err(UsageError(format!(
            "upstream {url} answered GET {target} with status {status}{}",
            client_error_hint(&upstream, status)
        ))
        .into()),
        Err(BatchError::Status(status)) => {
            eprintln!(
                "warning: upstream {url} answered GET {target} with status {status}; the run goes on and counts such answers as failed batches"
            );
            Ok(upstream)
        }
        Err(BatchError::Http(detail)) => Err(not_http(detail).into()),
        Err(BatchError::Timeout(ms)) => Err(UsageError(format!(
            "upstream {url} did not answer GET {target} within {ms} ms (the per-request timeout; raise it with --timeout-ms)"
        ))
        .into()),
        Err(error) => Err(UsageError(format!("upstream {url}, GET {target}: {error}")).into()),
    }
}

/// One request for batch 0 of a one-batch workload against `upstream`,
/// without retries: exactly what the run's first request will send.
fn fetch_first(upstream: pipeline::Upstream, timeout: Duration) -> Result<Vec<u8>, BatchError> {
    let workload = pipeline::Workload::new(upstream)
        .batches(1)
        .io_ms(0)
        .retries(0)
        .timeout_ms(
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
    pipeline::BlockingFetcher::new(&workload).fetch(0)
}

/// Whether a `/health` body is a runtime-lab feature store's: it names the
/// store as its service, or, from a store built before it did (a bare
/// `{"status":"ok"}`), the store's own route answers batch 0.
fn is_feature_store_health(body: &[u8], upstream: &pipeline::Upstream, timeout: Duration) -> bool {
    let Ok(health) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    if health["service"] == feature_store::HEALTH_SERVICE {
        return true;
    }
    if health != serde_json::json!({ "status": "ok" }) {
        return false;
    }
    let store = upstream.clone().with_kind(UpstreamKind::FeatureStore);
    fetch_first(store, timeout)
        .ok()
        .and_then(|batch| serde_json::from_slice::<serde_json::Value>(&batch).ok())
        .is_some_and(|batch| {
            batch["id"] == 0 && batch["values"].as_array().is_some_and(|v| !v.is_empty())
        })
}

/// Why a URL that is not a feature store may have answered 4xx, for the error message.
fn client_error_hint(upstream: &pipeline::Upstream, status: u16) -> String {
    if upstream.kind == UpstreamKind::Template {
        return format!(
            "; hint: {} is replaced by the batch id (0 in this probe, up to N - 1 in the run): check that the service accepts a number where it stands",
            pipeline::ID_PLACEHOLDER
        );
    }
    let path = upstream.path.split('?').next().unwrap_or("");
    if path.is_empty() || path == "/" {
        format!(
            "; hint: give the path of an endpoint, as in http://{}/delay/1",
            upstream.authority
        )
    } else if status == 404 || status == 405 {
        format!(
            "; hint: the URL is requested exactly as given for every batch ({path}/health did not answer as a runtime-lab feature store, so it is not taken as a store's base): check the path"
        )
    } else {
        String::new()
    }
}

/// Bad input from the command line or about the environment: `runtime-lab`
/// exits with code 2, as it does for flags that clap rejects.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Makes the kernel send this process SIGTERM when its parent dies.
pub fn exit_with_parent() -> anyhow::Result<()> {
    let parent = nix::unistd::getppid();
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .context("cannot set the parent-death signal")?;
    // The parent may have died before the signal was armed.
    if nix::unistd::getppid() != parent {
        std::process::exit(0);
    }
    Ok(())
}

/// CPU time (user + system, all its threads) process `pid` has used so far,
/// in milliseconds; `None` when it cannot be read (the process is gone).
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    let stat = procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .stat()
        .ok()?;
    Some((stat.utime + stat.stime) as f64 * 1e3 / procfs::ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> pipeline::Upstream {
        pipeline::Upstream::parse(url)
            .unwrap()
            .with_kind(UpstreamKind::of_other_service(url))
    }

    #[test]
    fn only_the_stores_health_makes_a_feature_store() {
        // None of these needs the network: the port is never contacted.
        let any = upstream("http://127.0.0.1:9");
        let second = Duration::from_secs(1);
        let store = serde_json::json!({ "status": "ok", "service": feature_store::HEALTH_SERVICE });
        assert!(is_feature_store_health(
            store.to_string().as_bytes(),
            &any,
            second
        ));
        assert!(!is_feature_store_health(b"<html>ok</html>", &any, second));
        assert!(!is_feature_store_health(
            br#"{"status":"ok","db":"up"}"#,
            &any,
            second
        ));
    }

    #[test]
    fn client_errors_get_a_hint_for_the_likely_cause() {
        let template = upstream("http://127.0.0.1:9/items/{id}");
        assert!(client_error_hint(&template, 404).contains("{id} is replaced"));
        let path = upstream("http://127.0.0.1:9/dealy/1");
        assert!(client_error_hint(&path, 404).contains("/dealy/1/health"));
        let bare = upstream("http://127.0.0.1:9");
        assert!(client_error_hint(&bare, 404).contains("/delay/1"));
        assert_eq!(client_error_hint(&path, 401), "");
    }
}
