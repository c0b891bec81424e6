//! A blocking fetch inside a rayon pool holds a pool thread for the whole
//! delay: with W threads, N = 4 x W I/O-only batches need about 4 delays.

mod common;

use common::{number, run_json};
use feature_store::{Config, FeatureStore};

const WORKERS: u32 = 2;
const IO_MS: u64 = 100;

#[test]
fn rayon_needs_a_delay_per_wave_of_pool_size_batches() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let batches = (4 * WORKERS).to_string();
    let report = run_json(&[
        "--executor",
        "rayon",
        "--upstream",
        &upstream,
        "--batches",
        &batches,
        "--io-ms",
        &IO_MS.to_string(),
        "--workers",
        &WORKERS.to_string(),
    ]);
    assert_eq!(report["ok"], 4 * WORKERS, "{report}");
    let wall = number(&report, "wall_ms");
    // Four waves of one delay each; a pool that overlapped more than W
    // requests would finish in about one.
    assert!(
        wall >= 3.0 * IO_MS as f64,
        "{} batches on {WORKERS} threads took {wall:.0} ms",
        4 * WORKERS
    );
}
