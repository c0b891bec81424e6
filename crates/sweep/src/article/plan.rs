//! What `sweep --server --figures 5,6,7` runs: the Python-vs-Go article's
//! three scenarios on every server, and the article's own numbers, as data.
//!
//! Nothing here starts a process: the scenarios, their servers, the
//! article's table and the cost of a point are unit-tested as plain data.

use crate::serving::plan::{Axis, Figure, Series, ServingScale, probe_cost, search_cost, start_ms};
use serde::Serialize;
use std::time::Duration;

/// The `n` of the cpu scenario's `/fib?n=N`: on the 2-core machine this
/// lab runs on, one `fib(27)` costs about 1.3 ms in Go (go1.19) and about
/// 23 ms in CPython 3.11, 18x. Not the article's `fib(35)`, which takes
/// CPython about a second: a Python server keeps computing the requests
/// queued on its connections after a probe ends (CPU-bound work cannot
/// see its client leave), so the next probe of the search waits behind
/// them. At 27, the 32 connections of a search's closed loop leave under
/// a second of such work on one worker, and the load generator's
/// 3-second readiness probe of the next probe still gets its answer.
pub const FIB_N: u32 = 27;

// `/fib` takes it on every server.
const _: () = assert!(FIB_N <= pipeline::serve::MAX_FIB_N);

/// One of the article's scenarios: a figure, the route every request of its
/// load asks for, and what a request does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scenario {
    /// The figure's id.
    pub figure: u8,
    /// The scenario's name in the article's terms.
    pub name: &'static str,
    /// The path and query of every request (`{id}`: each request's number).
    pub route: &'static str,
    /// What one request costs the server, for REPORT.md.
    pub what: &'static str,
}

/// The article's three scenarios, in its order.
pub const SCENARIOS: [Scenario; 3] = [
    Scenario {
        figure: 5,
        name: "ping",
        route: "/ping",
        what: "a small JSON answer, no fetch and no CPU work: the framework's and the runtime's own cost per request",
    },
    Scenario {
        figure: 6,
        name: "cpu",
        // FIB_N; a unit test keeps the two equal.
        route: "/fib?n=27",
        what: "the naive recursive Fibonacci of 27 (about 640,000 calls), the same work in every language, so that the language's speed shows",
    },
    Scenario {
        figure: 7,
        name: "io",
        route: "/io?id={id}",
        what: "two concurrent fetches and no CPU work: one batch from the feature store (after the sweep's upstream delay) and one from the same store after a tenth of it, which stands for the article's cache",
    },
];

/// The scenario of figure `id`, if it is one of the article's.
pub fn scenario(id: u8) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|scenario| scenario.figure == id)
}

/// The shares of each server's max sustainable rate at which p50 and p99
/// are measured, with one open-loop probe of the confirmation's length each.
pub const SHARES: [f64; 2] = [0.5, 0.9];

/// One server of the article's table, with the numbers it reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArticleRow {
    /// The scenario's name ([`Scenario::name`]).
    pub scenario: &'static str,
    /// The article's name for the server.
    pub server: &'static str,
    /// The series that runs it here: this executor at `cores` workers (the
    /// article's production command, `uvicorn --workers 4` on its 4 cores).
    pub executor: &'static str,
    /// Requests per second.
    pub qps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// The server's memory, MB, where the article gives it.
    pub memory_mb: Option<f64>,
}

/// The article's numbers (section 4, "4C8G cloud VM", k6, Python 3.11 +
/// FastAPI 0.104 + uvicorn, Go 1.21 + Gin): the only numbers of REPORT.md
/// that are not measured.
pub const ARTICLE: [ArticleRow; 6] = [
    ArticleRow {
        scenario: "ping",
        server: "FastAPI",
        executor: "py-uvicorn",
        qps: 12_000.0,
        p50_ms: 3.0,
        p99_ms: 15.0,
        memory_mb: Some(80.0),
    },
    ArticleRow {
        scenario: "ping",
        server: "Gin",
        executor: "go-gin",
        qps: 45_000.0,
        p50_ms: 1.0,
        p99_ms: 5.0,
        memory_mb: Some(20.0),
    },
    ArticleRow {
        scenario: "cpu",
        server: "FastAPI",
        executor: "py-uvicorn",
        qps: 15.0,
        p50_ms: 2_500.0,
        p99_ms: 3_500.0,
        memory_mb: None,
    },
    ArticleRow {
        scenario: "cpu",
        server: "Gin",
        executor: "go-gin",
        qps: 200.0,
        p50_ms: 180.0,
        p99_ms: 250.0,
        memory_mb: None,
    },
    ArticleRow {
        scenario: "io",
        server: "FastAPI",
        executor: "py-uvicorn",
        qps: 3_000.0,
        p50_ms: 25.0,
        p99_ms: 80.0,
        memory_mb: None,
    },
    ArticleRow {
        scenario: "io",
        server: "Gin",
        executor: "go-gin",
        qps: 5_000.0,
        p50_ms: 20.0,
        p99_ms: 50.0,
        memory_mb: None,
    },
];

