//! Figure 4 of the server sweep: the free-threading talk's server figure.
//!
//! The talk serves an API at 80% I/O and 20% CPU with 1 to 32 threads or
//! workers and finds a GIL ceiling with every server (gunicorn threads,
//! Granian threads, async servers, gevent), while free threading scales
//! "2.5x at 32 threads" and is compared with multi-process, the current
//! best practice. Here the same servers run on the real interpreters,
//! CPython 3.13 (the GIL) and 3.13t (free-threaded), beside the Rust
//! serving models that stand for them (`threads` for free threads,
//! `threads --gil` for GIL threads, `processes` for multi-process).
//!
//! It is one more [`Axis::Workers`] figure of the server sweep: its plan is
//! data ([`figure`]), measured by `serving`'s sweeper like figure 1, charted
//! and tabled like it; its own sentences ([`findings`]) compare the rows
//! the way the talk does.

use crate::serving::Row;
use crate::serving::plan::{Axis, Figure, Series};
use crate::serving::report::{FigureResult, LineResult};

/// The figure whose measurements figure 4 shares: figure 1 runs the same
/// servers (the Rust models, py-uvicorn, py-gunicorn) on the same workers
/// axis, so when both run, those series are measured once, in figure 1.
pub const SHARES_WITH: u8 = 1;

/// The figure's id: `sweep --server --figures 4`.
pub const FIGURE_ID: u8 = 4;

/// GIL threads: each threaded server on CPython 3.13.
pub const GIL_THREADS: [&str; 2] = ["py-gthread@3.13", "py-granian@3.13"];

/// Free threads: the same servers on CPython 3.13t.
pub const FREE_THREADS: [&str; 2] = ["py-gthread@3.13t", "py-granian@3.13t"];

/// The async servers: gevent on 3.13 (no free-threaded build) and FastAPI
/// on uvicorn (the system's interpreter; no FastAPI on 3.13t).
pub const ASYNC: [&str; 2] = ["py-gevent@3.13", "py-uvicorn"];

/// Multi-process, the talk's best practice: Flask on gunicorn's sync workers.
pub const MULTI_PROCESS: &str = "py-gunicorn";

/// The talk's measured scaling of free threads over GIL threads at 32 threads.
pub const TALK_FREE_OVER_GIL_AT_32: f64 = 2.5;

/// The figure: every Python server configuration of the talk, then the
/// Rust models beside them.
pub fn figure() -> Figure {
    let model = |executor: &'static str, gil: bool| Series {
        executor,
        gil,
        workers: None,
    };
    let mut series: Vec<Series> = GIL_THREADS
        .iter()
        .zip(FREE_THREADS)
        .flat_map(|(&gil, free)| [model(gil, false), model(free, false)])
        .collect();
    series.extend(ASYNC.iter().map(|&executor| model(executor, false)));
    series.push(model(MULTI_PROCESS, false));
    series.extend([
        model("threads", false),
        model("threads", true),
        model("processes", false),
    ]);
    Figure {
        id: FIGURE_ID,
        title: "4. Max sustainable RPS vs threads or workers, CPython 3.13 and 3.13t (80% I/O, 20% CPU)",
        reproduces: "the free-threading talk's API at 80/20 on 1 to 32 threads or workers: gunicorn threads and Granian on 3.13 (GIL threads) and 3.13t (free threads), gevent and uvicorn (async), gunicorn sync workers (multi-process), beside the Rust threads, threads --gil and processes",
        axis: Axis::Workers,
        series,
        left_out: vec![
            (
                "py-uvicorn@3.13t",
                "FastAPI needs pydantic-core, which has no cp313t wheel: the talk's uvicorn/Granian ASGI rows run on the GIL only",
            ),
            ("py-gevent@3.13t", "gevent has no cp313t wheel"),
        ],
    }
}

/// Removes from figure 4 the series that figure [`SHARES_WITH`] also runs
/// (same server, same GIL, workers on the axis), so that they are measured
/// once: [`with_shared`] takes them back from that figure's rows.
pub fn share_series(figures: &mut [Figure]) {
    let Some(shared) = figures
        .iter()
        .find(|figure| figure.id == SHARES_WITH)
        .map(|figure| figure.series.clone())
    else {
        return;
    };
    if let Some(talk) = figures.iter_mut().find(|figure| figure.id == FIGURE_ID) {
        talk.series.retain(|series| !shared.contains(series));
    }
}

