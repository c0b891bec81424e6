//! The baselines: the articles' own Python and Go clients, run beside the Rust executors.
//!
//! The Rust executors stand for asyncio, `ThreadPoolExecutor`,
//! `ProcessPoolExecutor` and goroutines, and `--gil` stands for CPython's
//! lock. The baselines are the systems themselves (`scripts/baselines/`):
//! they take the same workload flags, fetch from the same feature store,
//! compute the same digests and checksum, burn the same calibrated
//! milliseconds of CPU per batch in their own language, and print the keys of
//! `run --json` that they can measure, which parse into the same
//! [`RunReport`]. `runtime-lab run -e py-threads` runs one as a child process;
//! `scripts/baselines/install` puts them under `target/baselines/` (or
//! `$RUNTIME_LAB_BASELINES`), and one that is not installed says so.
//!
//! The server baselines ([`Role::Server`]: FastAPI on uvicorn, Flask on
//! gunicorn, Go's net/http and Gin) take `serve`'s flags instead, answer
//! the scenarios' routes (`/ping`, `/fib`, `/io`, `/predict`) with the Rust
//! servers' answers, and run under
//! `runtime-lab serve -e py-uvicorn` (see the binary's `serve.rs`).

use crate::args::{ServeArgs, WorkloadArgs};
use crate::upstream::UsageError;
use anyhow::{Context, bail};
use pipeline::{RunReport, Workload};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The install script, relative to the repository root.
pub const INSTALL_SCRIPT: &str = "scripts/baselines/install";

/// The environment variable that moves the install folder (tests point it at an empty one).
pub const PREFIX_VARIABLE: &str = "RUNTIME_LAB_BASELINES";

/// The environment variable that gives a baseline the User-Agent of the
/// Rust clients, so that its requests carry the same headers as theirs
/// (`pipeline::request_headers`).
pub const USER_AGENT_VARIABLE: &str = "RUNTIME_LAB_USER_AGENT";

/// The language a baseline is written in; plots group their series by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Language {
    /// The Rust executors of this lab.
    Rust,
    /// CPython, in a virtual environment with the pinned packages.
    Python,
    /// Go, built with the distribution's toolchain.
    Go,
}

impl Language {
    /// The language of a series: a baseline's, or Rust for an executor.
    pub fn of(name: &str) -> Self {
        find(name).map_or(Language::Rust, |baseline| baseline.language)
    }

    /// The name in legends and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Go => "Go",
        }
    }
}

/// Whether a baseline is a client (`run`) or a server (`serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Fetches a workload's batches and prints a run report: `run -e NAME`.
    Client,
    /// Serves the scenarios' routes and `/health`: `serve -e NAME`.
    Server,
}

/// What a sweep's cost model charges a baseline's run, on 2 cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Starting the program: the interpreter, its imports, and calibrating the kernel.
    pub start_ms: f64,
    /// CPU time per request in its HTTP client (single core: CPython's clients hold the GIL).
    pub per_request_ms: f64,
    /// Starting one worker process, for the baselines that have them.
    pub per_process_ms: f64,
}

const PYTHON_COST: Cost = Cost {
    start_ms: 400.0,
    per_request_ms: 3.0,
    per_process_ms: 15.0,
};

const GO_COST: Cost = Cost {
    start_ms: 150.0,
    per_request_ms: 0.3,
    per_process_ms: 0.0,
};

/// FastAPI on uvicorn: the parent imports FastAPI, uvicorn and aiohttp
/// (about 1.5 s of CPU) and calibrates; each worker is a spawned interpreter
/// that imports them again, two at a time on 2 cores.
const UVICORN_COST: Cost = Cost {
    start_ms: 2_000.0,
    per_request_ms: 3.0,
    per_process_ms: 800.0,
};

/// Flask on gunicorn: the parent imports Flask, gunicorn and requests and
/// calibrates; its workers are forked from it, already loaded. Stopping
/// takes another second: idle sync workers wait for gunicorn's graceful
/// timeout.
const GUNICORN_COST: Cost = Cost {
    start_ms: 2_000.0,
    per_request_ms: 3.0,
    per_process_ms: 30.0,
};

