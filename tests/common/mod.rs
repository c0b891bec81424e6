//! Helpers shared by the CLI integration tests: run the real binary, parse its JSON.

#![allow(dead_code)]

pub mod httpbin;

use std::process::{Command, Output};

/// The `runtime-lab` binary built for these tests.
pub fn runtime_lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runtime-lab"))
}

/// Holds a process-wide lock for the tests of one file that compare times
/// on a small machine, so that they run one at a time.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `executor` against `upstream` with `args` and returns its report,
/// asserting that no batch failed.
pub fn run_executor(executor: &str, upstream: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--executor", executor, "--upstream", upstream];
    all.extend_from_slice(args);
    let report = run_json(&all);
    assert_eq!(report["failed"], 0, "{report}");
    report
}

/// Runs `runtime-lab run --json ARGS...` and returns the parsed report.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let output = runtime_lab()
        .arg("run")
        .args(args)
        .arg("--json")
        .output()
        .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "runtime-lab run {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_single_json(&output)
}

/// Parses stdout, which must be exactly one JSON object.
pub fn parse_single_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut stream = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    let report = stream
        .next()
        .expect("stdout holds a JSON object")
        .expect("stdout is valid JSON");
    assert!(
        stream.next().is_none(),
        "stdout holds exactly one JSON value: {stdout}"
    );
    report
}

/// A field of a report as f64.
pub fn number(report: &serde_json::Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {report}"))
}

/// Starts `command` and waits for its readiness line, which ends in
/// `http://HOST:PORT` (the store's and the server's alike).
fn start_until_listening(mut command: Command) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runtime-lab starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("readiness line");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected readiness line {line:?} from {command:?}"));
    (child, addr)
}

/// A `runtime-lab serve-features` child process, killed on drop.
pub struct StoreProcess {
    child: std::process::Child,
    /// The address it listens on, from its readiness line.
    pub addr: std::net::SocketAddr,
}

impl StoreProcess {
    /// Starts the store with extra `serve-features` arguments and waits for its readiness line.
    pub fn start(args: &[&str]) -> Self {
        let mut command = runtime_lab();
        command
            .args(["serve-features", "--addr", "127.0.0.1:0"])
            .args(args);
        let (child, addr) = start_until_listening(command);
        StoreProcess { child, addr }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open file descriptors of the store process right now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    /// `GET path` on a new connection; the status code, or None if no HTTP answer came.
    pub fn status_of(&self, path: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr).ok()?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        reply.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    /// Waits (polling, bounded) until the store holds at most `limit` open
    /// files; returns the last count seen.
    pub fn wait_for_fds_at_most(&self, limit: usize, within: std::time::Duration) -> usize {
        let deadline = std::time::Instant::now() + within;
        loop {
            let open = self.open_fds();
            if open <= limit || std::time::Instant::now() >= deadline {
                return open;
            }
            std::thread::yield_now();
        }
    }
}

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Rust executors `runtime-lab list` shows as available on this machine
/// (the baselines it also lists have tests of their own).
pub fn available_executors() -> Vec<String> {
    let output = runtime_lab()
        .arg("list")
        .output()
        .expect("runtime-lab list runs");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        // The executors and baselines; the interpreters follow a blank line.
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.contains("[unavailable"))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| lab::baselines::find(name).is_none())
        .collect()
}

/// Runs `runtime-lab run --json ARGS...` `runs` times and returns the report
/// with the smallest wall time: a burst of load from elsewhere on a shared
/// machine can slow a run down, never speed it up.
pub fn fastest_of(runs: usize, args: &[&str]) -> serde_json::Value {
    (0..runs)
        .map(|_| run_json(args))
        .min_by(|a, b| number(a, "wall_ms").total_cmp(&number(b, "wall_ms")))
        .expect("at least one run")
}

/// A `runtime-lab serve` process, stopped with SIGTERM (or killed) on drop.
pub struct ServerProcess {
    child: std::process::Child,
    /// The address it listens on, from its readiness line.
    pub addr: std::net::SocketAddr,
}

