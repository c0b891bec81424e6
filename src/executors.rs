//! The executor table: every name `--executor` accepts, and how to run it.

use anyhow::anyhow;
use pipeline::{RunReport, Workload};

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
    },
    Executor {
        name: exec_threads::NAME,
        summary: "one OS thread per batch, blocking I/O (free-threaded ThreadPoolExecutor)",
        run: |workload| Ok(exec_threads::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
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
    },
    Executor {
        name: exec_tokio::NAME_MT,
        summary: "tokio work-stealing pool of W workers, CPU inline in each task (goroutines)",
        run: |workload| Ok(exec_tokio::run(workload, exec_tokio::Flavor::MultiThread)?),
        available: always,
        in_flight: Workload::in_flight_limit,
    },
    Executor {
        name: exec_smol::NAME,
        summary: "one async-executor run on W threads, async-io sockets",
        run: |workload| Ok(exec_smol::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
    },
    Executor {
        name: exec_async_std::NAME,
        summary: "async-std's global executor (discontinued upstream; legacy row)",
        run: |workload| Ok(exec_async_std::run(workload)?),
        available: always,
        in_flight: Workload::in_flight_limit,
    },
];

/// The names, for clap's value parser.
pub fn names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(ALL.iter().map(|executor| executor.name))
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
