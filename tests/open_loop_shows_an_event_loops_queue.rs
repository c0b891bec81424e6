//! One event loop with CPU work, driven past its capacity: the open-loop
//! p99, measured from each request's intended start, holds the queue and
//! grows with the length of the run, while a closed loop at the same
//! concurrency only ever waits for its own few requests (coordinated omission).
//! Well under capacity, the open loop achieves its rate with no error.

mod common;

use common::{ServerProcess, runtime_lab};

/// CPU per request on the one event loop: about 1000 / CPU_MS requests/s at most.
const CPU_MS: &str = "10";
const CONNECTIONS: &str = "4";

fn load(server: &ServerProcess, mode: &[&str], duration: &str) -> serde_json::Value {
    let url = format!("http://{}/predict?id={{id}}", server.addr);
    let output = runtime_lab()
        .args([
            "load",
            "--json",
            "--url",
            &url,
            "--connections",
            CONNECTIONS,
        ])
        .args(["--warmup", "0", "--duration", duration])
        .args(mode)
        .output()
        .expect("runtime-lab load starts");
    assert!(
        output.status.success(),
        "load {mode:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    common::parse_single_json(&output)
}

fn p99(report: &serde_json::Value) -> f64 {
    report["latency_ms"]["p99"].as_f64().expect("a p99")
}

#[test]
fn open_loop_p99_holds_the_queue_that_closed_loop_hides() {
    let server = ServerProcess::start(&["-e", "tokio-ct", "--io-ms", "1", "--cpu-ms", CPU_MS]);
    // What the loop completes with its connections kept busy.
    let closed = load(&server, &["--max"], "1");
    let capacity = closed["achieved_rps"].as_f64().expect("a rate");
    assert!(capacity > 10.0, "the server answers: {closed}");
    // Three times the capacity, so that the queue dominates even when the
    // machine's speed drifts between the probes.
    let thrice = format!("{:.0}", 3.0 * capacity);
    let short = load(&server, &["--rate", &thrice], "1");
    let long = load(&server, &["--rate", &thrice], "3");
    eprintln!(
        "capacity {capacity:.0} rps; p99 closed {:.1} ms, open 1 s {:.1} ms, open 3 s {:.1} ms",
        p99(&closed),
        p99(&short),
        p99(&long)
    );
    // The queue grows by about `capacity` requests a second: the wait of
    // the last requests grows with the run, which the closed loop never sees.
    assert!(p99(&short) > 4.0 * p99(&closed), "open 1 s vs closed");
    assert!(
        p99(&long) > 1.4 * p99(&short),
        "the open-loop p99 grows with the run"
    );
}

#[test]
fn open_loop_well_under_capacity_achieves_its_rate() {
    let server = ServerProcess::start(&["-e", "tokio-mt", "--io-ms", "5", "--cpu-ms", "1"]);
    let report = load(&server, &["--rate", "100"], "2");
    let achieved = report["achieved_rps"].as_f64().expect("a rate");
    assert!(
        (achieved - 100.0).abs() <= 10.0,
        "achieved {achieved} of 100: {report}"
    );
    let errors: u64 = report["errors"]
        .as_object()
        .map_or(0, |kinds| kinds.values().filter_map(|n| n.as_u64()).sum());
    assert_eq!(errors, 0, "{report}");
}
