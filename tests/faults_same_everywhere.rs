//! Every executor meets the same injected faults and reports the same
//! accounting: `ok`, `failed`, `failed_ids`, `retries` and the checksum of
//! the ok batches, within a bounded wall time. Table-driven: every available
//! executor x every fault kind, at a fixed seed.

mod common;

use common::{available_executors, number, runtime_lab};
use std::time::Duration;

const BATCHES: &str = "12";
const IO_MS: &str = "20";
/// Short enough that stalls cost little, long enough that a slow answer
/// (`SLOW_MS` on top of the delay) is never mistaken for a stall.
const TIMEOUT_MS: &str = "400";
const SLOW_MS: &str = "100";
/// Far above what any row needs (a stalled batch: 3 attempts x 400 ms).
const WALL_BOUND: Duration = Duration::from_secs(20);

/// (row name, fault flags)
const FAULT_ROWS: &[(&str, &[&str])] = &[
    ("fail", &["--fail-rate", "0.3"]),
    ("reset", &["--reset-rate", "0.3"]),
    ("stall", &["--stall-rate", "0.2"]),
    ("slow", &["--slow-rate", "0.3"]),
    ("malformed", &["--malformed-rate", "0.3"]),
    (
        "all at 10%",
        &[
            "--fail-rate",
            "0.1",
            "--reset-rate",
            "0.1",
            "--stall-rate",
            "0.1",
            "--slow-rate",
            "0.1",
            "--malformed-rate",
            "0.1",
        ],
    ),
];

fn accounting(executor: &str, faults: &[&str]) -> (serde_json::Value, f64) {
    let mut args = vec![
        "run",
        "--executor",
        executor,
        "--batches",
        BATCHES,
        "--io-ms",
        IO_MS,
        "--cpu-ms",
        "1",
        "--cpu-rounds",
        "20",
        "--timeout-ms",
        TIMEOUT_MS,
        "--slow-ms",
        SLOW_MS,
        "--fault-seed",
        "42",
        "--json",
    ];
    args.extend_from_slice(faults);
    let output = runtime_lab().args(&args).output().unwrap();
    assert!(
        output.status.success(),
        "{executor} {faults:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = common::parse_single_json(&output);
    let kept = serde_json::json!({
        "ok": report["ok"],
        "failed": report["failed"],
        "failed_ids": report["failed_ids"],
        "retries": report["retries"],
        "checksum": report["checksum"],
    });
    (kept, number(&report, "wall_ms"))
}

#[test]
fn every_executor_reports_identical_accounting_under_every_fault() {
    let executors = available_executors();
    assert!(executors.len() >= 2, "{executors:?}");
    for (row, faults) in FAULT_ROWS {
        let (reference, _) = accounting(&executors[0], faults);
        assert!(
            reference["ok"].as_u64().unwrap() > 0,
            "{row}: nothing succeeded: {reference}"
        );
        for executor in &executors {
            let (seen, wall_ms) = accounting(executor, faults);
            assert_eq!(
                seen, reference,
                "{row}: {executor} differs from {}",
                executors[0]
            );
            assert!(
                wall_ms < WALL_BOUND.as_secs_f64() * 1e3,
                "{row}: {executor} took {wall_ms:.0} ms"
            );
        }
    }
}

#[test]
fn faults_that_retries_cannot_mend_fail_and_the_others_do_not() {
    let executor = "threads";
    // Malformed answers are not retried: every faulted batch fails.
    let (malformed, _) = accounting(executor, &["--malformed-rate", "0.3"]);
    assert!(malformed["failed"].as_u64().unwrap() > 0, "{malformed}");
    assert_eq!(malformed["retries"], 0, "{malformed}");
    // Slow answers within the timeout are not failures at all.
    let (slow, _) = accounting(executor, &["--slow-rate", "0.5"]);
    assert_eq!(
        (slow["failed"].as_u64(), slow["retries"].as_u64()),
        (Some(0), Some(0)),
        "{slow}"
    );
    // 500s are retried, and a retry draws a new fault, so most batches recover.
    let (fail, _) = accounting(executor, &["--fail-rate", "0.3"]);
    assert!(fail["retries"].as_u64().unwrap() > 0, "{fail}");
    assert!(fail["ok"].as_u64().unwrap() >= 9, "{fail}");
}
