//! Measuring one server: start `runtime-lab serve` as a child, drive it with
//! `runtime-lab load --json` as another child, and read the server's CPU
//! time and peak memory from /proc, over its whole process tree (a
//! multi-process server is a parent and W children).
//!
//! Every child is bounded in time: a server that does not get ready, a load
//! that does not end, or a server that ignores SIGTERM becomes an error
//! string and is killed, never a hung sweep.

use super::plan::Server;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to print its readiness line (32 processes
/// starting on 2 busy cores included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The same for a server baseline: 32 Python interpreters importing their
/// packages on 2 cores take longer.
const BASELINE_READY_TIMEOUT: Duration = Duration::from_secs(200);

/// How long a server may take to exit after SIGTERM before it is killed
/// (longer than `serve` gives a baseline's workers to stop).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The environment variable that sizes async-std's global executor.
pub const ASYNC_STD_THREADS: &str = "ASYNC_STD_THREAD_COUNT";

/// What every server and load of a sweep share.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The `runtime-lab` binary.
    pub program: PathBuf,
    /// The feature store's URL.
    pub upstream: String,
    /// Its kind, probed once for the whole sweep.
    pub upstream_kind: pipeline::UpstreamKind,
    /// Upstream delay per fetch.
    pub io_ms: u64,
    /// CPU time per request, and its calibrated kernel rounds.
    pub cpu_ms: u64,
    /// Kernel rounds per request (one batch per request).
    pub cpu_rounds: u64,
}

/// A `runtime-lab serve` child; killed on drop if it still runs.
pub struct ServerChild {
    child: Child,
    /// Whether it serves a baseline, whose own processes are the children
    /// of `runtime-lab serve`.
    baseline: bool,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerChild {
    /// Starts `server` against the sweep's feature store and waits for its readiness line.
    pub fn start(tools: &Tools, server: &Server) -> Result<Self, String> {
        let mut command = Command::new(&tools.program);
        command
            .args(["serve", "--executor", server.executor])
            .args(["--workers", &server.workers.to_string()])
            .args(["--addr", "127.0.0.1:0", "--upstream", &tools.upstream])
            .args(["--upstream-kind", tools.upstream_kind.as_str()])
            .args(["--io-ms", &tools.io_ms.to_string()])
            .args(["--cpu-ms", &tools.cpu_ms.to_string()]);
        // A baseline calibrates its own kernel, in its own language, from --cpu-ms.
        let baseline = lab::baselines::find(server.executor).is_some();
        if !baseline {
            command.args(["--cpu-rounds", &tools.cpu_rounds.to_string()]);
        }
        if server.gil {
            command.arg("--gil");
        }
        // async-std's global executor sizes itself once, from this variable
        // (one thread per core when unset), not from --workers: set it, so
        // that its W is the W of the x axis. Every other server ignores it.
        command.env(ASYNC_STD_THREADS, server.workers.to_string());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", tools.program.display()))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let ready_timeout = if baseline {
            BASELINE_READY_TIMEOUT
        } else {
            READY_TIMEOUT
        };
        let line = receiver.recv_timeout(ready_timeout).unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix(pipeline::serve::READY_PREFIX)
            .and_then(|addr| addr.parse().ok());
        match addr {
            Some(addr) => Ok(ServerChild {
                child,
                baseline,
                addr,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                Err(format!(
                    "the server did not get ready (said {line:?}; {})",
                    stderr.trim()
                ))
            }
        }
    }

    /// CPU time and peak memory of the server's process tree so far.
    ///
    /// For a baseline, only the baseline's processes count: the
    /// `runtime-lab serve` that started it only waits for a signal, and is
    /// no part of the server measured.
    pub fn usage(&self) -> TreeUsage {
        TreeUsage::of(self.child.id() as i32, !self.baseline)
    }

    /// Stops the server with SIGTERM, and kills it if it does not exit in time.
    pub fn stop(mut self) -> Result<(), String> {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server exited with {status} on SIGTERM"))
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "the server ignored SIGTERM for {STOP_TIMEOUT:?} and was killed"
        ))
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time and memory of a process and all its descendants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeUsage {
    /// User plus system CPU time, all processes together.
    pub cpu_ms: f64,
    /// The sum of every process's peak resident memory (`VmHWM`).
    pub peak_rss_kb: u64,
    /// The sum of every process's resident memory now (`VmRSS`).
    #[serde(default)]
    pub rss_kb: u64,
    /// Processes in the tree.
    pub processes: u32,
}

impl TreeUsage {
    /// Reads `/proc` for `root` (unless `with_root` is false) and its
    /// descendants; processes that exit while it reads are skipped.
    pub fn of(root: i32, with_root: bool) -> Self {
        let ticks_per_ms = procfs::ticks_per_second() as f64 / 1e3;
        let processes: Vec<procfs::process::Process> = procfs::process::all_processes()
            .map(|all| all.flatten().collect())
            .unwrap_or_default();
        let parents: Vec<(i32, i32)> = processes
            .iter()
            .filter_map(|process| Some((process.pid, process.stat().ok()?.ppid)))
            .collect();
        let mut tree = vec![root];
        let mut index = 0;
        while index < tree.len() {
            let parent = tree[index];
            tree.extend(
                parents
                    .iter()
                    .filter(|(_, p)| *p == parent)
                    .map(|(pid, _)| *pid),
            );
            index += 1;
        }
        let mut usage = TreeUsage::default();
        for pid in tree.into_iter().skip(usize::from(!with_root)) {
            let Ok(process) = procfs::process::Process::new(pid) else {
                continue;
            };
            if let Ok(stat) = process.stat() {
                usage.cpu_ms += (stat.utime + stat.stime) as f64 / ticks_per_ms;
                usage.processes += 1;
            }
            if let Ok(status) = process.status() {
                usage.peak_rss_kb += status.vmhwm.unwrap_or(0);
                usage.rss_kb += status.vmrss.unwrap_or(0);
            }
        }
        usage
    }
}

/// How a load probe offers its requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Offer {
    /// `--max`: each connection sends its next request when the last is answered.
    Closed,
    /// `--rate R`: requests at fixed intended start times.
    Open(f64),
}

