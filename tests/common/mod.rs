//! Helpers shared by the CLI integration tests: run the real binary, parse its JSON.

#![allow(dead_code)]

use std::process::{Command, Output};

/// The `runtime-lab` binary built for these tests.
pub fn runtime_lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runtime-lab"))
}

/// Runs `runtime-lab run --json ARGS...` and returns the parsed report.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let output = runtime_lab()
        .arg("run")
        .args(args)
        .arg("--json")
        .output()
        .expect("runtime-lab starts");
    assert!(
        output.status.success(),
        "runtime-lab run {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_single_json(&output)
}

/// Parses stdout, which must be exactly one JSON object.
pub fn parse_single_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut stream = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    let report = stream
        .next()
        .expect("stdout holds a JSON object")
        .expect("stdout is valid JSON");
    assert!(
        stream.next().is_none(),
        "stdout holds exactly one JSON value: {stdout}"
    );
    report
}

/// A field of a report as f64.
pub fn number(report: &serde_json::Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {report}"))
}

/// Runs `runtime-lab run --json ARGS...` `runs` times and returns the report
/// with the smallest wall time: a burst of load from elsewhere on a shared
/// machine can slow a run down, never speed it up.
pub fn fastest_of(runs: usize, args: &[&str]) -> serde_json::Value {
    (0..runs)
        .map(|_| run_json(args))
        .min_by(|a, b| number(a, "wall_ms").total_cmp(&number(b, "wall_ms")))
        .expect("at least one run")
}