/// One baseline program.
#[derive(Debug)]
pub struct Baseline {
    /// The name used by `--executor` and in reports.
    pub name: &'static str,
    /// Its language.
    pub language: Language,
    /// A client or a server.
    pub role: Role,
    /// One line on what it is and which Rust executor stands for it.
    pub summary: &'static str,
    /// The Python script under `scripts/baselines/python/`, or the Go binary
    /// built into the install folder's `bin/`.
    pub program: &'static str,
    /// Whether it holds one request in flight at a time.
    pub serial: bool,
    /// The sweep's cost model.
    pub cost: Cost,
}

/// Every baseline, clients then servers, Python first, in the articles' order.
pub const ALL: &[Baseline] = &[
    Baseline {
        name: "py-serial",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: requests.get, one request at a time (the articles' serial client; Rust: serial)",
        program: "py_serial.py",
        serial: true,
        cost: PYTHON_COST,
    },
    Baseline {
        name: "py-asyncio",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: asyncio + aiohttp, one task per batch, CPU inline on the loop (Rust: tokio-ct)",
        program: "py_asyncio.py",
        serial: false,
        cost: PYTHON_COST,
    },
    Baseline {
        name: "py-threads",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: ThreadPoolExecutor(max_workers=batches) + requests, under the GIL (Rust: threads --gil)",
        program: "py_threads.py",
        serial: false,
        cost: PYTHON_COST,
    },
    Baseline {
        name: "py-processes",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: ProcessPoolExecutor(max_workers=W) + requests, a GIL per process (Rust: processes --gil)",
        program: "py_processes.py",
        serial: false,
        cost: PYTHON_COST,
    },
    Baseline {
        name: "go-serial",
        language: Language::Go,
        role: Role::Client,
        summary: "Go: net/http, one request at a time (the first article's serial Go; Rust: serial)",
        program: "go-serial",
        serial: true,
        cost: GO_COST,
    },
    Baseline {
        name: "go-goroutines",
        language: Language::Go,
        role: Role::Client,
        summary: "Go: one goroutine per batch on GOMAXPROCS=W threads, net/http (Rust: tokio-mt)",
        program: "go-goroutines",
        serial: false,
        cost: GO_COST,
    },
    Baseline {
        name: "py-uvicorn",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: FastAPI on uvicorn, W worker processes, async handler, CPU inline on the loop (Rust: tokio-ct -w W)",
        program: "py_uvicorn.py",
        serial: false,
        cost: UVICORN_COST,
    },
    Baseline {
        name: "py-gunicorn",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: Flask on gunicorn, W sync worker processes, blocking requests (Rust: processes)",
        program: "py_gunicorn.py",
        serial: false,
        cost: GUNICORN_COST,
    },
    Baseline {
        name: "go-nethttp",
        language: Language::Go,
        role: Role::Server,
        summary: "Go server: net/http, a goroutine per request on GOMAXPROCS=W threads (Rust: tokio-mt)",
        program: "go-nethttp",
        serial: false,
        cost: GO_COST,
    },
    Baseline {
        name: "go-gin",
        language: Language::Go,
        role: Role::Server,
        summary: "Go server: Gin (Debian's 1.8.1) on net/http, a goroutine per request on GOMAXPROCS=W threads, the article's Go server (Rust: tokio-mt)",
        program: "go-gin",
        serial: false,
        cost: GO_COST,
    },
];

/// The baseline named `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Baseline> {
    ALL.iter().find(|baseline| baseline.name == name)
}

/// Every baseline's name.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|baseline| baseline.name)
}

/// The names of the baselines in `role`.
pub fn names_of(role: Role) -> Vec<&'static str> {
    ALL.iter()
        .filter(|baseline| baseline.role == role)
        .map(|baseline| baseline.name)
        .collect()
}

/// Where `scripts/baselines/install` puts the baselines.
pub fn install_dir() -> PathBuf {
    std::env::var_os(PREFIX_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("target").join("baselines"))
}

/// The repository this binary was built from, which holds the baselines' sources.
fn repository() -> &'static Path {
    // This crate is `crates/lab` in the repository.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/lab lies two folders below the repository root")
}

fn sources() -> PathBuf {
    repository().join("scripts").join("baselines")
}

fn venv_python() -> PathBuf {
    install_dir().join("venv").join("bin").join("python")
}

impl Baseline {
    /// The executable to start and the arguments before the workload flags.
    fn program(&self) -> (PathBuf, Vec<PathBuf>) {
        match self.language {
            Language::Python => (
                venv_python(),
                vec![sources().join("python").join(self.program)],
            ),
            _ => (install_dir().join("bin").join(self.program), Vec::new()),
        }
    }

