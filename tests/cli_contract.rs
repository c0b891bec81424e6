//! The CLI keeps DESIGN.md's contract: the JSON report's keys, the embedded
//! feature store's lifetime, `list`, and exit code 2 on bad input.

mod common;

use common::{parse_single_json, runtime_lab};

const DESIGN_KEYS: &[&str] = &[
    "executor",
    "batches",
    "io_ms",
    "cpu_ms",
    "features",
    "workers",
    "connections",
    "gil",
    "cores",
    "wall_ms",
    "ideal_ms",
    "efficiency",
    "cpu_per_batch_ms",
    "latency_ms",
    "cpu_user_ms",
    "cpu_sys_ms",
    "peak_rss_kb",
    "threads_peak",
    "ok",
    "failed",
    "failed_ids",
    "checksum",
];

#[test]
fn json_report_has_every_design_key_and_the_embedded_store_is_gone() {
    let output = runtime_lab()
        .args([
            "run",
            "--executor",
            "threads",
            "--batches",
            "4",
            "--io-ms",
            "50",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = parse_single_json(&output);
    for key in DESIGN_KEYS {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    for key in ["p50", "p99", "max"] {
        assert!(report["latency_ms"][key].is_number(), "latency_ms.{key}");
    }
    assert_eq!(report["ok"], 4);
    let efficiency = report["efficiency"].as_f64().unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0);

    // The embedded store was a child process with this pid; it must be gone.
    let pid = report["upstream_pid"].as_u64().expect("embedded store pid");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "feature store {pid} outlived the run"
    );
}

#[test]
fn list_names_every_executor() {
    let output = runtime_lab().arg("list").output().unwrap();
    assert!(output.status.success());
    let listing = String::from_utf8_lossy(&output.stdout);
    for name in [
        "serial",
        "threads",
        "rayon",
        "crossbeam",
        "processes",
        "glommio",
        "tokio-ct",
        "tokio-ct-offload",
        "tokio-mt",
        "smol",
        "async-std",
    ] {
        assert!(
            listing
                .lines()
                .any(|line| line.split_whitespace().next() == Some(name)),
            "{name} missing from:\n{listing}"
        );
    }
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--executor", "nope"], "nope"),
        (
            &["run", "--executor", "serial", "--batches", "0"],
            "--batches",
        ),
        (&["run", "--executor", "serial", "--batches", "-3"], "-3"),
        (
            &["run", "--executor", "serial", "--io-ms", "soon"],
            "--io-ms",
        ),
        (
            &["run", "--executor", "serial", "--cpu-ms", "-1"],
            "--cpu-ms",
        ),
        (
            &["run", "--executor", "serial", "--workers", "0"],
            "--workers",
        ),
        (
            &["run", "--executor", "serial", "--connections", "sometimes"],
            "--connections",
        ),
        (&["run"], "--executor"),
        (
            &["run", "--executor", "serial", "--fail-rate", "1.5"],
            "--fail-rate",
        ),
        (
            &["run", "--executor", "serial", "--timeout-ms", "0"],
            "--timeout-ms",
        ),
        (
            &["run", "--executor", "serial", "--retries", "11"],
            "--retries",
        ),
        (
            &["run", "--executor", "serial", "--features", "1000001"],
            "--features",
        ),
        (
            &[
                "run",
                "--executor",
                "serial",
                "--upstream",
                "https://127.0.0.1:1",
            ],
            "http://",
        ),
        (
            &[
                "run",
                "--executor",
                "serial",
                "--upstream",
                "http://127.0.0.1:1",
                "--stall-rate",
                "0.1",
            ],
            "--upstream",
        ),
        (
            &[
                "serve-features",
                "--reset-rate",
                "0.6",
                "--stall-rate",
                "0.6",
            ],
            "sum",
        ),
    ];
    for (args, needle) in cases {
        let output = runtime_lab().args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?} should name {needle}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    }

    // The sweep checks its fault flags the same way, before any run, and
    // leaves no half-written output folder behind.
    let out = std::env::temp_dir().join(format!("runtime-lab-bad-faults-{}", std::process::id()));
    let output = runtime_lab()
        .args([
            "sweep",
            "--reset-rate",
            "0.6",
            "--stall-rate",
            "0.6",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sum"), "{stderr}");
    assert!(!out.exists(), "the sweep left {} behind", out.display());
}

#[test]
fn an_upstream_that_refuses_or_is_not_http_is_a_clear_error() {
    // A port that was just free: nothing listens there.
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = runtime_lab()
        .args([
            "run",
            "--executor",
            "threads",
            "--upstream",
            &format!("http://{refused}"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");

    // A server that speaks another protocol.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::Write;
            let mut stream = stream;
            let _ = stream.write_all(b"SSH-2.0-not-http\r\n");
        }
    });
    let output = runtime_lab()
        .args([
            "run",
            "--executor",
            "serial",
            "--upstream",
            &format!("http://{addr}"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not an HTTP server"), "{stderr}");
}

#[test]
fn the_probe_tells_a_feature_store_from_any_other_url() {
    let store = feature_store::FeatureStore::spawn(feature_store::Config::default()).unwrap();
    let base = format!("http://{}", store.addr());
    // The store's own httpbin-like route is just another URL.
    let cases = [
        (base.clone(), "feature-store", "feature store"),
        (format!("{base}/delay/0"), "url", "requested as it is"),
        (format!("{base}/delay/0?b={{id}}"), "template", "{id}"),
    ];
    for (url, kind, words) in &cases {
        let args = [
            "run",
            "-e",
            "serial",
            "-n",
            "2",
            "--io-ms",
            "0",
            "--upstream",
            url,
        ];
        let output = runtime_lab().args(args).arg("--json").output().unwrap();
        assert!(
            output.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = parse_single_json(&output);
        assert_eq!(report["upstream_kind"], *kind, "{url}: {report}");
        assert_eq!(report["ok"], 2, "{url}: {report}");
        // The human output says what the probe decided.
        let output = runtime_lab().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("upstream "))
            .unwrap_or("");
        assert!(line.contains(words), "{url}: {stdout}");
    }

    // A path the server does not have fails before the run, with the status.
    let output = runtime_lab()
        .args(["run", "-e", "serial", "--upstream", &format!("{base}/nope")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("status 404") && stderr.contains("hint"),
        "{stderr}"
    );
}
