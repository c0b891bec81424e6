//! One point of a scenario figure: a fresh server, its memory at rest, its
//! max sustainable rate on the scenario's route, and its latency at shares
//! of that rate, each probe a row of the server sweep's results.

use super::plan::{self, SHARES};
use crate::serving::measure::ServerChild;
use crate::serving::plan::{Figure, Series};
use crate::serving::{Point, Row, Sweeper};

/// Measures `series` in the scenario of `figure` once (repeat `repeat`):
/// starts the server, records its memory at rest (step `rest`), searches its
/// max sustainable rate on the scenario's route with the server sweep's
/// search, and probes p50 and p99 at each share of [`SHARES`] of it (step
/// `share`, x the share) for the confirmation's length.
pub(crate) fn point(sweep: &mut Sweeper<'_>, figure: &Figure, series: &Series, repeat: u32) {
    let scenario = plan::scenario(figure.id).expect("a scenario figure's id names its scenario");
    let point = Point {
        figure: figure.id,
        series,
        server: series.server(1),
        x: 0.0,
        repeat,
        route: scenario.route,
    };
    sweep.with_server(point, |sweep, child| {
        at_rest(sweep, point, child);
        let max = sweep.search_max(point, child);
        sweep.probe_shares(point, child, max, &SHARES);
    });
}

/// The server's memory right after its readiness line, before any request:
/// its resident memory now and its peak so far (start-up's), and the CPU
/// time its start took, as a row of step `rest`.
fn at_rest(sweep: &mut Sweeper<'_>, point: Point<'_>, child: &ServerChild) {
    let usage = child.usage();
    let row = Row {
        step: "rest".to_owned(),
        server_cpu_ms: usage.cpu_ms,
        server_peak_rss_kb: usage.peak_rss_kb,
        server_rss_kb: usage.rss_kb,
        server_processes: usage.processes,
        ..sweep.empty_row(point)
    };
    sweep.rows.push(row);
}