/// The cores of the article's VM ("4C8G cloud VM").
pub const ARTICLE_CORES: u32 = 4;

/// The article's general quotes (section 2.2, no scenario named), set
/// beside the ping row of the server that runs each here: (executor, the
/// article's words, QPS).
pub const ARTICLE_QUOTES: [(&str, &str, f64); 2] = [
    ("py-gunicorn", "Flask + gunicorn: ~1,000 QPS", 1_000.0),
    ("py-uvicorn", "FastAPI + uvicorn: ~5,000 QPS", 5_000.0),
];

/// The article's row for `server` ("FastAPI", "Gin") in `scenario`.
pub fn article_row(scenario: &str, server: &str) -> Option<&'static ArticleRow> {
    ARTICLE
        .iter()
        .find(|row| row.scenario == scenario && row.server == server)
}

/// Gin's QPS over FastAPI's in the article's row of `scenario`.
pub fn article_ratio(scenario: &str) -> Option<f64> {
    let gin = article_row(scenario, "Gin")?;
    let fastapi = article_row(scenario, "FastAPI")?;
    Some(gin.qps / fastapi.qps)
}

/// The servers of every scenario, the article's first: FastAPI on uvicorn
/// with one worker and with one per core, Flask on gunicorn, Gin and Go's
/// net/http on every core, then the Rust models that stand for them. The
/// pools are sized as figures 2 and 3 size them: `threads` has 8 handler
/// threads per core (a blocking fetch holds its thread), `processes` one
/// process per core, and `tokio-ct -w W` is W single-threaded event-loop
/// processes on one port (`SO_REUSEPORT`), as uvicorn's W workers are.
pub fn series(cores: u32) -> Vec<Series> {
    let pool = cores.max(1);
    let at = |executor: &'static str, workers: u32| Series {
        executor,
        gil: false,
        workers: Some(workers),
    };
    let mut series = vec![
        at("py-uvicorn", 1),
        at("py-uvicorn", pool),
        at("py-gunicorn", pool),
        at("go-gin", pool),
        at("go-nethttp", pool),
        at("tokio-mt", pool),
        at("tokio-ct", 1),
        at("tokio-ct", pool),
        at("threads", 8 * pool),
        at("processes", pool),
    ];
    // On one core, `-w 1` and `-w cores` are the same server.
    series.dedup();
    series
}

/// Figures 5, 6 and 7: one per scenario, every server of [`series`].
pub fn figures(cores: u32) -> Vec<Figure> {
    let titles = [
        "5. ping: a JSON answer, nothing else (max sustainable QPS, latency at 90% of it)",
        "6. cpu: fib(27) per request, equal work in every language",
        "7. io: two concurrent fetches per request, the store's and the cache's",
    ];
    SCENARIOS
        .iter()
        .zip(titles)
        .map(|(scenario, title)| Figure {
            id: scenario.figure,
            title,
            reproduces: match scenario.name {
                "ping" => {
                    "the Python-vs-Go article's simple JSON API row (FastAPI 12,000 vs Gin 45,000 QPS, p50 3 vs 1 ms, p99 15 vs 5 ms, 80 vs 20 MB)"
                }
                "cpu" => {
                    "the Python-vs-Go article's CPU-bound row (fib(35): FastAPI 15 vs Gin 200 QPS, p50 2.5 s vs 180 ms, p99 3.5 s vs 250 ms)"
                }
                _ => {
                    "the Python-vs-Go article's I/O-bound row (an external API and a cache: FastAPI 3,000 vs Gin 5,000 QPS, p50 25 vs 20 ms, p99 80 vs 50 ms)"
                }
            },
            axis: Axis::Scenario,
            series: series(cores),
            left_out: Vec::new(),
        })
        .collect()
}

