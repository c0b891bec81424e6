//! `--gil` behaves like CPython's lock: threads that preprocess take turns,
//! so CPU work no longer overlaps.
//!
//! Only generous ratios are asserted, against the CPU time each run measured
//! itself, and each figure is the fastest of two runs so that a burst of load
//! from elsewhere on the machine cannot fake or hide serialization.

mod common;

use common::{fastest_of, number};
use feature_store::{Config, FeatureStore};

const BATCHES: u32 = 8;
/// I/O and CPU per batch are equal, as in the articles' hardest case.
const IO_MS: u64 = 100;
const CPU_MS: u64 = 100;

/// The fastest of two `threads` runs: its wall time and its measured CPU time per batch.
fn threads_run(upstream: &str, gil: bool) -> (f64, f64) {
    let (batches, io, cpu) = (BATCHES.to_string(), IO_MS.to_string(), CPU_MS.to_string());
    let mut args = vec![
        "--executor",
        "threads",
        "--upstream",
        upstream,
        "--batches",
        &batches,
        "--io-ms",
        &io,
        "--cpu-ms",
        &cpu,
    ];
    if gil {
        args.push("--gil");
    }
    let report = fastest_of(2, &args);
    assert_eq!(report["ok"], BATCHES, "{report}");
    assert_eq!(report["gil"], gil, "{report}");
    (
        number(&report, "wall_ms"),
        number(&report, "cpu_per_batch_ms"),
    )
}

#[test]
fn threads_take_turns_under_the_gil_and_overlap_without_it() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());

    let (with_gil, cpu_per_batch) = threads_run(&upstream, true);
    // The delays overlap, the CPU work cannot: at least io + 8 x cpu.
    let serialized = IO_MS as f64 + f64::from(BATCHES) * cpu_per_batch;
    assert!(
        with_gil >= 0.8 * serialized,
        "with --gil: {with_gil:.0} ms, but serialized CPU alone is {serialized:.0} ms"
    );

    let (without_gil, _) = threads_run(&upstream, false);
    assert!(
        without_gil < 0.9 * with_gil,
        "without --gil {without_gil:.0} ms is not clearly faster than with it {with_gil:.0} ms"
    );
}