impl ServerProcess {
    /// Starts `runtime-lab serve ARGS --addr 127.0.0.1:0` and waits for its readiness line.
    pub fn start(args: &[&str]) -> Self {
        let mut command = runtime_lab();
        command
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"]);
        let (child, addr) = start_until_listening(command);
        ServerProcess { child, addr }
    }

    /// Starts `runtime-lab serve ARGS --addr 127.0.0.1:0` for a server
    /// baseline, waits for its readiness line, and reads its stderr up to
    /// the line that says a Python baseline's runtime (`baseline NAME:
    /// interpreter ..., gil_enabled ...`), which it returns (empty for a
    /// Go baseline); the rest of
    /// its stderr is passed on to this test's.
    pub fn start_baseline(name: &str, args: &[&str]) -> (Self, String) {
        use std::io::BufRead;
        let mut command = runtime_lab();
        command
            .args(["serve", "-e", name])
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stderr(std::process::Stdio::piped());
        let (mut child, addr) = start_until_listening(command);
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
        let prefix = format!("baseline {name}: ");
        let mut line = String::new();
        // Only a Python baseline says its runtime.
        let python = lab::baselines::interpreter_of(name).is_some();
        let runtime = loop {
            if !python {
                break String::new();
            }
            line.clear();
            match stderr.read_line(&mut line) {
                Ok(0) | Err(_) => panic!("serve -e {name} said nothing of its runtime on stderr"),
                Ok(_) if line.starts_with(&prefix) => break line.trim().to_owned(),
                Ok(_) => eprint!("{line}"),
            }
        };
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        (ServerProcess { child, addr }, runtime)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET target` on a new connection: the status and the body.
    pub fn get(&self, target: &str) -> (u16, String) {
        http_get(self.addr, target)
    }

    /// Sends SIGTERM and waits, at most `within`, for the exit status.
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        signal(self.pid(), "TERM");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(self.pid(), "TERM");
            let _ = self.child.wait();
        }
    }
}

/// Sends a signal with kill(1), so the tests need no signal crate of their own.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status();
}

/// `GET target` from `addr` on a new connection (`Connection: close`): the
/// status and the body.
pub fn http_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the server accepts");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("a read timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("the reply is read");
    let reply = String::from_utf8_lossy(&reply);
    let status = reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

/// Every process descended from `pid`, found through /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 2..];
            let parent = after_name.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    found.remove(0);
    found
}

/// Whether process `pid` still exists (and is not a zombie).
pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// Set (to anything) where the baselines must be installed, as `.ci/run`
/// does after `scripts/baselines/install`: their tests then fail instead of
/// skipping what is not installed.
pub const REQUIRE_BASELINES: &str = "RUNTIME_LAB_REQUIRE_BASELINES";

/// The client baselines (`run -e NAME`) installed here, each on every
/// interpreter it runs on (`py-threads`, `py-threads@3.13t`, ...); panics
/// if some are missing where [`REQUIRE_BASELINES`] is set.
pub fn installed_baselines() -> Vec<lab::baselines::Configured> {
    installed_baselines_of(lab::baselines::Role::Client)
}

/// The server baselines (`serve -e NAME`) installed here, each on every
/// interpreter it runs on; panics if some are missing where
/// [`REQUIRE_BASELINES`] is set.
pub fn installed_server_baselines() -> Vec<lab::baselines::Configured> {
    installed_baselines_of(lab::baselines::Role::Server)
}

fn installed_baselines_of(role: lab::baselines::Role) -> Vec<lab::baselines::Configured> {
    let (installed, missing): (Vec<_>, Vec<_>) = lab::baselines::configurations_of(role)
        .into_iter()
        .partition(|baseline| baseline.installed().is_ok());
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|b| b.name).collect();
        assert!(
            std::env::var_os(REQUIRE_BASELINES).is_none(),
            "{REQUIRE_BASELINES} is set but {names:?} are not installed: run scripts/baselines/install python interpreters go"
        );
        eprintln!(
            "not installed here (run scripts/baselines/install python interpreters go): {names:?}"
        );
    }
    installed
}
