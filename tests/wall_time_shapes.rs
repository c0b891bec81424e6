//! The shape of the first figure: serial grows with the batch count, threads stay near one delay.
//!
//! Only generous ratios are asserted; absolute times belong to benchmarks.

mod common;

use common::{number, run_json};
use feature_store::{Config, FeatureStore};

const IO_MS: u64 = 100;

fn wall_ms(executor: &str, upstream: &str, batches: u32) -> f64 {
    let report = run_json(&[
        "--executor",
        executor,
        "--upstream",
        upstream,
        "--batches",
        &batches.to_string(),
        "--io-ms",
        &IO_MS.to_string(),
    ]);
    assert_eq!(report["ok"], u64::from(batches), "{report}");
    number(&report, "wall_ms")
}

#[test]
fn serial_wall_grows_with_the_batch_count() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let one = wall_ms("serial", &upstream, 1);
    let six = wall_ms("serial", &upstream, 6);
    // About 6 x io; allow anything from 4.5 x the single-batch run.
    assert!(
        six >= 4.5 * one,
        "1 batch {one:.0} ms, 6 batches {six:.0} ms"
    );
    assert!(
        six >= 6.0 * IO_MS as f64,
        "6 batches cannot beat 6 delays: {six:.0} ms"
    );
}

#[test]
fn threads_overlap_io() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let sixteen = wall_ms("threads", &upstream, 16);
    // Serial would need 16 delays; one thread per batch needs about one.
    assert!(
        sixteen < 4.0 * IO_MS as f64,
        "16 batches took {sixteen:.0} ms"
    );
    assert!(sixteen >= IO_MS as f64);
}