/// Figure 4 as it is reported, and its rows: its own series and rows, then
/// each series of [`figure`] that [`share_series`] left to figure
/// [`SHARES_WITH`], with that figure's rows.
pub fn with_shared<'a>(measured: &Figure, rows: &'a [Row]) -> (Figure, Vec<&'a Row>) {
    let mut reported = measured.clone();
    let shared: Vec<Series> = figure()
        .series
        .into_iter()
        .filter(|series| !measured.series.contains(series))
        .filter(|series| {
            rows.iter()
                .any(|row| row.figure == SHARES_WITH && row.series == series.label())
        })
        .collect();
    let labels: Vec<String> = shared.iter().map(Series::label).collect();
    reported.series.extend(shared);
    // In figure()'s order, whichever figure measured them.
    let order = figure().series;
    reported
        .series
        .sort_by_key(|series| order.iter().position(|s| s == series));
    let rows = rows
        .iter()
        .filter(|row| row.error.is_none())
        .filter(|row| {
            row.figure == FIGURE_ID || (row.figure == SHARES_WITH && labels.contains(&row.series))
        })
        .collect();
    (reported, rows)
}

/// The line labelled `label`, if it has points.
fn line<'a>(result: &'a FigureResult, label: &str) -> Option<&'a LineResult> {
    result.panels.first().and_then(|(_, lines)| {
        lines
            .iter()
            .find(|line| line.label == label && !line.points.is_empty())
    })
}

