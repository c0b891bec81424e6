//! Under `--gil`, each `processes` worker has its own lock, as each Python
//! worker process has its own interpreter: two workers preprocess at once,
//! where threads of one process take turns on the one lock.
//!
//! The two executors are compared with each other, run after run, rather than
//! with a bound in milliseconds: load from elsewhere on a shared machine slows
//! both, and the scheduler still gives two runnable lock holders (one per
//! worker) about twice the CPU of one. The ratio asserted is generous.

mod common;

use common::{number, run_json};
use feature_store::{Config, FeatureStore};

const BATCHES: u32 = 8;
const IO_MS: u64 = 100;
const CPU_MS: u64 = 100;

#[test]
fn two_workers_preprocess_at_once_under_the_gil() {
    if pipeline::available_cores() < 2 {
        eprintln!("one core: nothing can overlap, skipping");
        return;
    }
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let (batches, io, cpu) = (BATCHES.to_string(), IO_MS.to_string(), CPU_MS.to_string());
    let args = |executor| {
        [
            "--executor",
            executor,
            "--upstream",
            &upstream,
            "--batches",
            &batches,
            "--io-ms",
            &io,
            "--cpu-ms",
            &cpu,
            "--workers",
            "2",
            "--gil",
        ]
        .map(str::to_owned)
    };
    let mut processes = Vec::new();
    let mut threads = Vec::new();
    // Interleaved, so that a slow phase of the machine hits both.
    for _ in 0..2 {
        for (executor, walls) in [("processes", &mut processes), ("threads", &mut threads)] {
            let args = args(executor);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let report = run_json(&args);
            assert_eq!(report["ok"], BATCHES, "{report}");
            walls.push(number(&report, "wall_ms"));
        }
    }
    let best = |walls: &[f64]| walls.iter().copied().fold(f64::INFINITY, f64::min);
    let (processes, threads) = (best(&processes), best(&threads));
    // Ideally io + 4 x cpu against io + 8 x cpu: about 0.55.
    assert!(
        processes < 0.85 * threads,
        "with --gil, 2 worker processes took {processes:.0} ms and threads of one process {threads:.0} ms"
    );
}
