//! The closed loop's throughput is the server's rate of answers, whatever the
//! window's length, and a rate of failures is not a throughput.
//!
//! The server answers one request at a time, 20 ms each: 50 requests per
//! second. 32 connections keep 32 requests queued, so a request waits about
//! 32 x 20 ms = 640 ms, longer than the short window itself. Counting only
//! the requests that both start and end in the window would keep just the
//! few that started in its first moments; counting every completion (wrk's
//! rule) keeps the server's whole output.

mod common;

use common::{Behaviour, TestServer};
use load::{Config, ErrorKind, LoadReport, Mode};
use std::time::Duration;

const SERVICE_TIME: Duration = Duration::from_millis(20);
/// What the server can answer per second.
const CAPACITY: f64 = 50.0;
const CONNECTIONS: usize = 32;

fn closed_loop(server: &TestServer, path: &str, duration: Duration) -> LoadReport {
    let config = Config {
        connections: CONNECTIONS,
        duration,
        warmup: Duration::from_millis(200),
        ..Config::new(server.url(path), Mode::Closed)
    };
    load::run(&config).expect("load run")
}

#[test]
fn closed_loop_throughput_does_not_depend_on_the_window() {
    let server = TestServer::start(Behaviour {
        delay: SERVICE_TIME,
        serial: true,
        ..Behaviour::default()
    });
    let short = closed_loop(&server, "/slow?id={id}", Duration::from_millis(500));
    let long = closed_loop(&server, "/slow?id={id}", Duration::from_secs(3));
    for report in [&short, &long] {
        assert!(report.errors.is_empty(), "{report:?}");
        assert!(
            report.achieved_rps >= 0.8 * CAPACITY,
            "{} req/s from a server of {CAPACITY} req/s: {report:?}",
            report.achieved_rps
        );
        // Never more than the server can do (a generous margin for timers).
        assert!(report.achieved_rps <= 1.2 * CAPACITY, "{report:?}");
    }
    let ratio = short.achieved_rps / long.achieved_rps;
    assert!(
        (0.85..=1.15).contains(&ratio),
        "0.5 s window {} req/s, 3 s window {} req/s",
        short.achieved_rps,
        long.achieved_rps
    );
}

#[test]
fn a_run_of_errors_achieves_nothing() {
    let server = TestServer::start(Behaviour {
        status: Some(400),
        ..Behaviour::default()
    });
    let report = load::run(&Config {
        connections: 2,
        duration: Duration::from_millis(300),
        warmup: Duration::ZERO,
        ..Config::new(server.url("/bad"), Mode::Open { rate: 100.0 })
    })
    .expect("load run");
    let failed = report
        .errors
        .get(&ErrorKind::Status4xx)
        .copied()
        .unwrap_or(0);
    assert_eq!(report.ok, 0, "{report:?}");
    assert!(failed > 20, "the errors are counted beside it: {report:?}");
    assert_eq!(report.achieved_rps, 0.0, "{report:?}");
}
