//! REPORT.md: the machine, the exact command, and per figure the plot, a
//! table of medians and two or three sentences computed from the results.
//!
//! Every number in the prose comes from the results; the only fixed text is
//! what each figure reproduces and how to read it.

use super::phases::Phase;
use super::plan::{GIL_FIGURE, HEADLINE_BATCHES, Measure, Workers};
use super::results::{Divisor, FigureResult, HELD_SHARE, PointResult, SeriesResult};
use crate::baselines::Language;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The machine a sweep ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs available to the process.
    pub cores: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`, or the version that built this binary.
    pub rustc: String,
}

impl Machine {
    /// Reads the machine's description; unknown fields read "unknown".
    pub fn detect() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = nix::sys::utsname::uname()
            .map(|uts| uts.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cpu_model,
            cores: pipeline::available_cores(),
            kernel,
            rustc: rustc_version(),
        }
    }
}

fn rustc_version() -> String {
    let installed = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|version| !version.is_empty());
    match (installed, option_env!("RUNTIME_LAB_RUSTC_VERSION")) {
        (Some(version), _) => version,
        (None, Some(built)) => format!("{built} (that built this binary; no rustc on PATH)"),
        (None, None) => "unknown".to_owned(),
    }
}

/// The sweep's settings and totals, for the report's header and results.json.
#[derive(Debug, Clone, Serialize)]
pub struct SweepInfo {
    /// The exact command line.
    pub command: String,
    /// UTC date and time the sweep started.
    pub started: String,
    /// `quick` or `full`.
    pub scale: String,
    /// Upstream delay per request.
    pub io_ms: u64,
    /// CPU time per batch in the io + CPU figures.
    pub cpu_ms: u64,
    /// Kernel rounds per batch for `cpu_ms`, passed to every run.
    pub cpu_rounds: u64,
    /// The calibration: rounds per millisecond of one core.
    pub rounds_per_ms: f64,
    /// Feature values per batch.
    pub features: u32,
    /// Repeats per point.
    pub repeat: u32,
    /// The feature store's URL.
    pub upstream: String,
    /// Whether the sweep started the feature store itself.
    pub embedded_upstream: bool,
    /// What the sweep's probe found the upstream to be: anything but a
    /// feature store sets its own delay.
    pub upstream_kind: pipeline::UpstreamKind,
    /// CPU time of the embedded feature store during the sweep.
    pub upstream_cpu_ms: Option<f64>,
    /// Bytes of one feature batch's response body.
    pub body_bytes: usize,
    /// Wall time of the whole sweep.
    pub duration_s: f64,
    /// The plan's estimate of it.
    pub estimate_s: f64,
    /// Child runs started.
    pub runs: usize,
    /// Child runs that failed.
    pub failed: usize,
    /// Runs skipped after a failure of the same curve.
    pub skipped: usize,
    /// Open files a run may hold.
    pub open_files: u64,
    /// Threads a run may start.
    pub threads: u64,
    /// The executors this build has and can run here.
    pub executors: Vec<String>,
    /// Batch counts whose runs disagree on the checksum.
    pub checksum_mismatches: Vec<String>,
    /// The installed runtime of each baseline language (`Python 3.11.7`,
    /// `go1.19.8`), when the sweep runs baselines.
    pub baseline_runtimes: Vec<String>,
}

/// The UTC date and time now, as (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS UTC`).
pub fn utc_now() -> (String, String) {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (seconds / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let of_day = seconds % 86_400;
    let date = format!("{year:04}-{month:02}-{day:02}");
    let time = format!(
        "{date} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    (date, time)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Renders REPORT.md.
pub fn render(
    machine: &Machine,
    info: &SweepInfo,
    figures: &[FigureResult],
    absent_overall: &[(String, String)],
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# runtime-lab sweep: {} set on {} cores\n",
        info.scale, machine.cores
    );
    md.push_str(
        "Generated by `runtime-lab sweep`; never edit it by hand, run the command again.\n\n",
    );
    md.push_str("| | |\n|---|---|\n");
    let mut row = |key: &str, value: String| {
        let _ = writeln!(md, "| {key} | {} |", value.replace('|', "\\|"));
    };
    row("command", format!("`{}`", info.command));
    row("date", info.started.clone());
    row("CPU", machine.cpu_model.clone());
    row(
        "cores",
        format!("{} (logical CPUs available to every run)", machine.cores),
    );
    row("kernel", machine.kernel.clone());
    row("rustc", machine.rustc.clone());
    row(
        "feature store",
        match (info.embedded_upstream, info.upstream_cpu_ms) {
            (true, Some(cpu_ms)) => format!(
                "embedded child process at {}; it used {:.1} s of CPU during the sweep ({:.0}% of one core over the sweep's {:.0} s), on the same cores as the runs",
                info.upstream,
                cpu_ms / 1e3,
                100.0 * cpu_ms / 1e3 / info.duration_s.max(1e-9),
                info.duration_s
            ),
            (true, None) => format!("embedded child process at {}", info.upstream),
            (false, _) if info.upstream_kind != pipeline::UpstreamKind::FeatureStore => format!(
                "external URL {} ({}): the service sets its own delay, so io_ms and the ideal bound only hold if it matches (its CPU time is not visible to the sweep)",
                info.upstream,
                info.upstream_kind.as_str()
            ),
            (false, _) => format!(
                "external, {} (its CPU time is not visible to the sweep)",
                info.upstream
            ),
        },
    );
    row(
        "workload",
        format!(
            "io {} ms per request; the io + CPU figures add {} ms of CPU per batch (fraction of I/O 0.5) = {} kernel rounds, calibrated once for the whole sweep ({:.1} rounds/ms); {} features per batch ({:.1} KiB response); a fresh connection per request",
            info.io_ms,
            info.cpu_ms,
            info.cpu_rounds,
            info.rounds_per_ms,
            info.features,
            info.body_bytes as f64 / 1024.0
        ),
    );
    row(
        "method",
        format!(
            "every run is a child process `runtime-lab run --json`; each point is the median of {} runs with min-max whiskers; executors are interleaved and rotated each round; figures with the same workload share runs",
            info.repeat
        ),
    );
    row(
        "runs",
        format!(
            "{} runs ({} failed, {} skipped after a failure) in {:.0} s (planned {:.0} s)",
            info.runs, info.failed, info.skipped, info.duration_s, info.estimate_s
        ),
    );
    row(
        "limits",
        format!(
            "{} open files and {} threads per run",
            info.open_files, info.threads
        ),
    );
    row(
        "checksums",
        if info.checksum_mismatches.is_empty() {
            "every ok run of the same N reported the same checksum: all executors did the same work"
                .to_owned()
        } else {
            format!("MISMATCH: {}", info.checksum_mismatches.join("; "))
        },
    );
    if !info.baseline_runtimes.is_empty() {
        row(
            "baselines",
            format!(
                "the articles' own clients from scripts/baselines/ ({}), each run as a child of `runtime-lab run` against the same feature store; each calibrates the kernel in its own language to the same {} ms of CPU per batch, so Rust, Go and Python do equal work in milliseconds",
                info.baseline_runtimes.join(", "),
                info.cpu_ms
            ),
        );
    }
    let _ = writeln!(
        md,
        "\nExecutors run: {}.",
        if info.executors.is_empty() {
            "none".to_owned()
        } else {
            info.executors.join(", ")
        }
    );
    if !absent_overall.is_empty() {
        md.push_str("Not run:\n\n");
        for (executor, reason) in absent_overall {
            let _ = writeln!(md, "- `{executor}`: {reason}");
        }
    }
    let _ = writeln!(
        md,
        "\nHow to read the figures: the dashed line is the machine's ideal bound from DESIGN.md, `io_ms + ceil(N / cores) * cpu_per_batch_ms`, with `cpu_per_batch_ms` the median measured in the figure's runs (so a slow phase of the machine moves the bound with it); efficiency is ideal / median wall. The cores are {}: beyond that, CPU work cannot overlap. Whiskers span the fastest and slowest of the repeats.\n",
        machine.cores
    );
    let side_by_side = side_by_side(figures);
    if !side_by_side.is_empty() {
        md.push_str("## Rust, Go and Python side by side\n\n");
        let _ = writeln!(md, "{}\n", side_by_side.join(" "));
    }
    for figure in figures {
        render_figure(&mut md, figure);
    }
    md
}

/// The baselines' headline numbers, for the top of the report: how far
/// `--gil` is from CPython's threads (figure 9), and the best Rust executor
/// against Go and Python at the articles' largest point (figure 5).
fn side_by_side(figures: &[FigureResult]) -> Vec<String> {
    let mut sentences = Vec::new();
    if let Some(figure) = figures.iter().find(|f| f.figure.id == GIL_FIGURE) {
        let gaps: Vec<(u32, f64)> = figure
            .figure
            .ns
            .iter()
            .filter_map(|&n| ratio_at(figure, "py-threads", "threads --gil", n).map(|r| (n, r)))
            .collect();
        if let Some(&(n, gap)) = gaps.last() {
            let mut sentence = format!(
                "The emulated GIL against CPython's (figure 9): at N = {n}, py-threads takes {gap:.2}x the wall time of `threads --gil` (1.00 would be an exact emulation){}",
                range_note(&gaps)
            );
            if let (Some(python), Some(emulated)) = (
                cpu_batches(figure, "py-threads", n),
                cpu_batches(figure, "threads --gil", n),
            ) {
                let _ = write!(
                    sentence,
                    "; counted in each run's own CPU time per batch, their wall times beyond the delay hold {python:.1} and {emulated:.1} batches of CPU work ({:.2}x)",
                    python / emulated
                );
            }
            sentence.push('.');
            sentences.push(sentence);
        }
    }
    if let Some(figure) = figures.iter().find(|f| f.figure.id == 5)
        && let Some(sentence) = headline(figure)
    {
        sentences.push(sentence);
    }
    sentences
}

/// ", and from 0.95x to 1.10x over N = 1 to 16" when there are several Ns.
fn range_note(ratios: &[(u32, f64)]) -> String {
    let (Some(first), Some(last)) = (ratios.first(), ratios.last()) else {
        return String::new();
    };
    if ratios.len() < 2 {
        return String::new();
    }
    let min = ratios.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let max = ratios.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
    format!(
        ", and from {min:.2}x to {max:.2}x over N = {} to {}",
        thousands(first.0),
        thousands(last.0)
    )
}

/// The median wall time of the series labelled `label` at `n`.
fn wall_at(result: &FigureResult, label: &str, n: u32) -> Option<f64> {
    result
        .series
        .iter()
        .find(|s| s.label == label)
        .and_then(|s| s.at(n))
        .map(|p| p.wall_ms.median)
}

/// How many batches of its own CPU work the series' wall time beyond the
/// delay holds at `n`: `(wall - io) / cpu_per_batch`, N when the CPU work
/// ran one batch at a time, N / cores when it overlapped perfectly. It
/// compares runs whose kernels were calibrated apart (Rust once per sweep,
/// Python in each run) on the work each really did.
fn cpu_batches(result: &FigureResult, label: &str, n: u32) -> Option<f64> {
    let point = result
        .series
        .iter()
        .find(|s| s.label == label)
        .and_then(|s| s.at(n))?;
    (point.cpu_per_batch_ms > 0.0)
        .then(|| (point.wall_ms.median - result.io_ms as f64) / point.cpu_per_batch_ms)
}

/// `a`'s median wall time over `b`'s at `n`, when both were measured.
fn ratio_at(result: &FigureResult, a: &str, b: &str, n: u32) -> Option<f64> {
    wall_at(result, a, n)
        .zip(wall_at(result, b, n))
        .map(|(a, b)| a / b)
}

/// Figure 5 at [`HEADLINE_BATCHES`]: the fastest Rust executor against
/// `go-goroutines` and `py-processes`, as ratios.
fn headline(result: &FigureResult) -> Option<String> {
    let n = HEADLINE_BATCHES;
    let (best, best_label) = result
        .series
        .iter()
        .filter(|s| Language::of(s.executor) == Language::Rust)
        .filter_map(|s| s.at(n).map(|p| (p.wall_ms.median, s.label.as_str())))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    let others: Vec<String> = ["go-goroutines", "py-processes"]
        .iter()
        .filter_map(|label| {
            wall_at(result, label, n)
                .map(|wall| format!("{label} {} ({:.2}x)", ms_unit(wall), wall / best))
        })
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(format!(
        "At N = {n} batches of io {} ms + {} ms CPU (fraction 0.5), the articles' largest point (figure 5): the best Rust executor, {best_label}, takes {}; {}.",
        result.io_ms,
        result.cpu_ms,
        ms_unit(best),
        others.join(", ")
    ))
}

/// The pairs of series whose wall-time ratio figure 9 reports: CPython
/// against its emulation, and the emulation against no lock at all.
const GIL_RATIOS: [(&str, &str); 5] = [
    ("py-threads", "threads --gil"),
    ("py-threads", "threads"),
    ("threads --gil", "threads"),
    ("py-asyncio", "tokio-ct"),
    ("py-processes", "processes --gil"),
];

/// Figure 9's table: the ratios of [`GIL_RATIOS`] at every N.
fn render_gil_ratios(md: &mut String, result: &FigureResult) {
    md.push_str("Wall-time ratios (medians):\n\n| N |");
    for (a, b) in GIL_RATIOS {
        let _ = write!(md, " {a} / {b} |");
    }
    md.push_str("\n|---:|");
    md.push_str(&"---:|".repeat(GIL_RATIOS.len()));
    md.push('\n');
    for &n in &result.figure.ns {
        let _ = write!(md, "| {} |", thousands(n));
        for (a, b) in GIL_RATIOS {
            match ratio_at(result, a, b, n) {
                Some(ratio) => {
                    let _ = write!(md, " {ratio:.2}x |");
                }
                None => md.push_str(" - |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// Figure 9's sentences: how far `--gil` is from CPython, and why.
fn gil_findings(result: &FigureResult, sentences: &mut Vec<String>) {
    let measured_n = |a: &str, b: &str| {
        result
            .figure
            .ns
            .iter()
            .rev()
            .copied()
            .find(|&n| ratio_at(result, a, b, n).is_some())
    };
    if let Some(n) = measured_n("py-threads", "threads --gil") {
        let gaps: Vec<(u32, f64)> = result
            .figure
            .ns
            .iter()
            .filter_map(|&n| ratio_at(result, "py-threads", "threads --gil", n).map(|r| (n, r)))
            .collect();
        let gap = ratio_at(result, "py-threads", "threads --gil", n).unwrap_or(f64::NAN);
        let mut sentence = format!(
            "How far the emulation is from CPython: at N = {n}, py-threads takes {gap:.2}x the wall time of threads --gil (1.00 would be exact){}",
            range_note(&gaps)
        );
        if let (Some(cpython), Some(emulated)) = (
            ratio_at(result, "py-threads", "threads", n),
            ratio_at(result, "threads --gil", "threads", n),
        ) {
            let _ = write!(
                sentence,
                "; against threads without a lock, CPython's threads take {cpython:.2}x and the emulation {emulated:.2}x"
            );
        }
        sentence.push('.');
        sentences.push(sentence);
        let cpu = |label: &str| {
            result
                .series
                .iter()
                .find(|s| s.label == label)
                .and_then(|s| s.at(n))
                .map(|p| (p.cpu_per_batch_ms, p.process_cpu_per_batch_ms))
        };
        if let (Some(python), Some(rust)) = (cpu("py-threads"), cpu("threads --gil")) {
            sentences.push(format!(
                "Per batch at N = {n}, py-threads spent {:.1} ms of CPU preprocessing and {:.1} ms of process CPU in all, threads --gil {:.1} and {:.1} ms: what CPython spends beyond the calibrated work (decoding, the requests client, thread hand-overs) also holds its lock.",
                python.0, python.1, rust.0, rust.1
            ));
        }
        let batches: Vec<String> = [
            "threads",
            "threads --gil",
            "py-threads",
            "tokio-ct",
            "py-asyncio",
        ]
        .iter()
        .filter_map(|label| cpu_batches(result, label, n).map(|b| format!("{label} {b:.1}")))
        .collect();
        if batches.len() > 1 {
            sentences.push(format!(
                "Counted in each run's own CPU time per batch, the wall time beyond the delay at N = {n} holds this many batches of CPU work ({n} would be one at a time, {} all {} cores busy): {}.",
                f64::from(n) / result.cores as f64,
                result.cores,
                batches.join(", ")
            ));
        }
    }
    let others: Vec<String> = [
        (
            "py-asyncio",
            "tokio-ct",
            "py-asyncio, CPU inline on its event loop, takes",
        ),
        ("py-processes", "processes --gil", "py-processes takes"),
    ]
    .iter()
    .filter_map(|&(a, b, what)| {
        measured_n(a, b).and_then(|n| {
            ratio_at(result, a, b, n).map(|r| format!("{what} {r:.2}x {b}'s wall time at N = {n}"))
        })
    })
    .collect();
    if !others.is_empty() {
        sentences.push(format!("{}.", others.join("; ")));
    }
}

fn render_figure(md: &mut String, result: &FigureResult) {
    let figure = &result.figure;
    let _ = writeln!(md, "## Figure {}\n", figure.title);
    let _ = writeln!(
        md,
        "![figure {id}](fig{id}.png) ([SVG](fig{id}.svg))\n",
        id = figure.id
    );
    let workload = match figure.work {
        super::plan::Work::IoOnly => format!("io only ({} ms)", result.io_ms),
        super::plan::Work::IoAndCpu => format!(
            "io {} ms + {} ms CPU per batch (measured {:.1} ms)",
            result.io_ms, result.cpu_ms, result.cpu_per_batch_ms
        ),
    };
    let _ = writeln!(
        md,
        "Reproduces {}. Workload: {workload}, on {} cores.\n",
        figure.reproduces, result.cores
    );
    let one_per_batch: Vec<String> = result
        .series
        .iter()
        .filter(|s| s.workers == Workers::OnePerBatch)
        .map(|s| format!("`{}`", s.executor))
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        });
    if !one_per_batch.is_empty() {
        let _ = writeln!(
            md,
            "{} {} with `--workers N`, one worker process per batch, as the article's `ProcessPoolExecutor(max_workers=N)`.\n",
            one_per_batch.join(" and "),
            if one_per_batch.len() == 1 {
                "runs"
            } else {
                "run"
            }
        );
    }
    // Group the executors that did not run by reason: one line per reason.
    let mut by_reason: Vec<(&str, Vec<String>)> = Vec::new();
    for absent in &figure.absent {
        let name = format!("`{}`", absent.executor);
        match by_reason
            .iter_mut()
            .find(|(reason, _)| *reason == absent.reason)
        {
            Some((_, names)) => names.push(name),
            None => by_reason.push((&absent.reason, vec![name])),
        }
    }
    for (reason, names) in &by_reason {
        let _ = writeln!(md, "- not run: {}: {reason}", names.join(", "));
    }
    if !by_reason.is_empty() {
        md.push('\n');
    }
    let sentences = findings(result);
    if sentences.is_empty() {
        md.push_str("No executor of this figure produced a point in this sweep.\n\n");
    } else {
        let _ = writeln!(md, "{}\n", sentences.join(" "));
    }
    if figure.measure == Measure::Phases {
        render_phase_table(md, result);
    } else {
        render_table(md, result);
    }
    if figure.id == GIL_FIGURE {
        render_gil_ratios(md, result);
    }
    let stops: Vec<&SeriesResult> = result.series.iter().filter(|s| s.stop.is_some()).collect();
    if !stops.is_empty() {
        md.push_str("Where curves stop:\n\n");
        for series in stops {
            let stop = series.stop.as_ref().expect("filtered on stop");
            let _ = writeln!(
                md,
                "- `{}` stops at N = {}: {}",
                series.label,
                thousands(stop.n),
                stop.reason
            );
        }
        md.push('\n');
    }
}

/// A point's requests in flight for a table cell: "7,517 of 10,000" when
/// it held less than [`HELD_SHARE`] of N, the count when it held N, and
/// "not measured" when its runs did not report it.
fn in_flight_cell(point: &PointResult) -> String {
    match point.in_flight_peak {
        None => "not measured".to_owned(),
        Some(held) if point.short_of_n => {
            format!(
                "{} of {}",
                thousands(held.round() as u32),
                thousands(point.n)
            )
        }
        Some(held) => thousands(held.round() as u32),
    }
}

fn render_table(md: &mut String, result: &FigureResult) {
    let memory = result.figure.measure == Measure::MemoryPerRequest;
    let in_flight = result.figure.in_flight_axis;
    if memory {
        md.push_str("| series | N | in flight (peak) | peak RSS median (MiB) | min-max (MiB) | KiB per extra request in flight (min-max) | threads |\n|---|---:|---:|---:|---:|---:|---:|\n");
    } else if in_flight {
        md.push_str("| series | N | in flight (peak) | wall median (ms) | min-max (ms) | ideal (ms) | efficiency | peak RSS (MiB) | threads |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        md.push_str("| series | N | wall median (ms) | min-max (ms) | ideal (ms) | efficiency | peak RSS (MiB) | threads |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    let mut rows = 0;
    let mut per_batch = false;
    for series in &result.series {
        for point in &series.points {
            rows += 1;
            let mib = |kb: f64| kb / 1024.0;
            let held = if in_flight {
                format!(" {} |", in_flight_cell(point))
            } else {
                String::new()
            };
            if memory {
                let per = point.kib_per_request.map_or("(baseline)".to_owned(), |s| {
                    let marker = if point.per_request_divisor == Some(Divisor::Batches) {
                        per_batch = true;
                        " per batch"
                    } else {
                        ""
                    };
                    format!("{:.1} ({:.1}-{:.1}){marker}", s.median, s.min, s.max)
                });
                let _ = writeln!(
                    md,
                    "| {} | {} |{held} {:.1} | {:.1}-{:.1} | {per} | {:.0} |",
                    series.label,
                    thousands(point.n),
                    mib(point.peak_rss_kb.median),
                    mib(point.peak_rss_kb.min),
                    mib(point.peak_rss_kb.max),
                    point.threads_peak
                );
            } else {
                let _ = writeln!(
                    md,
                    "| {} | {} |{held} {} | {}-{} | {} | {} | {:.1} | {:.0} |",
                    series.label,
                    thousands(point.n),
                    ms(point.wall_ms.median),
                    ms(point.wall_ms.min),
                    ms(point.wall_ms.max),
                    ms(point.ideal_ms),
                    // A point whose runs lost batches has no efficiency.
                    point
                        .efficiency
                        .map_or_else(|| "incomplete".to_owned(), |e| format!("{e:.2}")),
                    mib(point.peak_rss_kb.median),
                    point.threads_peak
                );
            }
        }
        // The point where a run failed is a row of its own, with no numbers.
        if let Some(stop) = series.stop.as_ref().filter(|stop| stop.failed) {
            rows += 1;
            let cells = match (memory, in_flight) {
                (true, _) => 5,
                (false, true) => 7,
                (false, false) => 6,
            };
            let _ = writeln!(
                md,
                "| {} | {} | failed |{}",
                series.label,
                thousands(stop.n),
                " |".repeat(cells - 1)
            );
        }
    }
    if rows == 0 {
        md.push_str("| (no points) | | | | | |\n");
    }
    md.push('\n');
    if in_flight {
        let _ = writeln!(
            md,
            "In flight: the median over the repeats of each run's `in_flight_peak`, the most requests between issue and completion at the same moment; \"7,517 of 10,000\" marks a point that held less than {:.0}% of N (hollow markers in the plot).{}\n",
            100.0 * HELD_SHARE,
            if per_batch {
                " \"per batch\": the runs did not report `in_flight_peak`, so the extra RSS is divided by the extra N, which understates the cost per request wherever a run did not hold N at once."
            } else {
                ""
            }
        );
    }
}

/// The phase figure's table: p50 / p99 of each phase per executor, at each
/// of the figure's Ns, beside the sum of the p50s and the median latency.
fn render_phase_table(md: &mut String, result: &FigureResult) {
    md.push_str("| series | N |");
    for phase in Phase::ALL {
        let _ = write!(md, " {} p50 / p99 (ms) |", phase.as_str());
    }
    md.push_str(" sum of p50s (ms) | latency p50 (ms) |\n|---|---:|");
    md.push_str(&"---:|".repeat(Phase::ALL.len() + 2));
    md.push('\n');
    let mut rows = 0;
    for &n in result.figure.ns.iter().rev() {
        for series in &result.series {
            let Some(point) = series.at(n) else {
                continue;
            };
            rows += 1;
            let _ = write!(md, "| {} | {} |", series.label, thousands(n));
            for phase in Phase::ALL {
                match point.phases.as_ref().and_then(|p| p.get(phase)) {
                    Some(s) => {
                        let _ = write!(md, " {} / {} |", phase_ms(s.p50), phase_ms(s.p99));
                    }
                    None => md.push_str(" - |"),
                }
            }
            let sum = point
                .phases
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| phase_ms(p.p50_sum()));
            let _ = writeln!(md, " {sum} | {} |", phase_ms(point.latency_p50_ms));
        }
    }
    if rows == 0 {
        md.push_str("| (no points) | |\n");
    }
    md.push('\n');
}

/// Milliseconds of a phase as a table cell: phases range from microseconds
/// (decode) to seconds (queue), so small values keep two decimals.
fn phase_ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Milliseconds of a phase in prose.
fn phase_ms_unit(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1e3)
    } else {
        format!("{} ms", phase_ms(value))
    }
}

/// The figure's findings: sentences whose every number comes from the results.
pub fn findings(result: &FigureResult) -> Vec<String> {
    let measured: Vec<&SeriesResult> = result
        .series
        .iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    if measured.is_empty() {
        return Vec::new();
    }
    let mut sentences = Vec::new();
    match result.figure.measure {
        Measure::MemoryPerRequest => {
            memory_findings(result, &measured, &mut sentences);
            return sentences;
        }
        Measure::Phases => {
            phase_findings(result, &measured, &mut sentences);
            return sentences;
        }
        Measure::WallTime => {}
    }
    let bound = |n: u32| {
        result
            .bound
            .iter()
            .find(|b| b.n == n)
            .map_or(f64::NAN, |b| b.value)
    };
    let wall = |label: &str, n: u32| {
        measured
            .iter()
            .find(|s| s.label == label)
            .and_then(|s| s.at(n))
            .map(|p| p.wall_ms.median)
    };
    // The largest N that at least two curves reached (curves that stop
    // earlier are named), to compare like with like.
    let enough = measured.len().min(2);
    let common_n = result
        .figure
        .ns
        .iter()
        .rev()
        .copied()
        .find(|&n| measured.iter().filter(|s| s.at(n).is_some()).count() >= enough);
    if let Some(n) = common_n {
        let mut ratios: Vec<(f64, &str, f64)> = measured
            .iter()
            .filter_map(|s| {
                s.at(n).map(|p| {
                    (
                        p.wall_ms.median / bound(n),
                        s.label.as_str(),
                        p.wall_ms.median,
                    )
                })
            })
            .collect();
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        let listed: Vec<String> = ratios
            .iter()
            .map(|(ratio, label, wall)| format!("{label} {} ({ratio:.1}x)", ms_unit(*wall)))
            .collect();
        let short: Vec<&str> = measured
            .iter()
            .filter(|s| s.at(n).is_none())
            .map(|s| s.label.as_str())
            .collect();
        sentences.push(format!(
            "At N = {} on {} cores, against an ideal of {}: {}{}.",
            thousands(n),
            result.cores,
            ms_unit(bound(n)),
            listed.join(", "),
            if short.is_empty() {
                String::new()
            } else {
                format!(" ({} stop earlier)", short.join(", "))
            }
        ));
    }
    let growth: Vec<String> = measured
        .iter()
        .filter(|s| s.points.len() > 1)
        .map(|s| {
            let (first, last) = (&s.points[0], &s.points[s.points.len() - 1]);
            format!(
                "{} {:.1}x (N = {} to {})",
                s.label,
                last.wall_ms.median / first.wall_ms.median,
                thousands(first.n),
                thousands(last.n)
            )
        })
        .collect();
    if !growth.is_empty() {
        sentences.push(format!(
            "Wall time grows from the smallest to the largest N reached by: {}.",
            growth.join(", ")
        ));
    }
    let Some(n) = common_n else {
        return sentences;
    };
    let ratio = |a: &str, b: &str| wall(a, n).zip(wall(b, n)).map(|(a, b)| a / b);
    match result.figure.id {
        1 => {
            if let Some(r) = ratio("serial", "threads") {
                sentences.push(format!(
                    "At N = {n}, serial takes {r:.1}x as long as threads."
                ));
            }
        }
        3 => {
            if let (Some(r), Some(event_loop)) = (ratio("tokio-ct", "serial"), wall("tokio-ct", n))
            {
                sentences.push(format!(
                    "tokio-ct, with the CPU work inline on its one event loop, takes {r:.2}x serial's wall time at N = {n} (1.00 is fully serial) and {:.1}x its ideal.",
                    event_loop / bound(n)
                ));
            }
            if let Some(r) = ratio("tokio-ct", "tokio-mt") {
                sentences.push(format!("tokio-ct / tokio-mt = {r:.1}x."));
            }
        }
        4 => {
            let parts: Vec<String> = [("processes", "tokio-ct"), ("processes", "serial")]
                .iter()
                .filter_map(|(a, b)| ratio(a, b).map(|r| format!("{a} / {b} = {r:.2}x")))
                .collect();
            if !parts.is_empty() {
                sentences.push(format!("At N = {n}: {}.", parts.join(", ")));
            }
        }
        5 | 2 => {
            // Only points whose runs did every batch have an efficiency.
            let mut by_efficiency: Vec<(f64, &str)> = measured
                .iter()
                .filter_map(|s| {
                    s.at(n)
                        .filter(|p| p.efficiency.is_some())
                        .map(|p| (bound(n) / p.wall_ms.median, s.label.as_str()))
                })
                .collect();
            by_efficiency.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let [best, .., worst] = by_efficiency.as_slice() {
                sentences.push(format!(
                    "Most efficient at N = {n}: {} ({:.0}% of ideal); least: {} ({:.0}%).",
                    best.1,
                    100.0 * best.0,
                    worst.1,
                    100.0 * worst.0
                ));
            }
            if result.figure.id == 5
                && let Some(sentence) = headline(result)
            {
                sentences.push(sentence);
            }
        }
        GIL_FIGURE => gil_findings(result, &mut sentences),
        6 => {
            let parts: Vec<String> = ["threads", "tokio-ct-offload", "processes"]
                .iter()
                .filter_map(|e| ratio(&format!("{e} --gil"), e).map(|r| format!("{e} {r:.2}x")))
                .collect();
            if !parts.is_empty() {
                sentences.push(format!(
                    "The emulated GIL multiplies wall time at N = {n} by: {}.",
                    parts.join(", ")
                ));
            }
        }
        _ => {}
    }
    if result.figure.id == 7 {
        // Of the curves that reach the figure's largest N: which stay flat.
        let (within, beyond): (Vec<_>, Vec<_>) = measured
            .iter()
            .filter_map(|s| {
                s.at(n)
                    .map(|p| (s.label.as_str(), p.wall_ms.median / bound(n)))
            })
            .partition(|(_, ratio)| *ratio <= 1.25);
        let names = |curves: &[(&str, f64)]| {
            if curves.is_empty() {
                "none".to_owned()
            } else {
                let listed: Vec<String> = curves
                    .iter()
                    .map(|(label, r)| format!("{label} {r:.1}x"))
                    .collect();
                listed.join(", ")
            }
        };
        sentences.push(format!(
            "At N = {}, within 25% of the flat ideal: {}; beyond: {}.",
            thousands(n),
            names(&within),
            names(&beyond)
        ));
    }
    if result.figure.in_flight_axis {
        sentences.extend(held_findings(&measured));
    }
    sentences
}

/// Which points of an in-flight figure did not hold their N requests at
/// once, or that nobody measured it.
pub fn held_findings(measured: &[&SeriesResult]) -> Option<String> {
    let points = || measured.iter().flat_map(|s| s.points.iter());
    if points().all(|p| p.in_flight_peak.is_none()) {
        return Some(
            "No run reported `in_flight_peak`, so whether each run held its N requests in flight at once is not known here."
                .to_owned(),
        );
    }
    let short: Vec<String> = measured
        .iter()
        .filter_map(|s| {
            let held: Vec<String> = s
                .points
                .iter()
                .filter(|p| p.short_of_n)
                .map(in_flight_cell)
                .collect();
            (!held.is_empty()).then(|| format!("{} {}", s.label, held.join(", ")))
        })
        .collect();
    Some(if short.is_empty() {
        format!(
            "Every measured point held at least {:.0}% of its N requests in flight at once.",
            100.0 * HELD_SHARE
        )
    } else {
        format!(
            "Points that held fewer than {:.0}% of N requests in flight at once (their first requests finished before the last started; hollow markers in the plot): {}.",
            100.0 * HELD_SHARE,
            short.join("; ")
        )
    })
}

/// The phase figure's sentences: for each executor, the phase that grows
/// most from the figure's small N to its large N, and how the phase medians
/// add up against the median latency at the large N.
pub fn phase_findings(
    result: &FigureResult,
    measured: &[&SeriesResult],
    sentences: &mut Vec<String>,
) {
    let (Some(&small), Some(&large)) = (result.figure.ns.first(), result.figure.ns.last()) else {
        return;
    };
    let (timed, untimed): (Vec<&SeriesResult>, Vec<&SeriesResult>) = measured
        .iter()
        .partition(|s| s.points.iter().any(|p| p.phases.is_some()));
    if timed.is_empty() {
        sentences.push(format!(
            "Phases were not measured: no run of this figure reported `phases_ms` (a build before the phase timings, or a baseline, which does not time them), so the figure has no bars; the table still gives each executor's median latency at N = {}.",
            thousands(large)
        ));
        return;
    }
    // With one N there is nothing to grow from.
    let growth: Vec<String> = timed
        .iter()
        .filter(|_| small < large)
        .filter_map(|s| phase_growth(s, small, large))
        .collect();
    if !growth.is_empty() {
        sentences.push(format!(
            "The phase whose median grows most from N = {} to N = {}, per executor: {}.",
            thousands(small),
            thousands(large),
            growth.join("; ")
        ));
    }
    let sums: Vec<String> = timed
        .iter()
        .filter_map(|s| {
            let point = s.at(large)?;
            let sum = point.phases.as_ref()?.p50_sum();
            Some(format!(
                "{} {} of {} ({:.0}%)",
                s.label,
                phase_ms_unit(sum),
                phase_ms_unit(point.latency_p50_ms),
                100.0 * sum / point.latency_p50_ms.max(1e-9)
            ))
        })
        .collect();
    if !sums.is_empty() {
        sentences.push(format!(
            "At N = {}, the phase medians add up to, against the median latency: {}; medians do not add exactly, and a large shortfall is time outside the six phases.",
            thousands(large),
            sums.join(", ")
        ));
    }
    if !untimed.is_empty() {
        let names: Vec<&str> = untimed.iter().map(|s| s.label.as_str()).collect();
        sentences.push(format!("No phases reported by: {}.", names.join(", ")));
    }
}

/// "tokio-ct: queue grows from 0.1 ms at N = 10 to 950 ms at N = 1,000":
/// the phase whose median grows most between the two Ns, when the series
/// measured phases at both.
pub fn phase_growth(series: &SeriesResult, small: u32, large: u32) -> Option<String> {
    let at = |n: u32| series.at(n).and_then(|p| p.phases.as_ref());
    let (before, after) = (at(small)?, at(large)?);
    let (phase, from, to) = Phase::ALL
        .iter()
        .filter_map(|&phase| Some((phase, before.get(phase)?.p50, after.get(phase)?.p50)))
        .max_by(|a, b| (a.2 - a.1).total_cmp(&(b.2 - b.1)))?;
    Some(if to > from {
        format!(
            "{}: {} grows from {} at N = {} to {} at N = {}",
            series.label,
            phase.as_str(),
            phase_ms_unit(from),
            thousands(small),
            phase_ms_unit(to),
            thousands(large)
        )
    } else {
        format!(
            "{}: no phase grows from N = {} to N = {}",
            series.label,
            thousands(small),
            thousands(large)
        )
    })
}

fn memory_findings(result: &FigureResult, measured: &[&SeriesResult], sentences: &mut Vec<String>) {
    let floor = result.bound.first().map(|b| b.value);
    // Each curve at the largest N it reached with a per-request cost.
    let per_request: Vec<(f64, &SeriesResult, &PointResult)> = measured
        .iter()
        .filter_map(|s| {
            s.points
                .iter()
                .rev()
                .find_map(|p| p.kib_per_request.map(|k| (k.median, *s, p)))
        })
        .collect();
    if per_request.is_empty() {
        sentences.push(
            "No curve has a second point, so no per-request cost can be computed.".to_owned(),
        );
        return;
    }
    let listed: Vec<String> = per_request
        .iter()
        .map(|(kib, series, point)| {
            let held = match (point.per_request_divisor, point.in_flight_peak) {
                (Some(Divisor::Batches), _) | (_, None) => {
                    ", per batch: in flight not measured".to_owned()
                }
                (_, Some(_)) if point.short_of_n => {
                    format!(", {} in flight", in_flight_cell(point))
                }
                (_, Some(_)) => String::new(),
            };
            format!(
                "{} {kib:.1} KiB (N = {}{held})",
                series.label,
                thousands(point.n)
            )
        })
        .collect();
    sentences.push(format!(
        "Peak RSS added per request in flight, at the largest N each reached: {}.",
        listed.join(", ")
    ));
    let threads = per_request.iter().find(|(_, s, _)| s.label == "threads");
    let leanest_async = per_request
        .iter()
        .filter(|(_, s, _)| s.label != "threads")
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some((threads_kib, _, threads_point)), Some((lean_kib, lean, lean_point))) =
        (threads, leanest_async)
    {
        let per_in_flight = [threads_point, lean_point]
            .iter()
            .all(|p| p.per_request_divisor == Some(Divisor::InFlight));
        let mut sentence = format!(
            "threads needs {:.1}x the leanest async runtime ({}), {}",
            threads_kib / lean_kib.max(1e-9),
            lean.label,
            if per_in_flight {
                "per request actually in flight".to_owned()
            } else {
                "per batch, as these runs did not report `in_flight_peak`".to_owned()
            }
        );
        if threads_point.short_of_n
            && let Some(held) = threads_point.in_flight_peak
        {
            let _ = write!(
                sentence,
                "; threads did not hold N: at N = {} only {} requests were in flight at once",
                thousands(threads_point.n),
                thousands(held.round() as u32)
            );
        } else if !per_in_flight && holds_short_threads(threads_point) {
            // Without the measurement, a thread per request still counts
            // the requests it held: its peak thread count.
            let _ = write!(
                sentence,
                "; threads peaked at {} threads at N = {}, so it never held N requests at once and dividing by N understates its cost per request",
                thousands(threads_point.threads_peak.round() as u32),
                thousands(threads_point.n)
            );
        }
        sentence
            .push_str("; the third article quotes ~1-8 MB per OS thread and ~2 KB per goroutine.");
        sentences.push(sentence);
    }
    if let Some(floor) = floor {
        sentences.push(format!(
            "The dashed floor is one response body, {floor:.1} KiB, that each request must hold."
        ));
    }
}

/// Whether a `threads` point's peak thread count (one thread per request
/// in flight) shows that it did not hold N.
fn holds_short_threads(point: &PointResult) -> bool {
    super::results::holds_short(point.threads_peak, point.n)
}

/// Milliseconds as a table cell: whole numbers from 100 ms up.
fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Milliseconds in prose: seconds from 1 s up.
fn ms_unit(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1e3)
    } else {
        format!("{value:.0} ms")
    }
}

/// 10000 as "10,000".
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    use super::super::plan;
    use super::super::results::Spread;
    use super::super::results::fixtures::{figure, phases, point, series};

    #[test]
    fn the_phase_that_grows_most_is_named_with_both_values() {
        let tokio_ct = series(
            "tokio-ct",
            vec![
                point(2, Some(2.0), Some(phases(0.1))),
                point(16, Some(16.0), Some(phases(950.0))),
            ],
        );
        assert_eq!(
            phase_growth(&tokio_ct, 2, 16).unwrap(),
            "tokio-ct: queue grows from 0.10 ms at N = 2 to 950 ms at N = 16"
        );
        let flat = series(
            "tokio-mt",
            vec![
                point(2, None, Some(phases(0.1))),
                point(16, None, Some(phases(0.1))),
            ],
        );
        assert!(
            phase_growth(&flat, 2, 16)
                .unwrap()
                .contains("no phase grows")
        );
        let result = figure(
            plan::PHASES_IO_AND_CPU_FIGURE,
            vec![2, 16],
            vec![
                tokio_ct,
                series("threads", vec![point(2, None, None), point(16, None, None)]),
            ],
        );
        let sentences = findings(&result).join(" ");
        assert!(
            sentences.contains("from N = 2 to N = 16, per executor: tokio-ct: queue grows"),
            "{sentences}"
        );
        // 0.4 + 100 + 0.2 + 0.05 + 950 + 100 = 1,150.65 ms against 1,000 ms.
        assert!(
            sentences.contains("tokio-ct 1.15 s of 1.00 s (115%)"),
            "{sentences}"
        );
        assert!(
            sentences.contains("No phases reported by: threads."),
            "{sentences}"
        );
        let mut md = String::new();
        render_phase_table(&mut md, &result);
        assert!(
            md.contains("| tokio-ct | 16 | 0.40 / 0.80 | 100 / 200 |"),
            "{md}"
        );
        assert!(md.contains("| threads | 16 | - | - |"), "{md}");
    }

    #[test]
    fn a_phase_figure_without_phases_says_they_were_not_measured() {
        let result = figure(
            plan::PHASES_IO_ONLY_FIGURE,
            vec![10, 1_000],
            vec![series(
                "smol",
                vec![point(10, None, None), point(1_000, None, None)],
            )],
        );
        let sentences = findings(&result).join(" ");
        assert!(
            sentences.starts_with("Phases were not measured"),
            "{sentences}"
        );
    }

    /// Figure 8 as the committed full set measured it: threads peaked at
    /// 7,517 of 10,000 in flight.
    fn memory_figure(in_flight: bool) -> FigureResult {
        let held = |n: f64| in_flight.then_some(n);
        let rss = |kb: f64| Spread::of([kb]).unwrap();
        let mut threads = vec![
            point(1, held(1.0), None),
            point(10_000, held(7_517.0), None),
        ];
        threads[0].peak_rss_kb = rss(5_700.0);
        threads[1].peak_rss_kb = rss(5_700.0 + 7_516.0 * 292.0);
        threads[1].threads_peak = 7_517.0;
        let mut glommio = vec![
            point(1, held(1.0), None),
            point(10_000, held(10_000.0), None),
        ];
        glommio[0].peak_rss_kb = rss(6_700.0);
        glommio[1].peak_rss_kb = rss(6_700.0 + 9_999.0 * 20.0);
        for points in [&mut threads, &mut glommio] {
            super::super::results::add_memory_per_request(points);
        }
        figure(
            8,
            vec![1, 10_000],
            vec![series("threads", threads), series("glommio", glommio)],
        )
    }

    #[test]
    fn memory_ratio_is_per_request_in_flight_and_names_a_short_point() {
        let result = memory_figure(true);
        let sentences = findings(&result).join(" ");
        assert!(
            sentences.contains("threads 292.0 KiB (N = 10,000, 7,517 of 10,000 in flight)"),
            "{sentences}"
        );
        assert!(
            sentences.contains("glommio 20.0 KiB (N = 10,000)"),
            "{sentences}"
        );
        assert!(
            sentences.contains("threads needs 14.6x the leanest async runtime (glommio), per request actually in flight; threads did not hold N: at N = 10,000 only 7,517 requests"),
            "{sentences}"
        );
        let mut md = String::new();
        render_table(&mut md, &result);
        assert!(
            md.contains("| threads | 10,000 | 7,517 of 10,000 | "),
            "{md}"
        );
        assert!(md.contains("| glommio | 10,000 | 10,000 | "), "{md}");
    }

    #[test]
    fn memory_without_in_flight_falls_back_to_n_and_says_so() {
        let result = memory_figure(false);
        let sentences = findings(&result).join(" ");
        assert!(
            sentences.contains("per batch: in flight not measured"),
            "{sentences}"
        );
        assert!(
            sentences.contains("per batch, as these runs did not report `in_flight_peak`"),
            "{sentences}"
        );
        assert!(
            sentences.contains("threads peaked at 7,517 threads at N = 10,000"),
            "{sentences}"
        );
        let mut md = String::new();
        render_table(&mut md, &result);
        assert!(md.contains("| threads | 10,000 | not measured | "), "{md}");
        assert!(md.contains(" per batch |"), "{md}");
    }

    #[test]
    fn scaling_sentences_list_the_points_that_held_fewer_than_n() {
        let result = figure(
            7,
            vec![1, 10_000],
            vec![
                series(
                    "threads",
                    vec![
                        point(1, Some(1.0), None),
                        point(10_000, Some(7_517.0), None),
                    ],
                ),
                series(
                    "tokio-mt",
                    vec![
                        point(1, Some(1.0), None),
                        point(10_000, Some(9_990.0), None),
                    ],
                ),
            ],
        );
        let sentence = held_findings(&result.series.iter().collect::<Vec<_>>()).unwrap();
        assert!(
            sentence.contains(": threads 7,517 of 10,000."),
            "{sentence}"
        );
        assert!(!sentence.contains("tokio-mt"), "{sentence}");
        let unmeasured = series("smol", vec![point(1, None, None)]);
        assert!(
            held_findings(&[&unmeasured])
                .unwrap()
                .starts_with("No run reported")
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(1), "1");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000), "10,000");
    }
}
