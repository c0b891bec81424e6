//! Each batch's phases add up to its latency, the `queue` phase shows an event
//! loop's serialised CPU work, and `in_flight_peak` counts what was really in flight.
//!
//! Real sockets against an in-process feature store, the real binary, no
//! sleeps; only generous ratios are asserted, since absolute times belong to
//! benchmarks.

mod common;

use common::{number, one_at_a_time, run_executor, runtime_lab};
use feature_store::{Config, FeatureStore};

/// `phases_ms.PHASE.STAT` of a report.
fn phase(report: &serde_json::Value, name: &str, stat: &str) -> f64 {
    report["phases_ms"][name][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("phases_ms.{name}.{stat} is a number in {report}"))
}

#[test]
fn phases_add_up_to_each_batch_latency_on_a_blocking_and_an_async_executor() {
    const IO_MS: f64 = 200.0;
    let _serialised = one_at_a_time();
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    for executor in ["threads", "tokio-mt"] {
        let report = run_executor(
            executor,
            &upstream,
            &["--batches", "16", "--io-ms", "200", "--cpu-ms", "10"],
        );
        // Every ok batch: |latency - sum of its phases| within 2% of its latency.
        let gap = number(&report, "phases_gap_max");
        assert!(
            gap < 0.02,
            "{executor}: a batch's phases miss {:.2}% of its latency: {report}",
            gap * 100.0
        );
        // The store's delay lies in `wait` and nowhere else.
        let wait = phase(&report, "wait", "p50");
        assert!(
            wait >= 0.9 * IO_MS,
            "{executor}: wait p50 {wait:.1} ms < the store's {IO_MS} ms delay"
        );
        for other in ["connect", "receive", "decode"] {
            let p50 = phase(&report, other, "p50");
            assert!(
                p50 < 0.5 * IO_MS,
                "{executor}: {other} p50 {p50:.1} ms holds the delay"
            );
        }
        // The median batch's phases, added, come near the median latency.
        let sum_of_p50s: f64 = [
            "connect",
            "wait",
            "receive",
            "decode",
            "queue",
            "preprocess",
        ]
        .iter()
        .map(|name| phase(&report, name, "p50"))
        .sum();
        let latency = report["latency_ms"]["p50"].as_f64().unwrap();
        assert!(
            sum_of_p50s > 0.7 * latency && sum_of_p50s < 1.5 * latency,
            "{executor}: phase medians add to {sum_of_p50s:.1} ms, latency p50 {latency:.1} ms"
        );
    }
}

#[test]
fn one_event_loop_queues_cpu_work_longer_with_more_batches_and_a_pool_shortens_the_queue() {
    /// Other work on a shared machine can take a core away for a whole run:
    /// the flavours are run in turns, up to this many times each, and their
    /// best runs are compared.
    const MAX_ROUNDS: usize = 5;
    let _serialised = one_at_a_time();
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let args = |batches: &'static str| {
        [
            "--batches",
            batches,
            "--io-ms",
            "200",
            "--cpu-ms",
            "30",
            "--workers",
            "2",
        ]
    };

    let mut seen = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let two = run_executor("tokio-ct", &upstream, &args("2"));
        let eight = run_executor("tokio-ct", &upstream, &args("8"));
        let pool = run_executor("tokio-mt", &upstream, &args("8"));
        let (ct2, ct8) = (phase(&two, "queue", "max"), phase(&eight, "queue", "max"));
        let (ct8_p50, mt8_p50) = (phase(&eight, "queue", "p50"), phase(&pool, "queue", "p50"));
        // On one loop the k-th reply read waits for the k-1 preprocesses
        // before it: about 1 x cpu at the most for 2 batches, 7 x for 8.
        // Two workers halve that queue: about 1.5 x cpu at the median against 3.5 x.
        if ct8 > 2.5 * ct2 && mt8_p50 < 0.7 * ct8_p50 {
            return;
        }
        seen.push(format!(
            "tokio-ct queue max {ct2:.1} ms (2 batches) vs {ct8:.1} ms (8); \
             queue p50 at 8: tokio-ct {ct8_p50:.1} ms, tokio-mt {mt8_p50:.1} ms"
        ));
    }
    panic!("in {MAX_ROUNDS} rounds: {seen:#?}");
}

#[test]
fn every_batch_of_an_async_run_is_in_flight_at_once_and_threads_never_exceed_n() {
    let _serialised = one_at_a_time();
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let args = ["--batches", "64", "--io-ms", "300"];
    let smol = run_executor("smol", &upstream, &args);
    assert_eq!(smol["in_flight_peak"], 64, "{smol}");
    let threads = run_executor("threads", &upstream, &args);
    let peak = threads["in_flight_peak"]
        .as_u64()
        .unwrap_or_else(|| panic!("in_flight_peak is a count: {threads}"));
    assert!((1..=64).contains(&peak), "{threads}");
    // Capped, no more than the cap are in flight, and a processes worker's
    // batches count as the parent sees them.
    let capped = run_executor(
        "processes",
        &upstream,
        &["--batches", "8", "--io-ms", "100", "--max-in-flight", "3"],
    );
    assert_eq!(capped["in_flight_peak"], 3, "{capped}");
}

#[test]
fn the_table_shows_the_phases_and_the_in_flight_peak() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let output = runtime_lab()
        .args(["run", "-e", "serial", "--batches", "2", "--io-ms", "20"])
        .args(["--upstream", &format!("http://{}", store.addr())])
        .output()
        .expect("runtime-lab starts");
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("in flight peak  1"), "{table}");
    for name in [
        "connect",
        "wait",
        "receive",
        "decode",
        "queue",
        "preprocess",
    ] {
        assert!(
            table.lines().any(|line| line.starts_with(name)),
            "no {name} row in:\n{table}"
        );
    }
}