/// Latency percentiles of a load probe, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    #[serde(default)]
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    #[serde(default)]
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// The part of `runtime-lab load --json` that a sweep uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// The open-loop rate, if any.
    #[serde(default)]
    pub offered_rps: Option<f64>,
    /// Completed requests per second of the measured window.
    pub achieved_rps: f64,
    /// Ok answers that arrived inside the window, per second: the server's
    /// rate of answers (0 from a `load` older than this field).
    #[serde(default)]
    pub answered_rps: f64,
    /// Requests answered 2xx in the measured window.
    pub ok: u64,
    /// Failed requests by kind.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles of the ok requests.
    pub latency_ms: Percentiles,
    /// User CPU time of the load process.
    #[serde(default)]
    pub cpu_user_ms: f64,
    /// System CPU time of the load process.
    #[serde(default)]
    pub cpu_sys_ms: f64,
}

impl LoadResult {
    /// Failed requests of every kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The route of the 80/20 mix that figures 1 to 3 load: `{id}` is each
/// request's number, so that consecutive requests fetch different batches.
pub const PREDICT_ROUTE: &str = "/predict?id={id}";

/// Drives `route` (a path and query, `{id}` replaced by each request's
/// number, e.g. [`PREDICT_ROUTE`]) of the server at `addr` for
/// `warmup + duration` with `connections` keep-alive connections, as a
/// `runtime-lab load --json` child; requests due in the window may complete
/// during `drain` after it.
#[allow(clippy::too_many_arguments)]
pub fn load(
    tools: &Tools,
    addr: SocketAddr,
    route: &str,
    offer: Offer,
    connections: u32,
    warmup: Duration,
    duration: Duration,
    drain: Duration,
) -> Result<LoadResult, String> {
    let mut command = Command::new(&tools.program);
    command
        .args(["load", "--json", "--url", &format!("http://{addr}{route}")])
        .args(["--connections", &connections.to_string()])
        .args(["--warmup", &warmup.as_secs_f64().to_string()])
        .args(["--duration", &duration.as_secs_f64().to_string()])
        .args(["--drain", &drain.as_secs_f64().to_string()]);
    match offer {
        Offer::Closed => command.arg("--max"),
        Offer::Open(rate) => command.args(["--rate", &format!("{rate:.1}")]),
    };
    let timeout = warmup + duration + drain + Duration::from_secs(60);
    let output = run_bounded(command, timeout)?;
    serde_json::from_str(output.trim())
        .map_err(|error| format!("load printed no report ({error}): {}", output.trim()))
}

/// Runs `command` to completion within `timeout`, and returns its stdout;
/// a failure carries its stderr.
fn run_bounded(mut command: Command, timeout: Duration) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start {command:?}: {error}"))?;
    // Both pipes are drained on their own threads, so that a chatty child
    // cannot block on a full pipe while this thread waits for the deadline.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("killed after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!("exit {status}: {}", stderr.trim()))
    }
}
