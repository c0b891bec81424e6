//! `runtime-lab sweep`: the articles' figures, measured on this machine.
//!
//! A sweep plans every (figure, executor, N) point ([`plan`]), starts one
//! feature store and calibrates the kernel once, then runs each point
//! `--repeat` times as a child process `runtime-lab run --json`, in an
//! interleaved order ([`runner`]). It writes `results.csv`, `results.json`,
//! a PNG and an SVG per figure ([`plot`]) and a `REPORT.md` ([`report`]),
//! reading each run's `in_flight_peak` and `phases_ms` beside its report
//! ([`phases`]),
//! into the output folder, which it checks is writable before anything runs.
//!
//! Executors that this build does not have yet, or that cannot run here,
//! are skipped and named in the report; a run that fails stops its curve
//! at that N and is recorded with its error, it never ends the sweep.
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

pub mod phases;
pub mod plan;
pub mod plot;
pub mod report;
pub mod results;
pub mod runner;
pub mod serving;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use lab::args::FaultArgs;
use lab::baselines;
use lab::executors;
use lab::upstream::UsageError;
use plan::{Limits, Plan, Scale};
use report::{Machine, SweepInfo};
use results::Outcome;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Feature values per batch in every run (DESIGN.md's default).
pub const FEATURES: u32 = 1024;

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
    /// `--repeat`: runs per point (default: 3; with `server`, 1 quick and 2 full).
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

/// Runs the sweep that `args` describe and writes its report folder.
pub fn run(args: &SweepOptions) -> anyhow::Result<()> {
    if args.server {
        return serving::run(args);
    }
    let started = Instant::now();
    let (date, started_at) = report::utc_now();
    let machine = Machine::detect();
    let mut scale = if args.quick {
        Scale::quick()
    } else {
        Scale::full()
    };
    if let Some(io_ms) = args.io_ms {
        scale = scale.with_io_ms(io_ms);
    }
    if let Some(max_n) = args.max_n {
        scale = scale.with_max_n(max_n);
    }
    if args.figures.contains(&plan::GIL_FIGURE) && !with_baselines(args) {
        return Err(UsageError(format!(
            "figure {} compares the emulated GIL with CPython: add --baselines",
            plan::GIL_FIGURE
        ))
        .into());
    }
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("reports").join(format!("{date}-{}-{}c", scale.name, machine.cores))
    });
    let created = prepare_out_dir(&out)?;
    let swept = sweep_into(args, &out, scale, &machine, started, started_at);
    if swept.is_err() && created {
        // Leave nothing behind: removing only succeeds while the folder is empty.
        let _ = std::fs::remove_dir(&out);
    }
    swept
}

