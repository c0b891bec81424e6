//! Every executor does all the work: same workload, same checksum; other workload, other checksum.

mod common;

use common::run_json;
use feature_store::{Config, FeatureStore};

fn checksum(executor: &str, upstream: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--executor",
        executor,
        "--upstream",
        upstream,
        "--io-ms",
        "20",
    ];
    args.extend_from_slice(extra);
    let report = run_json(&args);
    assert_eq!(report["failed"], 0, "{report}");
    report["checksum"]
        .as_str()
        .expect("checksum is a string")
        .to_owned()
}

#[test]
fn serial_and_threads_agree_and_the_checksum_tracks_the_workload() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let base = ["--batches", "8", "--cpu-ms", "1"];

    let serial = checksum("serial", &upstream, &base);
    for connections in ["fresh", "pooled"] {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--connections", connections]);
        assert_eq!(
            checksum("threads", &upstream, &args),
            serial,
            "threads, {connections}"
        );
        assert_eq!(
            checksum("serial", &upstream, &args),
            serial,
            "serial, {connections}"
        );
    }

    let more_features = checksum(
        "serial",
        &upstream,
        &["--batches", "8", "--features", "512"],
    );
    let more_batches = checksum("threads", &upstream, &["--batches", "9"]);
    assert_ne!(more_features, serial);
    assert_ne!(more_batches, serial);
    assert_ne!(more_features, more_batches);
}
