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
use std::sync::LazyLock;
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

/// The talk's one-process servers (gunicorn gthread and gevent, Granian):
/// the parent imports Flask, the server and requests and calibrates (0.5 to
/// 0.8 s to the readiness line at W = 8 on 2 busy cores); its W threads (or
/// greenlets) cost next to nothing to start.
const THREADED_COST: Cost = Cost {
    start_ms: 1_000.0,
    per_request_ms: 3.0,
    per_process_ms: 1.0,
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
    /// The [`INTERPRETERS`] it runs on (Python only; empty for Go).
    pub interpreters: &'static [&'static str],
    /// The interpreters it cannot run on, each with why.
    pub unsupported: &'static [(&'static str, &'static str)],
}

/// One CPython that the Python baselines run on, in its own virtual environment.
#[derive(Debug)]
pub struct Interpreter {
    /// The name after `@` in `NAME@INTERP` (`3.13t`).
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// Its virtual environment, in the install folder.
    pub venv: &'static str,
    /// The pinned packages of that environment, in `scripts/baselines/`.
    pub requirements: &'static str,
    /// The part of [`INSTALL_SCRIPT`] that installs it.
    pub install_part: &'static str,
    /// Built with `--disable-gil`.
    pub free_threaded: bool,
}

/// The interpreter of a Python baseline's bare name: the system's python3.
pub const SYSTEM_INTERPRETER: &str = "3.11";

/// Every interpreter, the system's first.
pub const INTERPRETERS: &[Interpreter] = &[
    Interpreter {
        name: SYSTEM_INTERPRETER,
        summary: "the system's python3 (CPython 3.11), with the GIL: the Python baselines' bare names",
        venv: "venv",
        requirements: "requirements.txt",
        install_part: "python",
        free_threaded: false,
    },
    Interpreter {
        name: "3.13",
        summary: "CPython 3.13.5 built from Debian's source package, with the GIL",
        venv: "venv-3.13",
        requirements: "requirements-3.13.txt",
        install_part: "interpreters",
        free_threaded: false,
    },
    Interpreter {
        name: "3.13t",
        summary: "CPython 3.13.5 from the same source, configured --disable-gil: free-threaded",
        venv: "venv-3.13t",
        requirements: "requirements-3.13t.txt",
        install_part: "interpreters",
        free_threaded: true,
    },
];

/// Every interpreter the pure-Python clients (`requests`, `aiohttp`) run on.
const EVERY_INTERPRETER: &[&str] = &[SYSTEM_INTERPRETER, "3.13", "3.13t"];

/// Why FastAPI (py-uvicorn) does not run on 3.13t.
const NO_FASTAPI_ON_313T: &str = "FastAPI needs pydantic-core, which has no cp313t wheel (PyO3 builds none below 3.14), so requirements-3.13t.txt leaves FastAPI and uvicorn out";

/// Why Granian does not run on the system's venv.
const NO_GRANIAN_IN_SYSTEM_VENV: &str =
    "Granian is not among the system venv's packages (requirements.txt)";

/// Why gevent does not run on the system's venv.
const NO_GEVENT_IN_SYSTEM_VENV: &str =
    "gevent is not among the system venv's packages (requirements.txt)";

/// Why gevent does not run on 3.13t.
const NO_GEVENT_ON_313T: &str = "gevent has no cp313t wheel (and no free-threaded build), so requirements-3.13t.txt leaves it out";

impl Interpreter {
    /// Its virtual environment's Python.
    fn python(&self) -> PathBuf {
        install_dir().join(self.venv).join("bin").join("python")
    }

    /// Whether its virtual environment is installed with the pinned
    /// packages, and if not, what to run.
    pub fn installed(&self) -> Result<(), String> {
        let rerun = format!("run {INSTALL_SCRIPT} {}", self.install_part);
        let venv = install_dir().join(self.venv);
        if !self.python().exists() {
            return Err(format!(
                "not installed (interpreter {}: {} is missing); {rerun}",
                self.name,
                self.python().display()
            ));
        }
        // The install script copies the requirements into the venv once pip succeeded.
        let stamp = venv.join("runtime-lab-requirements.txt");
        let wanted = std::fs::read(sources().join(self.requirements)).ok();
        if std::fs::read(&stamp).ok() != wanted {
            return Err(format!(
                "not installed: the packages of interpreter {} in {} do not match scripts/baselines/{}; {rerun}",
                self.name,
                venv.display(),
                self.requirements
            ));
        }
        Ok(())
    }
}

