//! The fan-out figures (`runtime-lab sweep`): N feature batches fetched and
//! preprocessed by every executor, as the first articles measure them.
//!
//! A sweep plans every (figure, executor, N) point ([`plan`]), starts one
//! feature store and calibrates the kernel once, then runs each point
//! `--repeat` times as a child process `runtime-lab run --json`, in an
//! interleaved order ([`runner`]). It writes `results.csv`, `results.json`
//! ([`results`]), a PNG and an SVG per figure ([`chart`]) and a `REPORT.md`
//! ([`report`]), reading each run's `in_flight_peak` and `phases_ms` beside
//! its report ([`phases`]). A run that fails stops its curve at that N and
//! is recorded with its error.

pub mod chart;
pub mod phases;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;

use crate::machine::Machine;
use crate::{FEATURES, SweepOptions, executor_status, prepare_out_dir, write_atomically};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use lab::baselines;
use lab::upstream::UsageError;
use plan::{Limits, Plan, Scale};
use report::SweepInfo;
use results::Outcome;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs the client sweep that `args` describe and writes its report folder.
pub fn run(args: &SweepOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let (date, started_at) = crate::machine::utc_now();
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
    let statuses: Vec<(&'static str, Result<(), String>)> = crate::series_names()
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
        command: crate::machine::command_line(Path::new("runtime-lab"), &args_given),
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
        crate::draw::write_figure(out, figure.figure.id, figure)?;
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
