//! Every installed baseline, Python or Go, does the work of the Rust
//! executors bit for bit: it reports the checksum that `threads` reports for
//! the same batches, with fresh and pooled connections, against a feature
//! store and against a URL template (whose raw bytes are the features); and
//! it meets the embedded store's injected faults with the same failure
//! policy, so it reports the same `ok`, `failed`, `failed_ids`, `retries`
//! and checksum. A baseline that is not installed is refused by `run` with
//! exit status 2.

mod common;

use common::{installed_baselines, run_json, runtime_lab};
use feature_store::{Config, FeatureStore};

const BATCHES: u32 = 6;

fn checksum(executor: &str, upstream: &str, extra: &[&str]) -> String {
    let batches = BATCHES.to_string();
    let mut args = vec![
        "--executor",
        executor,
        "--upstream",
        upstream,
        "--batches",
        &batches,
        "--io-ms",
        "20",
        "--cpu-ms",
        "1",
        "--workers",
        "2",
    ];
    args.extend_from_slice(extra);
    let report = run_json(&args);
    assert_eq!(report["executor"], executor, "{report}");
    assert_eq!(report["ok"], BATCHES, "{executor} {extra:?}: {report}");
    assert_eq!(report["failed"], 0, "{executor} {extra:?}: {report}");
    report["checksum"]
        .as_str()
        .expect("checksum is a string")
        .to_owned()
}

#[test]
fn every_installed_baseline_reports_the_threads_checksum() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let base = format!("http://{}", store.addr());
    let template = format!("http://{}/features/{{id}}?n=16", store.addr());
    let cases: [(&str, &[&str]); 3] = [
        (&base, &[]),
        (&base, &["--connections", "pooled"]),
        (&template, &[]),
    ];
    let expected: Vec<String> = cases
        .iter()
        .map(|(upstream, extra)| checksum("threads", upstream, extra))
        .collect();
    assert_ne!(
        expected[0], expected[2],
        "the template's bytes are other features"
    );

    let installed = installed_baselines();
    // Every client on every interpreter it runs on.
    for baseline in lab::baselines::configurations_of(lab::baselines::Role::Client) {
        if installed.iter().any(|b| b.name == baseline.name) {
            for ((upstream, extra), expected) in cases.iter().zip(&expected) {
                assert_eq!(
                    &checksum(baseline.name, upstream, extra),
                    expected,
                    "{} {extra:?} against {upstream} disagrees with threads",
                    baseline.name
                );
            }
        } else {
            let output = runtime_lab()
                .args(["run", "-e", baseline.name, "--upstream", &base])
                .output()
                .expect("runtime-lab starts");
            assert_eq!(output.status.code(), Some(2), "{}", baseline.name);
        }
    }
}

/// Every fault kind at 10%, at a fixed seed: what one run meets and counts.
const FAULTS: &[&str] = &[
    "--batches",
    "24",
    "--io-ms",
    "20",
    "--cpu-ms",
    "1",
    "--timeout-ms",
    "400",
    "--slow-ms",
    "100",
    "--fault-seed",
    "3",
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
];

fn fault_accounting(executor: &str) -> Vec<serde_json::Value> {
    let mut args = vec!["--executor", executor];
    args.extend_from_slice(FAULTS);
    let report = run_json(&args);
    ["ok", "failed", "failed_ids", "retries", "checksum"]
        .iter()
        .map(|key| report[*key].clone())
        .collect()
}

#[test]
fn every_installed_baseline_meets_the_same_faults_as_threads() {
    let expected = fault_accounting("threads");
    assert!(
        expected[1].as_u64().unwrap_or(0) > 0,
        "some batches fail: {expected:?}"
    );
    for baseline in installed_baselines() {
        assert_eq!(
            fault_accounting(baseline.name),
            expected,
            "{}: ok, failed, failed_ids, retries, checksum",
            baseline.name
        );
    }
}