/// The interpreter named `name` (`3.13t`), if there is one.
pub fn interpreter(name: &str) -> Option<&'static Interpreter> {
    INTERPRETERS
        .iter()
        .find(|interpreter| interpreter.name == name)
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
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "py-asyncio",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: asyncio + aiohttp, one task per batch, CPU inline on the loop (Rust: tokio-ct)",
        program: "py_asyncio.py",
        serial: false,
        cost: PYTHON_COST,
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "py-threads",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: ThreadPoolExecutor(max_workers=batches) + requests, under the GIL (Rust: threads --gil)",
        program: "py_threads.py",
        serial: false,
        cost: PYTHON_COST,
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "py-processes",
        language: Language::Python,
        role: Role::Client,
        summary: "Python: ProcessPoolExecutor(max_workers=W) + requests, a GIL per process (Rust: processes --gil)",
        program: "py_processes.py",
        serial: false,
        cost: PYTHON_COST,
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "go-serial",
        language: Language::Go,
        role: Role::Client,
        summary: "Go: net/http, one request at a time (the first article's serial Go; Rust: serial)",
        program: "go-serial",
        serial: true,
        cost: GO_COST,
        interpreters: &[],
        unsupported: &[],
    },
    Baseline {
        name: "go-goroutines",
        language: Language::Go,
        role: Role::Client,
        summary: "Go: one goroutine per batch on GOMAXPROCS=W threads, net/http (Rust: tokio-mt)",
        program: "go-goroutines",
        serial: false,
        cost: GO_COST,
        interpreters: &[],
        unsupported: &[],
    },
    Baseline {
        name: "py-uvicorn",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: FastAPI on uvicorn, W worker processes, async handler, CPU inline on the loop (Rust: tokio-ct -w W)",
        program: "py_uvicorn.py",
        serial: false,
        cost: UVICORN_COST,
        interpreters: &[SYSTEM_INTERPRETER, "3.13"],
        unsupported: &[("3.13t", NO_FASTAPI_ON_313T)],
    },
    Baseline {
        name: "py-gunicorn",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: Flask on gunicorn, W sync worker processes, blocking requests (Rust: processes)",
        program: "py_gunicorn.py",
        serial: false,
        cost: GUNICORN_COST,
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "py-gthread",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: the same Flask app on gunicorn's gthread worker, one process, W threads, blocking requests (Rust: threads; on 3.13t free threads, elsewhere threads --gil)",
        program: "py_gthread.py",
        serial: false,
        cost: THREADED_COST,
        interpreters: EVERY_INTERPRETER,
        unsupported: &[],
    },
    Baseline {
        name: "py-granian",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: the same Flask app on Granian's WSGI interface, one worker, W blocking threads (Rust: threads; on 3.13t free threads, on 3.13 threads --gil)",
        program: "py_granian.py",
        serial: false,
        cost: THREADED_COST,
        interpreters: &["3.13", "3.13t"],
        unsupported: &[(SYSTEM_INTERPRETER, NO_GRANIAN_IN_SYSTEM_VENV)],
    },
    Baseline {
        name: "py-gevent",
        language: Language::Python,
        role: Role::Server,
        summary: "Python server: the same Flask app on gunicorn's gevent worker, W processes, each an event loop of greenlets (up to 1000 connections), monkey-patched requests (Rust: tokio-ct -w W)",
        program: "py_gevent.py",
        serial: false,
        cost: GUNICORN_COST,
        interpreters: &["3.13"],
        unsupported: &[
            (SYSTEM_INTERPRETER, NO_GEVENT_IN_SYSTEM_VENV),
            ("3.13t", NO_GEVENT_ON_313T),
        ],
    },
    Baseline {
        name: "go-nethttp",
        language: Language::Go,
        role: Role::Server,
        summary: "Go server: net/http, a goroutine per request on GOMAXPROCS=W threads (Rust: tokio-mt)",
        program: "go-nethttp",
        serial: false,
        cost: GO_COST,
        interpreters: &[],
        unsupported: &[],
    },
    Baseline {
        name: "go-gin",
        language: Language::Go,
        role: Role::Server,
        summary: "Go server: Gin (Debian's 1.8.1) on net/http, a goroutine per request on GOMAXPROCS=W threads, the article's Go server (Rust: tokio-mt)",
        program: "go-gin",
        serial: false,
        cost: GO_COST,
        interpreters: &[],
        unsupported: &[],
    },
];

