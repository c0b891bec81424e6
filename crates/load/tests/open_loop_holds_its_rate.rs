//! Well under the server's capacity, the open loop sends at the offered rate
//! over kept-alive connections, and every request succeeds.

mod common;

use common::{Behaviour, TestServer};
use load::{Config, Mode, ModeName};
use std::time::Duration;

#[test]
fn open_loop_under_capacity_achieves_the_offered_rate_without_errors() {
    let server = TestServer::start(Behaviour {
        delay: Duration::from_millis(1),
        ..Behaviour::default()
    });
    let rate = 400.0;
    let config = Config {
        connections: 16,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(250),
        ..Config::new(server.url("/item?id={id}"), Mode::Open { rate })
    };
    let report = load::run(&config).expect("load run");
    assert_eq!(report.mode, ModeName::Open);
    assert_eq!(report.offered_rps, Some(rate));
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(
        (report.achieved_rps - rate).abs() <= rate * 0.1,
        "achieved {} of {rate} req/s",
        report.achieved_rps
    );
    // Every request due in the window is accounted for: 400 in one second.
    assert_eq!(report.ok + report.errors_total() + report.unfinished, 400);
    // The warm-up's requests were sent but are not in the report.
    let sent = server.requests() - 1;
    assert!(
        sent > report.ok + report.unfinished,
        "{sent} sent, {report:?}"
    );
    // Kept alive: each connection was opened once.
    assert_eq!(report.connects, 16, "{report:?}");
    // No answer comes before the server's delay.
    assert!(report.latency_ms.p50 >= 1.0, "{:?}", report.latency_ms);
    assert!(report.latency_ms.p50 <= report.latency_ms.p99);
    assert!(report.latency_ms.p99 <= report.latency_ms.max);
}

#[test]
fn a_server_that_closes_every_connection_is_reconnected_without_errors() {
    let server = TestServer::start(Behaviour {
        close: true,
        ..Behaviour::default()
    });
    let config = Config {
        connections: 4,
        duration: Duration::from_millis(500),
        warmup: Duration::ZERO,
        ..Config::new(server.url("/"), Mode::Closed)
    };
    let report = load::run(&config).expect("load run");
    assert_eq!(report.mode, ModeName::Closed);
    assert_eq!(report.offered_rps, None);
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(report.ok > 10, "{report:?}");
    // One connection per request, the four opened before the run included.
    assert!(report.connects >= report.ok, "{report:?}");
}

#[test]
fn a_drain_lets_the_requests_in_flight_at_the_end_count() {
    let server = TestServer::start(Behaviour {
        delay: Duration::from_millis(100),
        ..Behaviour::default()
    });
    let rate = 100.0;
    let run = |drain| {
        let config = Config {
            connections: 32,
            duration: Duration::from_millis(500),
            warmup: Duration::ZERO,
            drain,
            ..Config::new(server.url("/item?id={id}"), Mode::Open { rate })
        };
        load::run(&config).expect("load run")
    };
    // Without a drain, the last 100 ms of requests are still waiting for
    // the server when the window closes: abandoned, and missing from the rate.
    let abrupt = run(Duration::ZERO);
    assert!(abrupt.unfinished >= 5, "{abrupt:?}");
    assert!(abrupt.achieved_rps < 0.95 * rate, "{abrupt:?}");
    // With one, every request due in the window is answered and counted.
    let drained = run(Duration::from_millis(400));
    assert_eq!(drained.unfinished, 0, "{drained:?}");
    assert_eq!(drained.ok, 50, "{drained:?}");
    assert!((drained.achieved_rps - rate).abs() < 1e-9, "{drained:?}");
}
