//! `runtime-lab serve`: one serving model behind an HTTP port, fed by a feature store.
//!
//! The executor crates own the servers (`exec_tokio::serve` and its
//! siblings); this module only prepares what they share: the port (checked
//! before anything starts, so a port in use is a usage error), the upstream
//! (an embedded feature store child, or `--upstream`), one calibration, the
//! signal handling, the readiness line, and, for the models that are several
//! processes on one port (`tokio-ct --workers W`, `processes`), the child
//! processes themselves. Each child is this binary again with
//! `--prefork-child`: it listens on the same port with `SO_REUSEPORT`, uses
//! the parent's feature store and calibration, and has a GIL of its own.
//!
//! A server baseline (`py-uvicorn`, `py-gunicorn`, `go-nethttp`, `go-gin`) is served
//! the same way from the outside: the same port check, upstream and
//! readiness line, with the baseline's own program as the one child, which
//! gets SIGTERM when `serve` is told to stop and is reaped however `serve`
//! ends; its worker processes are its own to start and stop.

use anyhow::{Context, bail};
use lab::args::{FaultArgs, ServeArgs};
use lab::baselines::{self, Configured};
use lab::executors::{self, Serve};
use lab::limits;
use lab::upstream::{self, Upstream, UsageError};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pipeline::Workload;
use pipeline::serve::{Control, READY_PREFIX, reuseport_listener};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long `serve` waits for an external upstream to answer its probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a multi-process server looks for a child that died.
const CHILD_POLL: Duration = Duration::from_millis(200);

/// Runs `runtime-lab serve` until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    if let Some(baseline) = baselines::resolve(&args.executor) {
        return serve_baseline(args, &baseline?);
    }
    let executor = executors::find(&args.executor)?;
    let Some(serve) = executor.serve.as_ref() else {
        return Err(UsageError(format!(
            "{} is not a serving model; serve one of: {}, or the server baselines {}",
            executor.name,
            executors::serving_names().join(", "),
            baselines::names_of(baselines::Role::Server).join(", ")
        ))
        .into());
    };
    if args.prefork_child {
        return serve_as_child(args, serve);
    }
    let addr = free_addr(args)?;
    // Every keep-alive connection holds a descriptor.
    limits::raise_open_file_limit();
    let upstream = prepare_upstream(args)?;
    let workload = args.workload(upstream.target()?)?;
    let control = Control::new();
    stop_on_signals(&control)?;
    match (serve.processes)(workload.workers) {
        0 => {
            let listener = listen(addr)?;
            announce_when_ready(&control, addr);
            (serve.run)(listener, &workload, &control)
        }
        processes => serve_with_children(args, &workload, &upstream, addr, processes, &control),
    }
}

/// The address to serve on: `--addr`, its port picked when it is 0, checked
/// to be free before anything starts.
fn free_addr(args: &ServeArgs) -> Result<SocketAddr, UsageError> {
    // A plain bind fails on a port that any other socket holds, even one
    // with SO_REUSEPORT, which the servers' own binds would share.
    TcpListener::bind(args.addr)
        .and_then(|probe| probe.local_addr())
        .map_err(|error| UsageError(format!("cannot listen on {}: {error}", args.addr)))
}