/// Everything after the output folder is known to be writable.
fn sweep_into(
    args: &SweepOptions,
    out: &Path,
    scale: Scale,
    machine: &Machine,
    started: Instant,
    started_at: String,
) -> anyhow::Result<()> {
    let limits = Limits {
        cores: machine.cores,
        // Raised here, so that every run (a child) inherits it.
        open_files: lab::limits::raise_open_file_limit(),
        threads: thread_limit(),
    };
    // In DESIGN.md's order, so that the report lists executors as DESIGN.md
    // does, then the baselines when they take part.
    let statuses: Vec<(&'static str, Result<(), String>)> = plan::series_names()
        .filter(|&name| with_baselines(args) || baselines::find(name).is_none())
        .map(|name| (name, executor_status(name, &args.executors)))
        .collect();
    let mut figures = plan::figures(&scale);
    if with_baselines(args) {
        figures = plan::with_baselines(figures, &scale);
    }
    let selected: Vec<plan::Figure> = figures
        .into_iter()
        .filter(|figure| args.figures.is_empty() || args.figures.contains(&figure.id))
        .collect();
    let plan = Plan::new(
        selected,
        &scale,
        &limits,
        args.repeat.unwrap_or(3),
        |name| {
            statuses
                .iter()
                .find(|(known, _)| *known == name)
                .map_or_else(
                    || Err("not an executor of DESIGN.md or a baseline".to_owned()),
                    |(_, s)| s.clone(),
                )
        },
    );

    // The upstream is probed once, here; every run is told its kind.
    let upstream = lab::upstream::Upstream::prepare(
        args.upstream.as_deref(),
        None,
        &args.faults,
        lab::upstream::ProbeTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_millis(pipeline::Workload::default_timeout_ms(
                scale.io_ms,
                1,
                0.0,
            )),
        },
    )?;
    let body_bytes = probe_upstream(upstream.target()?)?;
    let calibration = pipeline::Calibration::measure(FEATURES);
    let cpu_rounds = calibration.rounds_for(scale.cpu_ms() as f64);
    let runner = runner::Runner {
        program: runner::this_program()?,
        upstream: upstream.url().to_owned(),
        upstream_kind: upstream.kind(),
        upstream_pid: upstream.pid(),
        cpu_rounds,
        features: FEATURES,
        tolerate_failed_batches: args.faults.any(),
    };
    let upstream_cpu_before = upstream.cpu_ms();
    let (outcomes, counts) = execute(&plan, &runner);
    let upstream_cpu_ms = upstream
        .cpu_ms()
        .zip(upstream_cpu_before)
        .map(|(after, before)| after - before);
    let embedded_upstream = upstream.pid().is_some();
    drop(upstream);

    let (rows, figures) = results::summarize(&plan, &scale, &limits, &outcomes, body_bytes);
    let args_given: Vec<String> = std::env::args().skip(1).collect();
    let info = SweepInfo {
        command: runner::command_line(Path::new("runtime-lab"), &args_given),
        started: started_at,
        scale: scale.name.to_owned(),
        io_ms: scale.io_ms,
        cpu_ms: scale.cpu_ms(),
        cpu_rounds,
        rounds_per_ms: calibration.rounds_per_ms,
        features: FEATURES,
        repeat: plan.repeat,
        upstream: runner.upstream.clone(),
        embedded_upstream,
        upstream_kind: runner.upstream_kind,
        upstream_cpu_ms,
        body_bytes,
        duration_s: started.elapsed().as_secs_f64(),
        estimate_s: plan.estimate_ms() / 1e3,
        runs: counts.runs,
        failed: counts.failed,
        skipped: counts.skipped,
        open_files: limits.open_files,
        threads: limits.threads,
        executors: statuses
            .iter()
            .filter(|(_, status)| status.is_ok())
            .map(|(name, _)| (*name).to_owned())
            .collect(),
        checksum_mismatches: results::checksum_mismatches(&rows),
        baseline_runtimes: if with_baselines(args) {
            baselines::runtime_versions()
                .into_iter()
                .map(|(_, version)| version)
                .collect()
        } else {
            Vec::new()
        },
    };
    // Executors that the selected figures name but that did not run, in DESIGN.md's order.
    let absent: Vec<(String, String)> = statuses
        .iter()
        .filter(|(name, _)| {
            plan.figures
                .iter()
                .any(|figure| figure.absent.iter().any(|a| a.executor == *name))
        })
        .filter_map(|(name, status)| {
            status
                .as_ref()
                .err()
                .map(|reason| ((*name).to_owned(), reason.clone()))
        })
        .collect();

    write_atomically(out, "results.csv", results::to_csv(&rows).as_bytes())?;
    let json = serde_json::json!({
        "machine": machine,
        "sweep": info,
        "figures": figures,
        "rows": rows,
    });
    let json = serde_json::to_string_pretty(&json).context("cannot encode results.json")?;
    write_atomically(out, "results.json", json.as_bytes())?;
    for figure in &figures {
        let id = figure.figure.id;
        let (png, svg) = (format!("fig{id}.png"), format!("fig{id}.svg"));
        let (png_partial, svg_partial) = (partial(out, &png), partial(out, &svg));
        plot::draw(figure, &png_partial, &svg_partial)
            .with_context(|| format!("cannot plot figure {id}"))?;
        for (from, name) in [(png_partial, png), (svg_partial, svg)] {
            std::fs::rename(&from, out.join(&name))
                .with_context(|| format!("cannot write {}", out.join(&name).display()))?;
        }
    }
    let markdown = report::render(machine, &info, &figures, &absent);
    write_atomically(out, "REPORT.md", markdown.as_bytes())?;
    println!(
        "wrote {} ({} figures, {} runs, {} failed, in {:.0} s)",
        out.display(),
        figures.len(),
        counts.runs,
        counts.failed,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether the figures get the baselines' series: `--baselines`, or a
/// baseline named in `--executors`.
fn with_baselines(args: &SweepOptions) -> bool {
    args.baselines
        || args
            .executors
            .iter()
            .any(|name| baselines::find(name).is_some())
}

/// Whether `name` runs in this sweep, or why not.
pub(crate) fn executor_status(name: &str, selected: &[String]) -> Result<(), String> {
    if !selected.is_empty() && !selected.iter().any(|s| s == name) {
        return Err("not selected with --executors".to_owned());
    }
    if let Some(baseline) = baselines::find(name) {
        return baseline.installed();
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

/// Runs counted by [`execute`].
struct Counts {
    runs: usize,
    failed: usize,
    skipped: usize,
}

/// Runs the schedule with a progress bar; returns each job's outcome.
fn execute(plan: &Plan, runner: &runner::Runner) -> (HashMap<(usize, u32), Outcome>, Counts) {
    let jobs = plan.schedule();
    let estimates: Vec<f64> = plan
        .specs
        .iter()
        .map(|spec| spec.estimate_ms(plan.cores))
        .collect();
    // Progress counts estimated milliseconds, not runs, so that the ETA
    // weighs a 6 s serial run more than a 100 ms one.
    let total: u64 = jobs.iter().map(|job| estimates[job.spec] as u64).sum();
    let bar = ProgressBar::new(total.max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:28}] {percent:>3}% ETA {eta:>3} {wide_msg}",
        )
        .expect("the progress template is valid")
        .progress_chars("=> "),
    );
    let mut outcomes = HashMap::new();
    let mut counts = Counts {
        runs: 0,
        failed: 0,
        skipped: 0,
    };
    // The smallest N at which each curve failed, and why.
    let mut stops: HashMap<_, (u32, String)> = HashMap::new();
    for (index, job) in jobs.iter().enumerate() {
        let spec = &plan.specs[job.spec];
        let outcome = match stops.get(&spec.curve()) {
            Some((n, error)) if spec.batches >= *n => {
                counts.skipped += 1;
                Outcome::Skipped {
                    reason: format!("not run: this curve failed at N = {n} ({error})"),
                }
            }
            _ => {
                let figures: Vec<String> = plan
                    .figures_of(job.spec)
                    .iter()
                    .map(u8::to_string)
                    .collect();
                bar.set_message(format!(
                    "fig {}: {}{} N={} (repeat {}/{}, run {}/{})",
                    figures.join(","),
                    spec.executor,
                    if spec.gil { " --gil" } else { "" },
                    spec.batches,
                    job.repeat + 1,
                    plan.repeat,
                    index + 1,
                    jobs.len()
                ));
                counts.runs += 1;
                match runner.run(spec, runner::timeout_for(estimates[job.spec])) {
                    Ok((report, detail)) => Outcome::Ok {
                        run: counts.runs,
                        report: Box::new(report),
                        detail,
                    },
                    Err(error) => {
                        counts.failed += 1;
                        // Printed even when the bar is hidden (stderr not a terminal).
                        bar.suspend(|| {
                            eprintln!("run failed: {} N={}: {error}", spec.executor, spec.batches);
                        });
                        let stop = stops
                            .entry(spec.curve())
                            .or_insert((spec.batches, error.clone()));
                        if spec.batches < stop.0 {
                            *stop = (spec.batches, error.clone());
                        }
                        Outcome::Failed {
                            run: counts.runs,
                            error,
                        }
                    }
                }
            }
        };
        outcomes.insert((job.spec, job.repeat), outcome);
        bar.inc(estimates[job.spec] as u64);
    }
    bar.finish_and_clear();
    (outcomes, counts)
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

/// Fetches one batch without delay: proves the upstream answers before the
/// sweep starts, and measures a response body for figure 8's floor.
fn probe_upstream(upstream: pipeline::Upstream) -> anyhow::Result<usize> {
    let url = upstream.url.clone();
    let workload = pipeline::Workload::new(upstream)
        .batches(1)
        .io_ms(0)
        .features(FEATURES);
    let body = pipeline::BlockingFetcher::new(&workload)
        .fetch(0)
        .with_context(|| format!("the upstream at {url} does not answer"))?;
    Ok(body.len())
}

/// The most threads one process can have here.
fn thread_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};
    let nproc = getrlimit(Resource::RLIMIT_NPROC).map_or(u64::MAX, |(soft, _)| soft);
    [
        read_number("/proc/sys/kernel/threads-max"),
        read_number("/proc/sys/kernel/pid_max"),
        Some(nproc),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(u64::MAX)
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
