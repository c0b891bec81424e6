//! The upstream of a run: an external URL, or an embedded feature store in a child process.
//!
//! The embedded store runs as a separate process (this binary, re-executed
//! as `serve-features`) so that its CPU time, memory and sockets are not
//! charged to the executor under test. The child prints one readiness line
//! with its address; the parent reads it (no sleeping), and stops the child
//! when the run ends, whether it succeeds, fails or panics. If the parent is
//! killed outright, the kernel sends the child SIGTERM (`PR_SET_PDEATHSIG`).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The prefix of the readiness line; the bound address follows it.
pub const READY_PREFIX: &str = "feature store listening on http://";

/// Where a run fetches from; dropping it stops an embedded store.
pub enum Upstream {
    /// A URL given with `--upstream`.
    External(String),
    /// A feature store child process.
    Embedded {
        /// The `serve-features` process.
        child: Child,
        /// Its base URL, from its readiness line.
        url: String,
    },
}

impl Upstream {
    /// Uses `url`, or starts an embedded feature store on 127.0.0.1 when there is none.
    pub fn start(url: Option<&str>) -> anyhow::Result<Self> {
        Self::start_with(url, &[])
    }

    /// The upstream of a run or sweep: checks the fault flags (bad rates, or
    /// faults with an external URL, are usage errors), probes an external
    /// URL within `probe_timeout`, or starts an embedded store with the faults.
    pub fn prepare(
        url: Option<&str>,
        faults: &crate::cli::FaultArgs,
        probe_timeout: Duration,
    ) -> anyhow::Result<Self> {
        faults.faults().validate().map_err(UsageError)?;
        if let Some(url) = url {
            if faults.any() {
                return Err(UsageError(
                    "fault flags configure the embedded feature store; they cannot be combined with --upstream".into(),
                )
                .into());
            }
            probe(url, probe_timeout)?;
        }
        Self::start_with(url, &faults.to_args())
    }

    /// Like [`Upstream::start`], passing `store_args` (fault flags) to an embedded store.
    pub fn start_with(url: Option<&str>, store_args: &[String]) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Upstream::External(url.to_owned())),
            None => {
                let exe = std::env::current_exe().context("cannot find the runtime-lab binary")?;
                Self::embedded_with(&exe, store_args)
            }
        }
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

    /// The base URL to fetch from.
    pub fn url(&self) -> &str {
        match self {
            Upstream::External(url) | Upstream::Embedded { url, .. } => url,
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
        let pid = self.pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the line, in clock ticks.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        Some(ticks as f64 * 1e3 / ticks_per_second as f64)
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

/// Checks that an external upstream accepts connections and speaks HTTP,
/// within `timeout`, so that a wrong URL is a clear error before the run
/// rather than a run of failed batches.
pub fn probe(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let upstream = pipeline::Upstream::parse(url).map_err(|err| UsageError(err.to_string()))?;
    let addr = upstream.addr;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|err| {
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
    stream
        .set_read_timeout(Some(timeout))
        .context("cannot set a read timeout")?;
    stream
        .set_write_timeout(Some(timeout))
        .context("cannot set a write timeout")?;
    let request = format!(
        "HEAD / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        upstream.authority
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|err| not_http(format!("cannot send a request: {err}")))?;
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).map_err(|err| {
        not_http(match err.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => format!("no answer within {timeout:?}"),
            _ => format!("no HTTP answer ({err})"),
        })
    })?;
    if &head != b"HTTP/" {
        return Err(not_http(format!("it answered {:?}", String::from_utf8_lossy(&head))).into());
    }
    Ok(())
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
