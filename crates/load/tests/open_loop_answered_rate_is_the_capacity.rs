//! In open loop, `answered_rps` counts the answers that arrive inside the
//! window: the offered rate while the server keeps up, its capacity once it
//! does not, whatever the window's and the drain's length.
//!
//! The server answers one request at a time, 20 ms each: 50 requests per
//! second. Offered 80 per second with a drain long enough for the whole
//! queue, every request of the window is answered before the drain ends, so
//! `achieved_rps` reaches the offered rate; the answers that arrive inside
//! the window still come at 50 per second, and that is what tells a search
//! that the rate was not sustained, with a short window as with a long one.

mod common;

use common::{Behaviour, TestServer};
use load::{Config, LoadReport, Mode};
use std::time::Duration;

const SERVICE_TIME: Duration = Duration::from_millis(20);
/// What the server can answer per second.
const CAPACITY: f64 = 50.0;

fn open_loop(server: &TestServer, rate: f64, duration: Duration) -> LoadReport {
    let config = Config {
        connections: 128,
        duration,
        warmup: Duration::from_millis(200),
        // Long enough for every queued request of the window to be answered.
        drain: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        ..Config::new(server.url("/slow?id={id}"), Mode::Open { rate })
    };
    load::run(&config).expect("load run")
}

fn serial_server() -> TestServer {
    TestServer::start(Behaviour {
        delay: SERVICE_TIME,
        serial: true,
        ..Behaviour::default()
    })
}

#[test]
fn above_capacity_the_answered_rate_is_the_capacity_for_any_window() {
    let server = serial_server();
    let rate = 1.6 * CAPACITY;
    for duration in [Duration::from_millis(500), Duration::from_secs(2)] {
        let report = open_loop(&server, rate, duration);
        assert!(report.errors.is_empty(), "{report:?}");
        // The drain catches the whole queue up: by the window's requests
        // answered, the overload does not show.
        assert!(report.achieved_rps >= 0.9 * rate, "{report:?}");
        // By the answers that arrived in the window, it does.
        assert!(
            (0.8 * CAPACITY..=1.2 * CAPACITY).contains(&report.answered_rps),
            "{duration:?}: {} answered per second from a server of {CAPACITY}: {report:?}",
            report.answered_rps
        );
    }
}

#[test]
fn below_capacity_the_answered_rate_is_the_offered_rate() {
    let server = serial_server();
    let rate = 0.6 * CAPACITY;
    let report = open_loop(&server, rate, Duration::from_secs(1));
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(
        (0.9 * rate..=1.1 * rate).contains(&report.answered_rps),
        "{} answered per second at {rate} offered: {report:?}",
        report.answered_rps
    );
}