/// The best point (W, median) among `labels`' lines, and whose it is.
fn best_of<'a>(result: &FigureResult, labels: &[&'a str]) -> Option<(&'a str, f64, f64)> {
    labels
        .iter()
        .filter_map(|&label| line(result, label)?.best().map(|p| (label, p.0, p.1)))
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

/// The talk's comparisons, computed from the figure's medians and its
/// requests per second of server CPU (`per_cpu`): free threads over GIL
/// threads at their best and at the largest W both measured, free threads
/// over multi-process, the async servers, and how close the lab's
/// emulation comes to each interpreter per unit of CPU time.
pub fn findings(result: &FigureResult, cores: usize) -> Vec<String> {
    let mut found = Vec::new();
    for (gil, free) in GIL_THREADS.iter().zip(FREE_THREADS) {
        let (Some(gil_line), Some(free_line)) = (line(result, gil), line(result, free)) else {
            continue;
        };
        let (Some(gil_best), Some(free_best)) = (gil_line.best(), free_line.best()) else {
            continue;
        };
        let mut sentence = format!(
            "{free} over {gil} (free threads over GIL threads) at their best: {:.0} RPS (W = {:.0}) against {:.0} RPS (W = {:.0}), {:.2}x.",
            free_best.1,
            free_best.0,
            gil_best.1,
            gil_best.0,
            free_best.1 / gil_best.1.max(1e-9)
        );
        let largest = free_line
            .points
            .iter()
            .rev()
            .find_map(|p| gil_line.at(p.0).map(|g| (p.0, p.1, g.1)));
        if let Some((w, free_rps, gil_rps)) = largest {
            sentence += &format!(
                " At the largest W both ran, W = {w:.0}: {free_rps:.0} against {gil_rps:.0} RPS, {:.2}x.",
                free_rps / gil_rps.max(1e-9)
            );
        }
        found.push(sentence);
    }
    if !found.is_empty() {
        found.push(format!(
            "The talk measured {TALK_FREE_OVER_GIL_AT_32}x at 32 threads on a larger machine; on these {cores} cores the ceiling is {cores}x, since GIL threads run their CPU work on one core and free threads on at most {cores}."
        ));
    }
    if let (Some((free, free_w, free_rps)), Some(multi)) = (
        best_of(result, &FREE_THREADS),
        line(result, MULTI_PROCESS).and_then(LineResult::best),
    ) {
        found.push(format!(
            "Free threads against multi-process: {free}'s best {free_rps:.0} RPS (W = {free_w:.0}) over {MULTI_PROCESS}'s {:.0} RPS (W = {:.0}), {:.2}x.",
            multi.1,
            multi.0,
            free_rps / multi.1.max(1e-9)
        ));
    }
    for executor in ASYNC {
        if let Some(best) = line(result, executor).and_then(LineResult::best) {
            found.push(format!(
                "{executor} (async, under the GIL) peaks at {:.0} RPS (W = {:.0}).",
                best.1, best.0
            ));
        }
    }
    found.extend(emulation_findings(result));
    if !found.is_empty() {
        found.push(format!(
            "Where figure {SHARES_WITH} ran too, the series both figures name (the Rust models, {MULTI_PROCESS}, py-uvicorn) are its measurements, taken once for both figures."
        ));
    }
    found
}

/// How close the Rust emulation comes to each interpreter, per unit of
/// server CPU time: at each series' best W, requests per second of the
/// server's CPU, emulation over the real server.
fn emulation_findings(result: &FigureResult) -> Vec<String> {
    let per_cpu = |label: &str| {
        let best = line(result, label)?.best()?;
        let per_cpu = result
            .per_cpu
            .iter()
            .find(|line| line.label == label)?
            .at(best.0)?;
        Some((best.0, per_cpu.1))
    };
    let pairs = [
        ("threads --gil", GIL_THREADS[0], "GIL threads"),
        ("threads --gil", GIL_THREADS[1], "GIL threads"),
        ("threads", FREE_THREADS[0], "free threads"),
        ("threads", FREE_THREADS[1], "free threads"),
    ];
    pairs
        .iter()
        .filter_map(|&(rust, python, what)| {
            let (rust_w, rust_per_cpu) = per_cpu(rust)?;
            let (python_w, python_per_cpu) = per_cpu(python)?;
            Some(format!(
                "The emulation of {what}: {rust} answers {rust_per_cpu:.0} requests per second of server CPU (at its best W = {rust_w:.0}), {python} {python_per_cpu:.0} (W = {python_w:.0}): {:.2}x per unit of CPU time (the Rust kernel burns the same calibrated milliseconds; the rest is the Python server's own cost per request).",
                rust_per_cpu / python_per_cpu.max(1e-9)
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::plan::{self, ServingPlan, ServingScale};
    use crate::serving::report::LineResult;
    use lab::baselines::{self, Role};

    #[test]
    fn every_python_series_is_a_server_on_an_interpreter_it_runs_on() {
        for series in &figure().series {
            match baselines::resolve(series.executor) {
                Some(resolved) => {
                    let configured =
                        resolved.unwrap_or_else(|e| panic!("{}: {e}", series.executor));
                    assert_eq!(configured.baseline.role, Role::Server);
                }
                None => assert!(plan::SERVING_MODELS.contains(&series.executor)),
            }
        }
        for (name, _) in figure().left_out {
            assert!(matches!(baselines::resolve(name), Some(Err(_))), "{name}");
        }
    }

    #[test]
    fn the_figure_compares_each_threaded_server_on_both_interpreters() {
        let figure = figure();
        assert_eq!(figure.axis, Axis::Workers);
        let labels: Vec<String> = figure.series.iter().map(Series::label).collect();
        for name in GIL_THREADS.iter().chain(&FREE_THREADS).chain(&ASYNC) {
            assert!(labels.contains(&(*name).to_owned()), "{name}");
        }
        for rust in ["threads", "threads --gil", "processes", MULTI_PROCESS] {
            assert!(labels.contains(&rust.to_owned()), "{rust}");
        }
    }

    #[test]
    fn quick_python_series_stop_at_eight_workers() {
        let scale = ServingScale::quick();
        for series in &figure().series {
            let workers = scale.workers_of(series);
            if baselines::find(series.executor).is_some() {
                assert!(workers.iter().all(|&w| w <= 8), "{series:?}");
            } else {
                assert!(workers.contains(&32), "{series:?}");
            }
        }
        let plan = ServingPlan {
            scale,
            figures: vec![figure()],
            absent: Vec::new(),
        };
        assert!(plan.estimate().as_secs() > 0);
    }

    fn line_of(label: &str, points: &[(f64, f64)]) -> LineResult {
        LineResult {
            label: label.to_owned(),
            executor: label.split(' ').next().unwrap().to_owned(),
            gil: label.ends_with("--gil"),
            points: points.iter().map(|&(x, y)| (x, y, y, y)).collect(),
        }
    }

    #[test]
    fn findings_state_the_talks_ratios_from_the_rows() {
        let lines = vec![
            line_of("py-gthread@3.13", &[(1.0, 50.0), (2.0, 80.0), (8.0, 90.0)]),
            line_of(
                "py-gthread@3.13t",
                &[(1.0, 45.0), (2.0, 90.0), (8.0, 160.0)],
            ),
            line_of("py-gunicorn", &[(1.0, 40.0), (8.0, 120.0)]),
            line_of("threads", &[(1.0, 100.0), (32.0, 380.0)]),
            line_of("threads --gil", &[(1.0, 100.0), (32.0, 190.0)]),
        ];
        let per_cpu = vec![
            line_of("py-gthread@3.13", &[(8.0, 100.0)]),
            line_of("py-gthread@3.13t", &[(8.0, 80.0)]),
            line_of("threads", &[(32.0, 200.0)]),
            line_of("threads --gil", &[(32.0, 190.0)]),
        ];
        let result = FigureResult {
            figure: figure(),
            panels: vec![("max sustainable RPS".to_owned(), lines)],
            net_bound: None,
            alone: Vec::new(),
            per_cpu,
        };
        let text = findings(&result, 2).join("\n");
        assert!(
            text.contains("160 RPS (W = 8) against 90 RPS (W = 8), 1.78x"),
            "{text}"
        );
        assert!(text.contains("W = 8: 160 against 90 RPS, 1.78x"), "{text}");
        assert!(text.contains("the ceiling is 2x"), "{text}");
        assert!(
            text.contains("over py-gunicorn's 120 RPS (W = 8), 1.33x"),
            "{text}"
        );
        assert!(
            text.contains("threads --gil answers 190 requests per second of server CPU"),
            "{text}"
        );
        assert!(text.contains("1.90x per unit of CPU time"), "{text}");
        assert!(text.contains("2.50x per unit of CPU time"), "{text}");
    }
}
