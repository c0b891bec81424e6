//! `runtime-lab load` keeps DESIGN.md's contract: one JSON object with the
//! serving keys, a table without `--json`, and exit code 2 with a message
//! naming the problem for bad flags and for a URL that does not answer HTTP.

mod common;

use common::{number, parse_single_json, runtime_lab};
use std::io::Write;
use std::net::TcpListener;
use std::process::Output;

const LOAD_KEYS: &[&str] = &[
    "mode",
    "url",
    "offered_rps",
    "achieved_rps",
    "answered_rps",
    "ok",
    "errors",
    "unfinished",
    "latency_ms",
    "duration_s",
    "warmup_s",
    "connections",
    "connects",
    "cpu_user_ms",
    "cpu_sys_ms",
    "threads",
];

fn load(args: &[&str]) -> Output {
    runtime_lab()
        .arg("load")
        .args(args)
        .output()
        .expect("runtime-lab starts")
}

fn assert_usage_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

#[test]
fn json_report_has_every_serving_key() {
    let store = feature_store::FeatureStore::spawn(feature_store::Config::default()).unwrap();
    let url = format!("http://{}/features/{{id}}?delay_ms=0&n=4", store.addr());
    let output = load(&[
        "--url",
        &url,
        "--rate",
        "200",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--connections",
        "4",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = parse_single_json(&output);
    for key in LOAD_KEYS {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(report["latency_ms"][key].is_number(), "latency_ms.{key}");
    }
    assert_eq!(report["mode"], "open");
    assert_eq!(report["url"], url.as_str());
    assert_eq!(number(&report, "offered_rps"), 200.0);
    assert_eq!(number(&report, "duration_s"), 0.5);
    assert!(number(&report, "ok") > 50.0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert!(number(&report, "cpu_user_ms") + number(&report, "cpu_sys_ms") > 0.0);
}

#[test]
fn closed_loop_prints_a_table_without_json() {
    let store = feature_store::FeatureStore::spawn(feature_store::Config::default()).unwrap();
    let url = format!("http://{}/health", store.addr());
    let output = load(&[
        "--url",
        &url,
        "--max",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--connections",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for row in [
        "closed loop",
        "achieved",
        "latency",
        "p99.9",
        "connects",
        "cpu time",
    ] {
        assert!(stdout.contains(row), "no {row:?} in:\n{stdout}");
    }
}

#[test]
fn bad_flags_exit_2_naming_the_problem() {
    let url = "http://127.0.0.1:9/";
    let cases: &[(&[&str], &str)] = &[
        (&["--url", url, "--rate", "0"], "--rate"),
        (&["--url", url, "--rate", "-3"], "--rate"),
        (&["--url", url, "--rate", "abc"], "not a number"),
        (
            &["--url", url, "--rate", "5", "--max"],
            "cannot be used with",
        ),
        (&["--url", url], "--rate <R>|--max"),
        (&["--url", url, "--max", "--duration", "0"], "--duration"),
        (
            &["--url", url, "--max", "--connections", "0"],
            "--connections",
        ),
        (&["--url", "https://127.0.0.1:9/", "--max"], "http://"),
    ];
    for (args, expected) in cases {
        assert_usage_error(&load(args), expected);
    }
}

#[test]
fn a_url_that_does_not_answer_http_exits_2() {
    // Refused: a port that was just free.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = format!("http://127.0.0.1:{port}/");
    assert_usage_error(&load(&["--url", &refused, "--max"]), "refused");

    // Not HTTP: a server that greets in another protocol and hangs up.
    let greeter = TcpListener::bind("127.0.0.1:0").unwrap();
    let greeter_url = format!("http://{}/", greeter.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in greeter.incoming().flatten() {
            let _ = stream.write_all(b"SSH-2.0-not-http\r\n");
        }
    });
    assert_usage_error(
        &load(&["--url", &greeter_url, "--max"]),
        "is not an HTTP server",
    );

    // Silent: the kernel accepts the connection, nothing ever answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/", silent.local_addr().unwrap());
    assert_usage_error(
        &load(&["--url", &silent_url, "--max", "--timeout-ms", "300"]),
        "no answer within",
    );
    drop(silent);
}
