//! Driven above its capacity, a server's queue shows in the open loop's
//! latency, growing with the length of the run, while a closed loop at the
//! same connections slows down with the server and hides it.

mod common;

use common::{Behaviour, TestServer};
use load::{Config, LoadReport, Mode};
use std::time::Duration;

/// The server answers one request at a time, each after this long: at most
/// 200 requests per second.
const SERVICE_TIME: Duration = Duration::from_millis(5);
/// Twice the server's capacity.
const RATE: f64 = 400.0;
const CONNECTIONS: usize = 4;

fn load(server: &TestServer, mode: Mode, duration: Duration) -> LoadReport {
    let config = Config {
        connections: CONNECTIONS,
        duration,
        warmup: Duration::ZERO,
        ..Config::new(server.url("/slow?id={id}"), mode)
    };
    load::run(&config).expect("load run")
}

#[test]
fn open_loop_latency_grows_with_the_queue_and_closed_loop_hides_it() {
    let server = TestServer::start(Behaviour {
        delay: SERVICE_TIME,
        serial: true,
        ..Behaviour::default()
    });
    let open = Mode::Open { rate: RATE };
    let short = load(&server, open, Duration::from_millis(500));
    let long = load(&server, open, Duration::from_millis(1000));
    let closed = load(&server, Mode::Closed, Duration::from_millis(1000));

    // A request due at t is answered at about 2t, so the latency of the
    // last answered request, and the p99, is about half the run's length.
    let service_ms = SERVICE_TIME.as_secs_f64() * 1e3;
    assert!(
        long.latency_ms.p99 > 10.0 * service_ms,
        "open loop p99 {} ms, service time {service_ms} ms",
        long.latency_ms.p99
    );
    assert!(
        long.latency_ms.p99 > 1.4 * short.latency_ms.p99,
        "p99 {} ms after 1 s, {} ms after 0.5 s",
        long.latency_ms.p99,
        short.latency_ms.p99
    );
    // What the server could not take by the end is abandoned, not hidden.
    assert!(long.unfinished > 0, "{long:?}");
    assert!(long.achieved_rps < 0.8 * RATE, "{long:?}");

    // The closed loop waits for the server: at most CONNECTIONS requests in
    // its queue, so its latency stays near CONNECTIONS service times.
    assert!(
        closed.latency_ms.p99 * 5.0 < long.latency_ms.p99,
        "closed p99 {} ms, open p99 {} ms",
        closed.latency_ms.p99,
        long.latency_ms.p99
    );
    assert!(closed.ok > 0 && closed.errors.is_empty(), "{closed:?}");
    for report in [&short, &long, &closed] {
        assert!(report.errors.is_empty(), "{report:?}");
    }
}
