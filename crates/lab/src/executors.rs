//! The executor table: every name `--executor` accepts, and how to run it.

use crate::args::WorkloadArgs;
use crate::baselines::{self, Configured};
use anyhow::{Context, anyhow};
use exec_processes::WorkerCommand;
use pipeline::serve::Control;
use pipeline::{RunReport, Workload};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One row of `runtime-lab list`.
pub struct Executor {
    /// The name used by `--executor` and in reports.
    pub name: &'static str,
    /// One line on what it shows.
    pub summary: &'static str,
    /// Runs a workload.
    pub run: fn(&Workload) -> anyhow::Result<RunReport>,
    /// Whether it can run on this machine, and why not.
    pub available: fn() -> Result<(), String>,
    /// The most requests it keeps open at once in this process, one socket
    /// each: what the open-file check before a run counts.
    pub in_flight: fn(&Workload) -> usize,
    /// How `runtime-lab serve` runs it, if it is a serving model.
    pub serve: Option<Serve>,
}

/// How an executor serves the scenarios' routes (see DESIGN.md's serving table).
pub struct Serve {
    /// Serves on a listener in this process until the control is stopped.
    pub run: fn(TcpListener, &Workload, &Control) -> anyhow::Result<()>,
    /// For W workers, how many server processes share the port: 0 serves in
    /// this process; N starts N child processes, each serving with `run`.
    pub processes: fn(usize) -> usize,
}

/// A serving model that runs in one process.
const fn in_process(
    run: fn(TcpListener, &Workload, &Control) -> anyhow::Result<()>,
) -> Option<Serve> {
    Some(Serve {
        run,
        processes: |_| 0,
    })
}

fn always() -> Result<(), String> {
    Ok(())
}

/// Every executor, in the order of DESIGN.md's table.
pub const ALL: &[Executor] = &[
    Executor {
        name: exec_serial::NAME,
        summary: "blocking, one request at a time (the baseline)",
        run: |workload| Ok(exec_serial::run(workload)?),
        available: always,
        in_flight: |_| 1,
        serve: None,
    },
    Executor {
        name: exec_threads::NAME,
        summary: "one OS thread per batch, blocking I/O (free-threaded ThreadPoolExecutor)",
        run: |workload| Ok(exec_threads::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_threads::serve(listener, workload, control)?)
        }),
    },
    Executor {
        name: exec_rayon::NAME,
        summary: "rayon pool, blocking fetch inside it: I/O capped by the pool size",
        run: |workload| Ok(exec_rayon::run(workload)?),
        available: always,
        // Every request in flight occupies a pool thread.
        in_flight: |workload| workload.workers.min(workload.in_flight_limit()),
        serve: None,
    },
    Executor {
        name: exec_crossbeam::NAME,
        summary: "fetch threads feeding W CPU workers through crossbeam channels",
        run: |workload| Ok(exec_crossbeam::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: None,
    },
    Executor {
        name: exec_processes::NAME,
        summary: "W worker processes, batches and results as JSON over pipes (ProcessPoolExecutor)",
        run: |workload| Ok(exec_processes::run(workload, &worker_command()?)?),
        available: always,
        // The parent holds three pipes per worker; the sockets are the workers'.
        in_flight: |workload| 3 * workload.workers.min(workload.in_flight_limit()),
        // W blocking processes on one port, one request at a time each (gunicorn sync).
        serve: Some(Serve {
            run: |listener, workload, control| {
                Ok(exec_processes::serve(listener, workload, control)?)
            },
            processes: |workers| workers,
        }),
    },
    Executor {
        name: exec_tokio::NAME_CT,
        summary: "one event-loop thread, CPU inline on it (asyncio)",
        run: |workload| {
            Ok(exec_tokio::run(
                workload,
                exec_tokio::Flavor::CurrentThread,
            )?)
        },
        available: always,
        in_flight: Workload::in_flight_limit,
        // One event loop per process: W workers are W processes on one port, as uvicorn's.
        serve: Some(Serve {
            run: |listener, workload, control| {
                Ok(exec_tokio::serve(
                    listener,
                    workload,
                    exec_tokio::Flavor::CurrentThread,
                    control,
                )?)
            },
            processes: |workers| if workers > 1 { workers } else { 0 },
        }),
    },
    Executor {
        name: exec_tokio::NAME_CT_OFFLOAD,
        summary: "one event-loop thread, CPU on spawn_blocking (asyncio + run_in_executor)",
        run: |workload| {
            Ok(exec_tokio::run(
                workload,
                exec_tokio::Flavor::CurrentThreadOffload,
            )?)
        },
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_tokio::serve(
                listener,
                workload,
                exec_tokio::Flavor::CurrentThreadOffload,
                control,
            )?)
        }),
    },
    Executor {
        name: exec_tokio::NAME_MT,
        summary: "tokio work-stealing pool of W workers, CPU inline in each task (goroutines)",
        run: |workload| Ok(exec_tokio::run(workload, exec_tokio::Flavor::MultiThread)?),
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_tokio::serve(
                listener,
                workload,
                exec_tokio::Flavor::MultiThread,
                control,
            )?)
        }),
    },
    Executor {
        name: exec_smol::NAME,
        summary: "one async-executor run on W threads, async-io sockets",
        run: |workload| Ok(exec_smol::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_smol::serve(listener, workload, control)?)
        }),
    },
    Executor {
        name: exec_async_std::NAME,
        summary: "async-std's global executor (discontinued upstream; legacy row)",
        run: |workload| Ok(exec_async_std::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_async_std::serve(listener, workload, control)?)
        }),
    },
    Executor {
        name: exec_glommio::NAME,
        summary: "thread-per-core: one io_uring executor per core, batches sharded by id",
        run: |workload| Ok(exec_glommio::run(workload)?),
        // The crate probes once (an executor and a loopback connection) and caches the answer.
        available: || {
            exec_glommio::available().map_err(|error| match error {
                exec_glommio::Error::Unavailable(reason) => reason,
                other => other.to_string(),
            })
        },
        in_flight: Workload::in_flight_limit,
        serve: in_process(|listener, workload, control| {
            Ok(exec_glommio::serve(listener, workload, control)?)
        }),
    },
];