/// How long a server baseline may take to print its readiness line: a
/// Python server with 32 workers imports its packages 32 times on 2 cores.
const BASELINE_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// How long a server baseline may take to stop its workers after SIGTERM.
const BASELINE_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves a server baseline as the one child process: it listens on the
/// checked port, and its readiness line becomes this server's.
fn serve_baseline(args: &ServeArgs, baseline: &Configured) -> anyhow::Result<()> {
    baseline.check_serve(args)?;
    let addr = free_addr(args)?;
    limits::raise_open_file_limit();
    let upstream = prepare_upstream(args)?;
    if upstream.kind() == pipeline::UpstreamKind::Url {
        return Err(UsageError(format!(
            "baseline {}: --upstream {} is neither a feature store nor a template with {{id}}, and a baseline takes only those",
            baseline.name,
            upstream.url()
        ))
        .into());
    }
    let control = Control::new();
    stop_on_signals(&control)?;
    let child = baseline
        .serve_command(args, addr, upstream.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start baseline {}", baseline.name))?;
    let mut children = Children {
        processes: vec![child],
        stop_timeout: BASELINE_STOP_TIMEOUT,
    };
    let stdout = children.processes[0]
        .stdout
        .take()
        .expect("stdout was piped");
    // The first line comes back here; anything the baseline prints after it
    // goes to stderr, so that it never blocks on a full pipe.
    let (sender, lines) = mpsc::channel();
    std::thread::Builder::new()
        .name("baseline-stdout".into())
        .spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = sender.send(line);
            for line in stdout.lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        })
        .context("cannot start the thread that reads the baseline's output")?;
    let deadline = std::time::Instant::now() + BASELINE_READY_TIMEOUT;
    let line = loop {
        match lines.recv_timeout(CHILD_POLL) {
            Ok(line) => break line,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("baseline {} said nothing", baseline.name)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if control.is_stopped() {
                    return Ok(());
                }
                if std::time::Instant::now() > deadline {
                    bail!(
                        "baseline {} did not get ready within {} s",
                        baseline.name,
                        BASELINE_READY_TIMEOUT.as_secs()
                    );
                }
            }
        }
    };
    if !line.starts_with(READY_PREFIX) {
        let status = children.processes[0].wait().ok();
        bail!(
            "baseline {} did not start (said {line:?}; {})",
            baseline.name,
            status.map_or("still running".to_owned(), |status| status.to_string())
        );
    }
    let runtime = BaselineRuntime::of(baseline, &line)?;
    announce(addr);
    if let Some(runtime) = runtime {
        eprintln!("{}", runtime.describe(baseline));
    }
    while !control.wait_stopped(CHILD_POLL) {
        if let Ok(Some(status)) = children.processes[0].try_wait() {
            bail!("baseline {} exited ({status})", baseline.name);
        }
    }
    Ok(())
}

/// What a Python server baseline says about its runtime after the address
/// on its readiness line (a JSON object), measured once every process had
/// imported its packages.
#[derive(Debug)]
struct BaselineRuntime {
    /// The interpreter, e.g. `CPython 3.13.5t`.
    interpreter: String,
    /// Whether `sys._is_gil_enabled()` was true in any of its processes.
    gil_enabled: bool,
    /// Its processes that reported.
    processes: u32,
}

impl BaselineRuntime {
    /// The runtime on a baseline's readiness line `line`: required of a
    /// Python baseline, absent for a Go one.
    fn of(baseline: &Configured, line: &str) -> anyhow::Result<Option<Self>> {
        let rest = line.trim().strip_prefix(READY_PREFIX).unwrap_or_default();
        let said = rest.split_once(' ').map(|(_, said)| said.trim());
        match (baseline.interpreter, said) {
            (None, _) => Ok(None),
            (Some(_), Some(said)) => {
                let said: serde_json::Value = serde_json::from_str(said).unwrap_or_default();
                let runtime = said["interpreter"].as_str().and_then(|interpreter| {
                    Some(BaselineRuntime {
                        interpreter: interpreter.to_owned(),
                        gil_enabled: said["gil_enabled"].as_bool()?,
                        processes: u32::try_from(said["processes"].as_u64()?).ok()?,
                    })
                });
                match runtime {
                    Some(runtime) => Ok(Some(runtime)),
                    None => bail!(
                        "baseline {}'s readiness line does not say its runtime (interpreter, gil_enabled, processes): {line:?}",
                        baseline.name
                    ),
                }
            }
            (Some(_), None) => bail!(
                "baseline {}'s readiness line does not say its interpreter and GIL: {line:?}",
                baseline.name
            ),
        }
    }

    /// The line `serve` prints on stderr once the baseline is ready, with a
    /// warning when a free-threaded interpreter ran with the GIL.
    fn describe(&self, baseline: &Configured) -> String {
        let mut line = format!(
            "baseline {}: interpreter {}, gil_enabled {} ({} process{})",
            baseline.name,
            self.interpreter,
            self.gil_enabled,
            self.processes,
            if self.processes == 1 { "" } else { "es" }
        );
        if self.gil_enabled && baseline.interpreter.is_some_and(|i| i.free_threaded) {
            line += "; warning: the GIL is enabled on a free-threaded interpreter (an extension module without free-threading support re-enabled it), so this is not free threading";
        }
        line
    }
}

