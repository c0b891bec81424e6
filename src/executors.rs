//! The executor table: every name `--executor` accepts, and how to run it.

use anyhow::anyhow;
use pipeline::{RunReport, Workload};
use std::path::{Path, PathBuf};
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
    },
    Executor {
        name: exec_threads::NAME,
        summary: "one OS thread per batch, blocking I/O (free-threaded ThreadPoolExecutor)",
        run: |workload| Ok(exec_threads::run(workload)?),
        available: always,
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

/// The `runtime-lab` binary, when the running executable is not it.
static WORKER_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Points executors that start helper processes from the `runtime-lab`
/// binary (the `processes` executor's workers) at `program`.
///
/// The binary itself never needs this: by default they re-execute the
/// current executable. Benches and integration tests run from another
/// executable, so they call it once, before running any executor, with
/// `env!("CARGO_BIN_EXE_runtime-lab")`. Only the first call counts.
pub fn set_worker_program(program: &Path) {
    let _ = WORKER_PROGRAM.set(program.to_owned());
}

/// The program that executors start helper processes from: the one given to
/// [`set_worker_program`], or else the current executable.
pub fn worker_program() -> std::io::Result<PathBuf> {
    match WORKER_PROGRAM.get() {
        Some(program) => Ok(program.clone()),
        None => std::env::current_exe(),
    }
}