    /// Whether it is installed and up to date, and if not, what to do.
    pub fn installed(&self) -> Result<(), String> {
        let rerun = format!("run {INSTALL_SCRIPT}");
        let (program, _) = self.program();
        if !program.exists() {
            return Err(format!(
                "not installed ({} is missing); {rerun}",
                program.display()
            ));
        }
        match self.language {
            Language::Python => {
                // The install script copies requirements.txt into the venv once pip succeeded.
                let stamp = install_dir()
                    .join("venv")
                    .join("runtime-lab-requirements.txt");
                let wanted = std::fs::read(sources().join("requirements.txt")).ok();
                if std::fs::read(&stamp).ok() != wanted {
                    return Err(format!(
                        "not installed: the packages in {} do not match scripts/baselines/requirements.txt; {rerun}",
                        install_dir().join("venv").display()
                    ));
                }
            }
            _ => {
                let built = modified(&program);
                if newest_source(&sources().join("go")) > built {
                    return Err(format!(
                        "{} is older than its sources in scripts/baselines/go; {rerun} to rebuild it",
                        program.display()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks that it is a client, installed, and that the flags apply to
    /// it: usage errors otherwise.
    pub fn check(&self, args: &WorkloadArgs) -> Result<(), UsageError> {
        if self.role == Role::Server {
            return Err(UsageError(format!(
                "{} is a server baseline: serve it with `runtime-lab serve -e {}` and load it with `runtime-lab load`; the client baselines that `run` takes are {}",
                self.name,
                self.name,
                names_of(Role::Client).join(", ")
            )));
        }
        self.installed()
            .map_err(|reason| UsageError(format!("baseline {}: {reason}", self.name)))?;
        let unsupported = [
            (
                args.gil,
                "--gil emulates CPython's lock in the Rust executors; a baseline runs the real runtime",
            ),
            (
                args.max_in_flight.is_some(),
                "--max-in-flight is not implemented by the baselines",
            ),
            (
                args.cpu_rounds.is_some(),
                "--cpu-rounds counts Rust kernel rounds; a baseline calibrates its own kernel from --cpu-ms",
            ),
        ];
        match unsupported.iter().find(|(given, _)| *given) {
            Some((_, why)) => Err(UsageError(format!("baseline {}: {why}", self.name))),
            None => Ok(()),
        }
    }

    /// Checks that it is a server, installed, and that `serve`'s flags
    /// apply to it: usage errors otherwise.
    pub fn check_serve(&self, args: &ServeArgs) -> Result<(), UsageError> {
        if self.role == Role::Client {
            return Err(UsageError(format!(
                "{} is a client baseline: run it with `runtime-lab run -e {}`; the server baselines that `serve` takes are {}",
                self.name,
                self.name,
                names_of(Role::Server).join(", ")
            )));
        }
        self.installed()
            .map_err(|reason| UsageError(format!("baseline {}: {reason}", self.name)))?;
        let unsupported = [
            (
                args.gil,
                "--gil emulates CPython's lock in the Rust servers; a baseline runs the real runtime",
            ),
            (
                args.cpu_rounds.is_some(),
                "--cpu-rounds counts Rust kernel rounds; a baseline calibrates its own kernel from --cpu-ms",
            ),
        ];
        match unsupported.iter().find(|(given, _)| *given) {
            Some((_, why)) => Err(UsageError(format!("baseline {}: {why}", self.name))),
            None => Ok(()),
        }
    }

    /// The command that serves `args`'s workload on `addr` against `upstream`
    /// (a feature store's base URL, or a template with `{id}`).
    pub fn serve_command(&self, args: &ServeArgs, addr: SocketAddr, upstream: &str) -> Command {
        let (program, leading) = self.program();
        let mut command = Command::new(program);
        command.args(leading);
        if let Some(workers) = args.workers {
            command.args(["--workers".to_owned(), workers.to_string()]);
        }
        command.args([
            "--addr".to_owned(),
            addr.to_string(),
            "--fanout".to_owned(),
            args.fanout.to_string(),
            "--io-ms".to_owned(),
            args.io_ms.to_string(),
            "--cpu-ms".to_owned(),
            args.cpu_ms.to_string(),
            "--features".to_owned(),
            args.features.to_string(),
            "--connections".to_owned(),
            pipeline::Connections::from(args.connections)
                .as_str()
                .to_owned(),
            "--upstream".to_owned(),
            upstream.to_owned(),
        ]);
        command.env("PYTHONDONTWRITEBYTECODE", "1");
        command.env(USER_AGENT_VARIABLE, pipeline::USER_AGENT);
        command
    }

    /// Requests it keeps open at once.
    pub fn in_flight(&self, workload: &Workload) -> usize {
        if self.serial {
            1
        } else {
            workload.batches as usize
        }
    }

    /// The command that runs `workload` on this baseline.
    pub fn command(&self, workload: &Workload) -> Command {
        let (program, leading) = self.program();
        let mut command = Command::new(program);
        command.args(leading).args([
            "--batches".to_owned(),
            workload.batches.to_string(),
            "--io-ms".to_owned(),
            workload.io_ms.to_string(),
            "--cpu-ms".to_owned(),
            workload.cpu_ms.to_string(),
            "--features".to_owned(),
            workload.features.to_string(),
            "--workers".to_owned(),
            workload.workers.to_string(),
            "--connections".to_owned(),
            workload.connections.as_str().to_owned(),
            "--timeout-ms".to_owned(),
            workload.timeout_ms.to_string(),
            "--retries".to_owned(),
            workload.retries.to_string(),
            "--upstream".to_owned(),
            workload.upstream.url.clone(),
            // What the probe decided, which the URL alone does not say (a
            // plain URL and a store's base look alike).
            "--upstream-kind".to_owned(),
            workload.upstream.kind.as_str().to_owned(),
        ]);
        // No bytecode cache in the source tree. (PYTHONPYCACHEPREFIX would
        // also hide the packages' caches that pip compiled, and make every
        // start recompile them.)
        command.env("PYTHONDONTWRITEBYTECODE", "1");
        command.env(USER_AGENT_VARIABLE, pipeline::USER_AGENT);
        command
    }

    /// Runs `workload` as a child process and reads its JSON report.
    pub fn run(&self, workload: &Workload) -> anyhow::Result<RunReport> {
        let output = self
            .command(workload)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot start baseline {}", self.name))?;
        if !output.status.success() {
            bail!("baseline {} exited with {}", self.name, output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: RunReport = serde_json::from_str(stdout.trim())
            .with_context(|| format!("the report of baseline {} does not parse", self.name))?;
        if report.executor != self.name {
            bail!(
                "baseline {} reported itself as {:?}",
                self.name,
                report.executor
            );
        }
        Ok(report)
    }
}

/// The installed runtime of each language that has an installed baseline,
/// e.g. `Python 3.11.7`, `go1.19.8`.
pub fn runtime_versions() -> Vec<(Language, String)> {
    let mut versions = Vec::new();
    for language in [Language::Python, Language::Go] {
        let Some(baseline) = ALL
            .iter()
            .find(|b| b.language == language && b.installed().is_ok())
        else {
            continue;
        };
        let mut command = match language {
            Language::Python => Command::new(venv_python()),
            _ => Command::new(baseline.program().0),
        };
        let version = command
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .filter(|version| !version.is_empty());
        if let Some(version) = version {
            versions.push((language, version));
        }
    }
    versions
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files under `dir`.
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                newest = newest.max(modified(&path));
            }
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_not_rust_executors() {
        let mut names: Vec<&str> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for name in names {
            assert!(crate::executors::ALL.iter().all(|e| e.name != name));
            assert!(name.starts_with("py-") || name.starts_with("go-"));
        }
    }

    #[test]
    fn every_python_script_exists() {
        for baseline in ALL.iter().filter(|b| b.language == Language::Python) {
            let script = sources().join("python").join(baseline.program);
            assert!(script.is_file(), "{} is missing", script.display());
        }
    }

    #[test]
    fn every_article_server_is_a_server_baseline() {
        assert_eq!(
            names_of(Role::Server),
            ["py-uvicorn", "py-gunicorn", "go-nethttp", "go-gin"]
        );
        assert!(names_of(Role::Client).contains(&"py-asyncio"));
    }

    #[test]
    fn executors_are_rust_and_baselines_their_language() {
        assert_eq!(Language::of("threads"), Language::Rust);
        assert_eq!(Language::of("py-threads"), Language::Python);
        assert_eq!(Language::of("go-goroutines"), Language::Go);
    }
}
