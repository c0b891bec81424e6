//! Every executor that `runtime-lab list` offers here does all the work of one
//! workload: each reports the same checksum, with no failed batch.
//!
//! The executors are read from `list` rather than named here, so that every
//! executor added to the table is covered, and one marked unavailable on this
//! machine (glommio without io_uring) is skipped rather than failed.

mod common;

use common::{available_executors, run_json};
use feature_store::{Config, FeatureStore};

const BATCHES: u32 = 6;

#[test]
fn every_available_executor_reports_one_checksum() {
    let executors = available_executors();
    for always_there in ["serial", "threads", "rayon", "crossbeam", "processes"] {
        assert!(
            executors.iter().any(|name| name == always_there),
            "{always_there} missing from {executors:?}"
        );
    }
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let batches = BATCHES.to_string();

    let mut checksums = Vec::new();
    for executor in &executors {
        let report = run_json(&[
            "--executor",
            executor,
            "--upstream",
            &upstream,
            "--batches",
            &batches,
            "--io-ms",
            "20",
            "--cpu-ms",
            "1",
            "--workers",
            "2",
        ]);
        assert_eq!(report["executor"], executor.as_str(), "{report}");
        assert_eq!(report["ok"], BATCHES, "{executor}: {report}");
        assert_eq!(report["failed"], 0, "{executor}: {report}");
        let checksum = report["checksum"].as_str().expect("checksum is a string");
        checksums.push((executor.clone(), checksum.to_owned()));
    }
    let (first, expected) = &checksums[0];
    for (executor, checksum) in &checksums {
        assert_eq!(checksum, expected, "{executor} disagrees with {first}");
    }
}