/// Estimated cost of one point of `series` in a scenario figure, in
/// repeat `repeat`: the server's start ([`start_ms`]), a search
/// ([`search_cost`], at the rate of one `/predict` at a time per worker, a
/// Python server's pace on `/fib`) and one confirmation-length probe per
/// share of [`SHARES`].
pub fn point_estimate(scale: &ServingScale, series: &Series, repeat: u32) -> Duration {
    let server = series.server(1);
    let start = Duration::from_secs_f64(start_ms(&server) / 1e3);
    let one_at_a_time = 1000.0 / (scale.io_ms + scale.cpu_ms).max(1) as f64;
    start
        + search_cost(scale, one_at_a_time * f64::from(server.workers), repeat)
        + probe_cost(scale, scale.confirm) * SHARES.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::plan::{SERVING_MODELS, ServingPlan};
    use lab::baselines::{self, Role};

    #[test]
    fn the_routes_are_the_scenarios_of_serve() {
        assert_eq!(SCENARIOS[1].route, format!("/fib?n={FIB_N}"));
        assert!(figures(2)[1].title.contains(&format!("fib({FIB_N})")));
        for scenario in SCENARIOS {
            let target = scenario.route.replace("{id}", "7");
            let route = pipeline::serve::route("GET", &target);
            assert!(
                !matches!(route, pipeline::serve::Route::Reject(..)),
                "{target}: {route:?}"
            );
        }
        assert_eq!(scenario(6).map(|s| s.name), Some("cpu"));
        assert_eq!(scenario(1), None);
    }

    #[test]
    fn the_article_s_ratios_are_its_table_s() {
        let ratio = |scenario| article_ratio(scenario).expect("both rows");
        assert!((ratio("ping") - 3.75).abs() < 0.01);
        assert!((ratio("cpu") - 13.3).abs() < 0.1);
        assert!((ratio("io") - 1.67).abs() < 0.01);
        for row in ARTICLE {
            assert!(SCENARIOS.iter().any(|s| s.name == row.scenario), "{row:?}");
        }
    }

    #[test]
    fn every_server_is_a_serving_model_or_a_server_baseline_at_fixed_workers() {
        let series = series(2);
        for series in &series {
            let server_baseline = baselines::find(series.executor)
                .is_some_and(|baseline| baseline.role == Role::Server);
            assert!(
                SERVING_MODELS.contains(&series.executor) || server_baseline,
                "{series:?}"
            );
            assert!(series.workers.is_some(), "{series:?}");
        }
        let labels: Vec<String> = series.iter().map(Series::label).collect();
        for label in [
            "py-uvicorn -w 1",
            "py-uvicorn -w 2",
            "go-gin -w 2",
            "tokio-ct -w 2",
        ] {
            assert!(labels.iter().any(|l| l == label), "{label} in {labels:?}");
        }
        // The article's servers are among them, at one worker per core.
        for row in ARTICLE {
            assert!(
                labels.contains(&format!("{} -w 2", row.executor)),
                "{row:?}"
            );
        }
    }

    #[test]
    fn the_quick_article_set_takes_about_ten_minutes_on_two_cores() {
        let plan = ServingPlan {
            scale: ServingScale::quick(),
            figures: figures(2),
            absent: Vec::new(),
        };
        let estimate = plan.estimate();
        // Sixty points (ten servers, three scenarios, two repeats).
        assert!(estimate < Duration::from_secs(11 * 60), "{estimate:?}");
        // Honest: at least each point's latency probes and its confirmation.
        let windows = plan.scale.confirm
            * (1 + SHARES.len() as u32)
            * (3 * series(2).len() as u32 * plan.scale.repeat);
        assert!(estimate > windows, "{estimate:?} <= {windows:?}");
    }

    #[test]
    fn a_python_server_costs_more_than_a_rust_one() {
        let scale = ServingScale::quick();
        let all = series(2);
        let (uvicorn, tokio) = (all[1], all[5]);
        assert_eq!(
            (uvicorn.executor, tokio.executor),
            ("py-uvicorn", "tokio-mt")
        );
        assert!(point_estimate(&scale, &uvicorn, 0) > point_estimate(&scale, &tokio, 0));
    }
}