/// The upstream of `serve`: an embedded feature store, or `--upstream`
/// probed to decide its kind unless `--upstream-kind` says it.
fn prepare_upstream(args: &ServeArgs) -> anyhow::Result<Upstream> {
    let request_ms = pipeline::Workload::default_timeout_ms(args.io_ms, args.fanout, args.cpu_ms);
    let timeouts = upstream::ProbeTimeouts {
        connect: PROBE_TIMEOUT,
        request: Duration::from_millis(request_ms),
    };
    Upstream::prepare(
        args.upstream.as_deref(),
        args.upstream_kind.map(Into::into),
        &FaultArgs::default(),
        timeouts,
    )
}

/// One process of a multi-process server: serve on the parent's port with
/// the parent's upstream and calibration until told to stop.
fn serve_as_child(args: &ServeArgs, serve: &Serve) -> anyhow::Result<()> {
    upstream::exit_with_parent()?;
    if args.upstream.is_none() || args.upstream_kind.is_none() {
        bail!("a server process started by a parent needs its --upstream and --upstream-kind");
    }
    limits::raise_open_file_limit();
    // Told the upstream's kind, this neither probes it nor starts a store.
    let upstream = prepare_upstream(args)?;
    let workload = args.workload(upstream.target()?)?;
    let listener = listen(args.addr)?;
    let control = Control::new();
    stop_on_signals(&control)?;
    announce_when_ready(&control, args.addr);
    (serve.run)(listener, &workload, &control)
}

/// Starts `processes` children on `addr`, announces the server once every
/// child listens, and stops them all when `control` is stopped or one dies.
fn serve_with_children(
    args: &ServeArgs,
    workload: &Workload,
    upstream: &Upstream,
    addr: SocketAddr,
    processes: usize,
    control: &Control,
) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("cannot find the runtime-lab binary")?;
    let mut children = Children {
        processes: Vec::with_capacity(processes),
        stop_timeout: CHILD_STOP_TIMEOUT,
    };
    for index in 0..processes {
        let mut command = Command::new(&program);
        command
            .arg("serve")
            .args(["--executor", &args.executor, "--workers", "1"])
            .args(["--addr", &addr.to_string(), "--upstream", upstream.url()])
            .args(["--upstream-kind", upstream.kind().as_str()])
            .args(["--fanout", &args.fanout.to_string()])
            .args(["--io-ms", &args.io_ms.to_string()])
            .args(["--cpu-ms", &args.cpu_ms.to_string()])
            .args(["--cpu-rounds", &workload.cpu_rounds.to_string()])
            .args(["--features", &args.features.to_string()])
            .args(["--connections", workload.connections.as_str()])
            .arg("--prefork-child");
        if args.gil {
            command.arg("--gil");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start server process {index}"))?;
        children.processes.push(child);
    }
    for (index, child) in children.processes.iter_mut().enumerate() {
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .with_context(|| format!("server process {index} said nothing"))?;
        if !line.starts_with(READY_PREFIX) {
            bail!("server process {index} did not start (said {line:?})");
        }
    }
    announce(addr);
    while !control.wait_stopped(CHILD_POLL) {
        for (index, child) in children.processes.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("server process {index} exited ({status}); stopping the others");
            }
        }
    }
    Ok(())
}

/// How long a child server may take to exit after SIGTERM before it is killed.
const CHILD_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Child server processes, stopped with SIGTERM (SIGKILL if one does not
/// exit in time) and reaped when dropped, so that no process outlives the
/// server, whichever way it ends.
struct Children {
    processes: Vec<Child>,
    /// How long they may take to exit after SIGTERM.
    stop_timeout: Duration,
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &self.processes {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = std::time::Instant::now() + self.stop_timeout;
        for child in &mut self.processes {
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!(
                    "warning: server process {} ignored SIGTERM; killing it",
                    child.id()
                );
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    reuseport_listener(addr)
        .map_err(|error| UsageError(format!("cannot listen on {addr}: {error}")).into())
}

/// Stops `control` on the first SIGINT or SIGTERM.
fn stop_on_signals(control: &Control) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("cannot handle signals")?;
    let control = control.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                control.stop();
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// Prints the readiness line once the server says it is ready.
fn announce_when_ready(control: &Control, addr: SocketAddr) {
    let control = control.clone();
    let spawned = std::thread::Builder::new()
        .name("readiness".into())
        .spawn(move || {
            if control.wait_ready() {
                announce(addr);
            }
        });
    if let Err(error) = spawned {
        eprintln!("warning: no readiness line: {error}");
    }
}

/// The one readiness line that a parent process or a test waits for.
fn announce(addr: SocketAddr) {
    println!("{READY_PREFIX}{addr}");
    let _ = std::io::stdout().flush();
}