/// A baseline name's program and interpreter: `py-threads@3.13t` is
/// (`py-threads`, `Some("3.13t")`), a bare name has no interpreter.
pub fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((program, interpreter)) => (program, Some(interpreter)),
        None => (name, None),
    }
}

/// The baseline row that `name` names, with or without `@INTERP`, if there is one.
pub fn find(name: &str) -> Option<&'static Baseline> {
    let (program, _) = split(name);
    ALL.iter().find(|baseline| baseline.name == program)
}

/// The interpreter that `name` runs on: the one after `@`, the system's for
/// a bare Python name, `None` for a Go baseline, an executor or an unknown
/// interpreter.
pub fn interpreter_of(name: &str) -> Option<&'static Interpreter> {
    let baseline = find(name)?;
    if baseline.language != Language::Python {
        return None;
    }
    interpreter(split(name).1.unwrap_or(SYSTEM_INTERPRETER))
}

/// Every name that `run -e`, `serve -e` and `sweep --executors` accept for
/// a baseline: each bare name, and each Python baseline on each
/// interpreter (those it cannot run on too, so that asking for one says why).
static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut names = Vec::new();
    for baseline in ALL {
        names.push(baseline.name.to_owned());
        if baseline.language == Language::Python {
            names.extend(
                INTERPRETERS
                    .iter()
                    .filter(|interpreter| interpreter.name != SYSTEM_INTERPRETER)
                    .map(|interpreter| format!("{}@{}", baseline.name, interpreter.name)),
            );
        }
    }
    names
});

/// Every baseline name accepted: each bare name, and each Python baseline
/// on each other interpreter as `NAME@INTERP` (those it cannot run on too,
/// so that asking for one says why).
pub fn names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(String::as_str)
}

/// The names of the baselines in `role` that run somewhere: each bare name
/// that runs on the system's interpreter (or is Go), and each `NAME@INTERP`
/// of another interpreter it runs on.
pub fn names_of(role: Role) -> Vec<&'static str> {
    names()
        .filter(|name| find(name).is_some_and(|baseline| baseline.role == role))
        .filter(|name| matches!(resolve(name), Some(Ok(_))))
        .collect()
}

/// The baseline configurations in `role`: every name of [`names_of`], resolved.
pub fn configurations_of(role: Role) -> Vec<Configured> {
    names_of(role)
        .into_iter()
        .filter_map(|name| resolve(name)?.ok())
        .collect()
}

/// `name` as a baseline on its interpreter: `None` when it names no
/// baseline, a usage error when the interpreter is unknown or one the
/// baseline cannot run on (naming why).
pub fn resolve(name: &str) -> Option<Result<Configured, UsageError>> {
    let baseline = find(name)?;
    let (_, asked) = split(name);
    let name = names().find(|known| *known == name);
    Some(resolve_row(baseline, asked, name))
}

