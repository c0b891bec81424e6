//! The GIL is real: CPython's threads (`py-threads`) take turns on CPU work
//! that Rust's `threads` spreads over the cores, while CPython's processes
//! (`py-processes`, a GIL each) do not.
//!
//! 8 batches of 100 ms I/O and 100 ms CPU on 2 cores: `threads` needs about
//! io + 4 x cpu, CPython's threads about io + 8 x cpu. Only generous ratios
//! are asserted, each on the fastest of three runs, so that a burst of load
//! from elsewhere on the machine cannot fake or hide the lock.

mod common;

use common::{fastest_of, installed_baselines, number};
use feature_store::{Config, FeatureStore};

const BATCHES: &str = "8";

fn wall_ms(upstream: &str, executor: &str) -> f64 {
    let report = fastest_of(
        3,
        &[
            "--executor",
            executor,
            "--upstream",
            upstream,
            "--batches",
            BATCHES,
            "--workers",
            BATCHES,
            "--io-ms",
            "100",
            "--cpu-ms",
            "100",
        ],
    );
    assert_eq!(report["ok"], 8, "{report}");
    number(&report, "wall_ms")
}

#[test]
fn py_threads_serialize_cpu_work_and_py_processes_do_not() {
    let installed = installed_baselines();
    let has = |name: &str| installed.iter().any(|b| b.name == name);
    if !has("py-threads") || !has("py-processes") {
        return;
    }
    if pipeline::available_cores() < 2 {
        eprintln!("one core: nothing can overlap, so there is no lock to see");
        return;
    }
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let threads = wall_ms(&upstream, "threads");
    let py_threads = wall_ms(&upstream, "py-threads");
    let py_processes = wall_ms(&upstream, "py-processes");
    assert!(
        py_threads >= 1.6 * threads,
        "py-threads {py_threads:.0} ms is not 1.6x threads {threads:.0} ms: no GIL?"
    );
    assert!(
        py_processes < 1.6 * threads,
        "py-processes {py_processes:.0} ms is 1.6x threads {threads:.0} ms or more: a GIL across processes?"
    );
}
