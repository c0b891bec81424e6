//! A server that dies or stalls in the middle of a run: the run still ends
//! at its duration, with the failures counted and the requests that never
//! got an answer reported as unfinished.

mod common;

use common::{Behaviour, TestServer};
use load::{Config, ErrorKind, LoadReport, Mode};
use std::time::{Duration, Instant};

const DURATION: Duration = Duration::from_millis(1500);
/// Generous room for the probe, the connects and a loaded machine.
const SLACK: Duration = Duration::from_secs(2);

fn load_timed(server: &TestServer, mode: Mode) -> (LoadReport, Duration) {
    let config = Config {
        connections: 8,
        duration: DURATION,
        warmup: Duration::ZERO,
        ..Config::new(server.url("/?id={id}"), mode)
    };
    let started = Instant::now();
    let report = load::run(&config).expect("load run");
    (report, started.elapsed())
}

#[test]
fn a_server_that_dies_mid_run_ends_the_run_on_time_with_errors_counted() {
    for mode in [Mode::Open { rate: 400.0 }, Mode::Closed] {
        let server = TestServer::start(Behaviour {
            die_after: Some(100),
            ..Behaviour::default()
        });
        let (report, elapsed) = load_timed(&server, mode);
        assert!(elapsed < DURATION + SLACK, "{mode:?} took {elapsed:?}");
        assert!(report.ok > 0 && report.ok <= 100, "{mode:?}: {report:?}");
        // Once the listener is gone, every reconnect is refused.
        assert!(
            report
                .errors
                .get(&ErrorKind::Connect)
                .is_some_and(|&n| n > 0),
            "{mode:?}: {report:?}"
        );
    }
}

#[test]
fn a_server_that_stops_answering_ends_the_run_on_time_with_requests_unfinished() {
    let server = TestServer::start(Behaviour {
        stall_after: Some(50),
        ..Behaviour::default()
    });
    let (report, elapsed) = load_timed(&server, Mode::Open { rate: 200.0 });
    assert!(elapsed < DURATION + SLACK, "took {elapsed:?}");
    assert!(report.ok > 0 && report.ok < 50, "{report:?}");
    // The default timeout (5 s) is longer than the run: the stalled requests
    // are abandoned at its end, not counted as timeouts, and so are those
    // that fell due behind them: every one of the 300 due is accounted for.
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.ok + report.unfinished, 300, "{report:?}");
}