/// The hidden subcommand that turns `runtime-lab` into a `processes` worker.
pub const WORKER_SUBCOMMAND: &str = "process-worker";

static WORKER_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Sets the program that `processes` starts as its workers (it is run with
/// [`WORKER_SUBCOMMAND`]); by default the running executable, which is right
/// for the `runtime-lab` binary but not for tests and benches, whose
/// executable is the test harness: they pass `env!("CARGO_BIN_EXE_runtime-lab")`.
/// Only the first call counts; it returns the program back if one was already set.
pub fn set_worker_program(program: PathBuf) -> Result<(), PathBuf> {
    WORKER_PROGRAM.set(program)
}

/// The command that starts one `processes` worker.
fn worker_command() -> anyhow::Result<WorkerCommand> {
    let program = match WORKER_PROGRAM.get() {
        Some(program) => program.clone(),
        None => std::env::current_exe().context("cannot find the runtime-lab binary")?,
    };
    Ok(WorkerCommand::new(program).arg(WORKER_SUBCOMMAND))
}

/// The names, the baselines' included, for clap's value parser.
pub fn names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        ALL.iter()
            .map(|executor| executor.name)
            .chain(baselines::names()),
    )
}

/// The executors that `runtime-lab serve` can run.
pub fn serving_names() -> Vec<&'static str> {
    ALL.iter()
        .filter(|executor| executor.serve.is_some())
        .map(|executor| executor.name)
        .collect()
}

/// Finds an executor by name and checks that it can run here.
pub fn find(name: &str) -> anyhow::Result<&'static Executor> {
    let executor = ALL
        .iter()
        .find(|executor| executor.name == name)
        .ok_or_else(|| anyhow!("no executor named {name:?}"))?;
    (executor.available)()
        .map_err(|reason| anyhow!("executor {name} is unavailable here: {reason}"))?;
    Ok(executor)
}

/// What `run --executor NAME` runs: a Rust executor of [`ALL`], or one of
/// the articles' own programs ([`baselines::ALL`]) on its interpreter, as a
/// child process.
#[derive(Clone, Copy)]
pub enum Runnable {
    /// A Rust executor.
    Executor(&'static Executor),
    /// A Python baseline on its interpreter, or a Go baseline.
    Baseline(Configured),
}

impl Runnable {
    /// Finds `name` and checks that it can run here with `args`; a baseline
    /// that is not installed, asked for on an interpreter it cannot run on,
    /// or given a flag it cannot honour, is a usage error.
    pub fn find(name: &str, args: &WorkloadArgs) -> anyhow::Result<Self> {
        match baselines::resolve(name) {
            Some(baseline) => {
                let baseline = baseline?;
                baseline.check(args)?;
                Ok(Runnable::Baseline(baseline))
            }
            None => find(name).map(Runnable::Executor),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Runnable::Executor(executor) => executor.name,
            Runnable::Baseline(baseline) => baseline.name,
        }
    }

    /// The workload against `upstream_url`. A baseline calibrates its own
    /// kernel, in its own language, from `--cpu-ms`, so it gets no Rust rounds.
    pub fn workload(
        &self,
        args: &WorkloadArgs,
        upstream: pipeline::Upstream,
    ) -> anyhow::Result<Workload> {
        match self {
            Runnable::Executor(_) => args.build(upstream),
            Runnable::Baseline(_) => args.build_with_rounds(upstream, 0),
        }
    }

    /// The most requests it keeps open at once in this process or its child.
    pub fn in_flight(&self, workload: &Workload) -> usize {
        match self {
            Runnable::Executor(executor) => (executor.in_flight)(workload),
            Runnable::Baseline(baseline) => baseline.in_flight(workload),
        }
    }

    /// Runs `workload`.
    pub fn run(&self, workload: &Workload) -> anyhow::Result<RunReport> {
        match self {
            Runnable::Executor(executor) => (executor.run)(workload),
            Runnable::Baseline(baseline) => baseline.run(workload),
        }
    }
}
