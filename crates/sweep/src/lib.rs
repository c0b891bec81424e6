//! `runtime-lab sweep`: the articles' figures, measured on this machine.
//!
//! The figures come in families, each a module that reads as plan, measure,
//! chart and report: [`fanout`], the client figures (`sweep`: N batches
//! fetched and preprocessed by one `runtime-lab run` child per point), and
//! [`serving`], the server figures (`sweep --server`: a `runtime-lab serve`
//! child per point under `runtime-lab load` children), and [`article`], the
//! Python-vs-Go article's table (`sweep --server --figures 5,6,7`: every
//! server on each of its scenarios' routes, through `serving`'s sweep). What every family
//! shares lives once, here and beside them: the machine and command of a
//! report ([`machine`]), markdown tables and number formats ([`table`]), and
//! colours, fonts and the PNG-then-SVG output of a figure ([`draw`]).
//! [`findings`] reads the committed sets back and checks the seeds' claims
//! against them (`runtime-lab findings`, which writes `reports/FINDINGS.md`).
//!
//! Each family plans its points as data, starts one feature store and
//! calibrates the kernel once, runs its points in an interleaved order,
//! and writes `results.csv`, `results.json`, a PNG and an SVG per figure and
//! a `REPORT.md` into the output folder, which it checks is writable before
//! anything runs. Executors that this build does not have yet, or that
//! cannot run here, are skipped and named in the report; a point that fails
//! is recorded with its error, it never ends the sweep.
//!
//! The binary's `sweep` subcommand turns its flags into a [`SweepOptions`]
//! and calls [`run`]. Every run, server and load is a child process of the
//! executable this runs in (`std::env::current_exe`), so the crate sweeps
//! only from inside `runtime-lab`.
//!
//! # Example
//!
//! ```no_run
//! // `runtime-lab sweep --quick --figures 1`.
//! let options = sweep::SweepOptions {
//!     quick: true,
//!     figures: vec![1],
//!     ..Default::default()
//! };
//! sweep::run(&options)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod article;
pub mod draw;
pub mod fanout;
pub mod findings;
pub mod machine;
pub mod serving;
pub mod table;
pub mod talk;

use anyhow::Context;
use lab::args::FaultArgs;
use lab::baselines;
use lab::executors;
use std::path::{Path, PathBuf};

/// Feature values per batch in every run (DESIGN.md's default).
pub const FEATURES: u32 = 1024;

/// Every executor DESIGN.md names, in its table's order. The figures name
/// executors from this list whether or not this build has them yet; a sweep
/// skips the missing ones and says so in REPORT.md.
pub const DESIGN_EXECUTORS: [&str; 11] = [
    "serial",
    "threads",
    "rayon",
    "crossbeam",
    "processes",
    "tokio-ct",
    "tokio-ct-offload",
    "tokio-mt",
    "smol",
    "async-std",
    "glommio",
];

/// Every name `sweep --executors` accepts: DESIGN.md's executors, then the baselines.
pub fn series_names() -> impl Iterator<Item = &'static str> {
    DESIGN_EXECUTORS.into_iter().chain(baselines::names())
}

/// `--out` cannot be created or written; the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to --out {path}: {reason}")]
pub struct OutDirError {
    /// The folder as given.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What a sweep runs and where it writes: the `sweep` subcommand's flags,
/// which the binary's `SweepArgs` convert into.
#[derive(Clone, Default)]
pub struct SweepOptions {
    /// `--quick`: delays scaled down to 100 ms and fewer points.
    pub quick: bool,
    /// `--figures`: the figures to produce; empty means the default set.
    pub figures: Vec<u8>,
    /// `--executors`: the series to run; empty means every one a figure names.
    pub executors: Vec<String>,
    /// `--baselines`: add the Python and Go clients and figure 9.
    pub baselines: bool,
    /// `--repeat`: runs per point (default: 3; with `server`, 2 quick and 3 full).
    pub repeat: Option<u32>,
    /// `--server`: the server figures instead (`serve` under `load`).
    pub server: bool,
    /// `--probe-ms`: overrides the length of each load probe of a server sweep.
    pub probe_ms: Option<u64>,
    /// `--out`: the output folder (default: `reports/<date>-<quick|full>-<cores>c`).
    pub out: Option<PathBuf>,
    /// `--upstream`: an external upstream URL instead of an embedded feature store.
    pub upstream: Option<String>,
    /// `--io-ms`: overrides the scale's upstream delay.
    pub io_ms: Option<u64>,
    /// `--max-n`: drops every point above this N.
    pub max_n: Option<u32>,
    /// The fault flags of the embedded feature store.
    pub faults: FaultArgs,
}

/// Runs the sweep that `args` describe and writes its report folder: the
/// server figures with `server`, the client figures otherwise.
pub fn run(args: &SweepOptions) -> anyhow::Result<()> {
    if args.server {
        serving::run(args)
    } else {
        fanout::run(args)
    }
}

/// Whether `name` runs in this sweep, or why not.
pub(crate) fn executor_status(name: &str, selected: &[String]) -> Result<(), String> {
    if !selected.is_empty() && !selected.iter().any(|s| s == name) {
        return Err("not selected with --executors".to_owned());
    }
    if let Some(baseline) = baselines::resolve(name) {
        return baseline
            .map_err(|unsupported| unsupported.0)
            .and_then(|baseline| baseline.installed());
    }
    let executor = executors::ALL
        .iter()
        .find(|executor| executor.name == name)
        .ok_or_else(|| {
            "not in this build yet (executors::ALL has no such executor; it appears once its branch is merged)"
                .to_owned()
        })?;
    (executor.available)().map_err(|reason| format!("unavailable on this machine: {reason}"))
}

/// Creates `out` and proves it writable, before anything runs; says whether
/// it created the folder.
pub(crate) fn prepare_out_dir(out: &Path) -> Result<bool, OutDirError> {
    let error = |reason: String| OutDirError {
        path: out.to_owned(),
        reason,
    };
    let existed = out.exists();
    if existed && !out.is_dir() {
        return Err(error("it exists and is not a folder".to_owned()));
    }
    std::fs::create_dir_all(out).map_err(|e| error(e.to_string()))?;
    let probe = out.join(".runtime-lab-write-probe");
    let written = std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe));
    if let Err(e) = written {
        if !existed {
            // Leave nothing behind: the folder was ours and is empty.
            let _ = std::fs::remove_dir(out);
        }
        return Err(error(e.to_string()));
    }
    Ok(!existed)
}

/// A temporary name in `out` that keeps `name`'s extension (plotters picks
/// the image format from it).
pub(crate) fn partial(out: &Path, name: &str) -> PathBuf {
    out.join(format!(".partial-{name}"))
}

/// Writes `out/name` through a temporary file and a rename, so that a
/// reader never sees half a file.
pub(crate) fn write_atomically(out: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = partial(out, name);
    let path = out.join(name);
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}
