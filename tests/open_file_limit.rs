//! A run that needs more open files than the process may have stops before it starts, with exit code 2.
//!
//! This test binary lowers its own open-file limit (soft and hard, so the
//! child cannot raise it back) and the `runtime-lab` it starts inherits it.
//! It is a separate binary so that no other test runs under that limit.

mod common;

use common::{number, runtime_lab};
use feature_store::{Config, FeatureStore};
use nix::sys::resource::{Resource, setrlimit};

const LIMIT: u64 = 512;

fn lower_the_limit() {
    setrlimit(Resource::RLIMIT_NOFILE, LIMIT, LIMIT).expect("lowering a limit is always allowed");
}

#[test]
fn too_many_requests_in_flight_exit_2_and_name_the_cap() {
    lower_the_limit();
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let output = runtime_lab()
        .args([
            "run",
            "--executor",
            "tokio-mt",
            "--batches",
            "1000",
            "--io-ms",
            "0",
        ])
        .args(["--upstream", &upstream, "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--max-in-flight"), "{stderr}");
    assert!(stderr.contains(&LIMIT.to_string()), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing ran, so no report");

    // The cap the message asks for makes the same workload fit.
    let output = runtime_lab()
        .args([
            "run",
            "--executor",
            "tokio-mt",
            "--batches",
            "1000",
            "--io-ms",
            "0",
        ])
        .args(["--max-in-flight", "64", "--upstream", &upstream, "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = common::parse_single_json(&output);
    assert_eq!(number(&report, "ok"), 1000.0, "{report}");
}