fn resolve_row(
    baseline: &'static Baseline,
    asked: Option<&str>,
    name: Option<&'static str>,
) -> Result<Configured, UsageError> {
    let known = INTERPRETERS
        .iter()
        .map(|interpreter| interpreter.name)
        .collect::<Vec<_>>()
        .join(", ");
    if baseline.language != Language::Python {
        return match (asked, name) {
            (None, Some(name)) => Ok(Configured {
                name,
                baseline,
                interpreter: None,
            }),
            _ => Err(UsageError(format!(
                "{} is a {} baseline: it takes no @interpreter (those are Python's: {known})",
                baseline.name,
                baseline.language.as_str()
            ))),
        };
    }
    let wanted = asked.unwrap_or(SYSTEM_INTERPRETER);
    let (Some(interpreter), Some(name)) = (interpreter(wanted), name) else {
        return Err(UsageError(format!(
            "{}@{wanted}: no such interpreter; the interpreters are {known}",
            baseline.name
        )));
    };
    if let Some((_, why)) = baseline.unsupported.iter().find(|(on, _)| *on == wanted) {
        return Err(UsageError(format!(
            "{name} cannot run: {why}; {} runs on {}",
            baseline.name,
            baseline.interpreter_names()
        )));
    }
    if !baseline.interpreters.contains(&wanted) {
        return Err(UsageError(format!(
            "{name} cannot run: {} does not run on {wanted}; it runs on {}",
            baseline.name,
            baseline.interpreter_names()
        )));
    }
    Ok(Configured {
        name,
        baseline,
        interpreter: Some(interpreter),
    })
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

impl Baseline {
    /// The names of the interpreters it runs on, for messages and `list`:
    /// `3.11, 3.13, 3.13t`.
    pub fn interpreter_names(&self) -> String {
        self.interpreters.join(", ")
    }
}

/// A baseline on its interpreter: what a baseline name resolves to, and
/// what `run -e`, `serve -e` and the sweeps start.
#[derive(Debug, Clone, Copy)]
pub struct Configured {
    /// The name as accepted: `py-threads@3.13t`, or a bare name.
    pub name: &'static str,
    /// The program.
    pub baseline: &'static Baseline,
    /// The CPython it runs on; `None` for a Go baseline.
    pub interpreter: Option<&'static Interpreter>,
}

impl Configured {
    /// The executable to start and the arguments before the workload flags.
    fn program(&self) -> (PathBuf, Vec<PathBuf>) {
        match self.interpreter {
            Some(interpreter) => (
                interpreter.python(),
                vec![sources().join("python").join(self.baseline.program)],
            ),
            None => (
                install_dir().join("bin").join(self.baseline.program),
                Vec::new(),
            ),
        }
    }

    /// Whether it is installed and up to date, and if not, what to do.
    pub fn installed(&self) -> Result<(), String> {
        if let Some(interpreter) = self.interpreter {
            return interpreter.installed();
        }
        let rerun = format!("run {INSTALL_SCRIPT}");
        let (program, _) = self.program();
        if !program.exists() {
            return Err(format!(
                "not installed ({} is missing); {rerun}",
                program.display()
            ));
        }
        let built = modified(&program);
        if newest_source(&sources().join("go")) > built {
            return Err(format!(
                "{} is older than its sources in scripts/baselines/go; {rerun} to rebuild it",
                program.display()
            ));
        }
        Ok(())
    }

    /// Checks that it is a client, installed, and that the flags apply to
    /// it: usage errors otherwise.
    pub fn check(&self, args: &WorkloadArgs) -> Result<(), UsageError> {
        if self.baseline.role == Role::Server {
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
        if self.baseline.role == Role::Client {
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
        if self.baseline.serial {
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

    /// Runs `workload` as a child process and reads its JSON report, which
    /// names it as [`Configured::name`] (the program reports its bare name).
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
        let mut report: RunReport = serde_json::from_str(stdout.trim())
            .with_context(|| format!("the report of baseline {} does not parse", self.name))?;
        if report.executor != self.baseline.name {
            bail!(
                "baseline {} reported itself as {:?}",
                self.name,
                report.executor
            );
        }
        if self.interpreter.is_some()
            && (report.interpreter.is_none() || report.gil_enabled.is_none())
        {
            bail!(
                "baseline {} did not report its interpreter and whether the GIL was enabled",
                self.name
            );
        }
        report.executor = self.name.to_owned();
        Ok(report)
    }
}

/// The installed runtimes: each installed interpreter's Python and the Go
/// of the installed Go baselines, e.g. `Python 3.11.7`, `Python 3.13.5
/// (3.13t, free-threaded)`, `go1.19.8`.
pub fn runtime_versions() -> Vec<(Language, String)> {
    let mut versions = Vec::new();
    for interpreter in INTERPRETERS.iter().filter(|i| i.installed().is_ok()) {
        if let Some(version) = version_of(Command::new(interpreter.python())) {
            let build = if interpreter.free_threaded {
                ", free-threaded"
            } else {
                ""
            };
            versions.push((
                Language::Python,
                format!("{version} ({}{build})", interpreter.name),
            ));
        }
    }
    let go = configurations_of(Role::Client)
        .into_iter()
        .chain(configurations_of(Role::Server))
        .find(|c| c.baseline.language == Language::Go && c.installed().is_ok());
    if let Some(version) = go.and_then(|go| version_of(Command::new(go.program().0))) {
        versions.push((Language::Go, version));
    }
    versions
}

/// What `command --version` prints, if it runs.
fn version_of(mut command: Command) -> Option<String> {
    command
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|version| !version.is_empty())
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
        let mut names: Vec<&str> = ALL.iter().map(|b| b.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for name in names {
            assert!(crate::executors::ALL.iter().all(|e| e.name != name));
            assert!(name.starts_with("py-") || name.starts_with("go-"));
            assert!(!name.contains('@'));
        }
        let mut every: Vec<&str> = super::names().collect();
        let count = every.len();
        every.sort_unstable();
        every.dedup();
        assert_eq!(every.len(), count);
    }

    #[test]
    fn every_python_script_exists() {
        for baseline in ALL.iter().filter(|b| b.language == Language::Python) {
            let script = sources().join("python").join(baseline.program);
            assert!(script.is_file(), "{} is missing", script.display());
        }
    }

    #[test]
    fn every_interpreter_is_supported_or_refused_with_a_reason() {
        for baseline in ALL {
            if baseline.language != Language::Python {
                assert!(baseline.interpreters.is_empty() && baseline.unsupported.is_empty());
                continue;
            }
            for interpreter in INTERPRETERS {
                let supported = baseline.interpreters.contains(&interpreter.name);
                let refused = baseline
                    .unsupported
                    .iter()
                    .any(|(on, why)| *on == interpreter.name && !why.is_empty());
                assert!(
                    supported != refused,
                    "{} on {}: supported {supported}, refused {refused}",
                    baseline.name,
                    interpreter.name
                );
            }
        }
    }

    #[test]
    fn a_name_resolves_to_its_row_and_interpreter() {
        let free = resolve("py-threads@3.13t").unwrap().unwrap();
        assert_eq!(free.name, "py-threads@3.13t");
        assert_eq!(free.baseline.name, "py-threads");
        assert!(free.interpreter.unwrap().free_threaded);
        assert_eq!(find("py-gthread@3.13t").unwrap().name, "py-gthread");
        assert_eq!(interpreter_of("py-gthread@3.13t").unwrap().name, "3.13t");
        // A bare name is the system's venv, today's behaviour.
        let bare = resolve("py-serial").unwrap().unwrap();
        assert_eq!(bare.interpreter.unwrap().name, SYSTEM_INTERPRETER);
        assert_eq!(bare.interpreter.unwrap().venv, "venv");
        let go = resolve("go-nethttp").unwrap().unwrap();
        assert!(go.interpreter.is_none());
        assert!(resolve("threads").is_none());
    }

    #[test]
    fn an_unsupported_pair_is_refused_naming_why() {
        for (name, why) in [
            ("py-gevent@3.13t", "cp313t"),
            ("py-uvicorn@3.13t", "pydantic-core"),
            ("py-granian", "requirements.txt"),
            ("py-threads@3.9", "no such interpreter"),
            ("go-gin@3.13", "takes no @interpreter"),
        ] {
            let refused = resolve(name).unwrap().unwrap_err().0;
            assert!(refused.contains(why), "{name}: {refused}");
        }
        assert!(!names_of(Role::Server).contains(&"py-gevent@3.13t"));
        assert!(names_of(Role::Server).contains(&"py-gevent@3.13"));
    }

    #[test]
    fn every_article_server_is_a_server_baseline() {
        assert_eq!(
            names_of(Role::Server),
            [
                "py-uvicorn",
                "py-uvicorn@3.13",
                "py-gunicorn",
                "py-gunicorn@3.13",
                "py-gunicorn@3.13t",
                "py-gthread",
                "py-gthread@3.13",
                "py-gthread@3.13t",
                "py-granian@3.13",
                "py-granian@3.13t",
                "py-gevent@3.13",
                "go-nethttp",
                "go-gin"
            ]
        );
        assert!(names_of(Role::Client).contains(&"py-asyncio"));
        assert!(names_of(Role::Client).contains(&"py-threads@3.13t"));
    }

    #[test]
    fn executors_are_rust_and_baselines_their_language() {
        assert_eq!(Language::of("threads"), Language::Rust);
        assert_eq!(Language::of("py-threads"), Language::Python);
        assert_eq!(Language::of("py-threads@3.13t"), Language::Python);
        assert_eq!(Language::of("go-goroutines"), Language::Go);
    }
}
