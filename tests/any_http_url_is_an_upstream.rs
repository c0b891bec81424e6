//! Any HTTP URL is an upstream, against a real server that this project did
//! not write: httpbin under gunicorn (the articles' upstream), installed into
//! `target/httpbin-venv` by `scripts/install-httpbin` when it is missing.
//!
//! A plain URL is requested as it is for every batch, a URL with `{id}` has
//! it replaced, and every executor, blocking or async, reaches one checksum,
//! whatever the body: JSON, HTML, binary, chunked, gzip- or deflate-encoded.
//! A 4xx stops the run before it starts (exit 2, with a hint); a run whose
//! every batch fails never reports an efficiency (exit 3).

mod common;

use common::httpbin::Httpbin;
use common::{available_executors, parse_single_json, runtime_lab};
use pipeline::{BlockingFetcher, UpstreamKind, Workload};
use std::process::Output;

/// Runs `runtime-lab run ARGS... --upstream URL`.
fn run(url: &str, args: &[&str]) -> Output {
    runtime_lab()
        .arg("run")
        .args(args)
        .args(["--upstream", url])
        .output()
        .expect("runtime-lab starts")
}

/// Like [`run`] with `--json`, for a run that must succeed.
fn report_of(url: &str, args: &[&str]) -> serde_json::Value {
    let output = run(url, &[args, &["--json"]].concat());
    assert!(
        output.status.success(),
        "run {args:?} on {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_single_json(&output)
}

/// The checksum a run of `batches` batches of `url` must report, computed
/// here from the blocking fetcher's decoded bodies and the kernel.
fn expected_checksum(url: &str, batches: u32) -> String {
    let upstream = pipeline::Upstream::parse(url)
        .unwrap()
        .with_kind(UpstreamKind::of_other_service(url));
    let workload = Workload::new(upstream).batches(batches);
    let fetcher = BlockingFetcher::new(&workload);
    let digests = workload.batch_ids().map(|id| {
        let body = fetcher.fetch(id).expect("httpbin answers");
        pipeline::process(&workload, id, &body).unwrap().digest
    });
    format!("{:016x}", pipeline::combine_digests(digests))
}

#[test]
fn every_executor_reaches_one_checksum_on_plain_urls_and_templates() {
    let httpbin = Httpbin::start();
    let plain = httpbin.url("/delay/0.1");
    let template = httpbin.url("/delay/0.1?b={id}");
    let mut plain_sums = Vec::new();
    let mut template_sums = Vec::new();
    for executor in &available_executors() {
        let common = ["--executor", executor, "--io-ms", "100", "--workers", "2"];
        let report = report_of(&plain, &[&common[..], &["--batches", "2"]].concat());
        assert_eq!(
            (report["ok"].as_u64(), report["failed"].as_u64()),
            (Some(2), Some(0)),
            "{executor}: {report}"
        );
        assert_eq!(report["upstream_kind"], "url", "{executor}");
        assert!(report["efficiency"].is_number(), "{executor}: {report}");
        plain_sums.push((
            executor.clone(),
            report["checksum"].as_str().unwrap().to_owned(),
        ));

        let report = report_of(&template, &[&common[..], &["--batches", "4"]].concat());
        assert_eq!(report["ok"], 4, "{executor}: {report}");
        assert_eq!(report["upstream_kind"], "template", "{executor}");
        template_sums.push((
            executor.clone(),
            report["checksum"].as_str().unwrap().to_owned(),
        ));
    }
    for sums in [&plain_sums, &template_sums] {
        let (first, expected) = &sums[0];
        for (executor, checksum) in sums {
            assert_eq!(
                checksum, expected,
                "{executor} disagrees with {first}: {sums:?}"
            );
        }
    }
    assert_ne!(
        plain_sums[0].1, template_sums[0].1,
        "the template's ids reach the server"
    );

    // The articles' own URL, exactly as a user passes it.
    let report = report_of(
        &httpbin.url("/delay/1"),
        &["--executor", "threads", "--batches", "2"],
    );
    assert_eq!(report["ok"], 2, "{report}");
}

#[test]
fn bodies_of_every_kind_give_the_same_checksum_on_both_fetch_paths() {
    let httpbin = Httpbin::start();
    for path in [
        "/html",             // not JSON
        "/bytes/300?seed=7", // binary, the same bytes for a seed
        "/stream/3",         // chunked transfer encoding
        "/gzip",             // gzip content encoding (its header holds a time)
        "/deflate",          // deflate content encoding
        "/robots.txt",       // plain text
    ] {
        let url = httpbin.url(path);
        let expected = expected_checksum(&url, 2);
        // serial fetches with ureq, tokio-ct with hyper.
        for executor in ["serial", "tokio-ct"] {
            let report = report_of(
                &url,
                &["--executor", executor, "--batches", "2", "--io-ms", "0"],
            );
            assert_eq!(report["ok"], 2, "{executor} {path}: {report}");
            assert_eq!(
                report["checksum"],
                expected.as_str(),
                "{executor} {path}: {report}"
            );
        }
    }

    // The decoded gzip body is httpbin's JSON, not the compressed bytes.
    let upstream = pipeline::Upstream::parse(&httpbin.url("/gzip"))
        .unwrap()
        .with_kind(UpstreamKind::Url);
    let body = BlockingFetcher::new(&Workload::new(upstream))
        .fetch(0)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("gzip was decoded");
    assert_eq!(json["gzipped"], true, "{json}");
    assert_eq!(
        json["headers"]["User-Agent"],
        pipeline::USER_AGENT,
        "{json}"
    );
}

#[test]
fn client_errors_stop_before_the_run_and_failed_runs_have_no_efficiency() {
    let httpbin = Httpbin::start();
    let cases = [
        ("/status/404", "the URL is requested exactly as given"),
        ("/no/such/{id}", "{id} is replaced by the batch id"),
    ];
    for (path, hint) in cases {
        let output = run(
            &httpbin.url(path),
            &["--executor", "serial", "--batches", "2"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{path}: {stderr}");
        assert!(
            stderr.contains("status 404") && stderr.contains(hint),
            "{path}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{path}: nothing ran");
    }

    // A 5xx is the server's trouble, not the URL's: the run goes on, every
    // batch fails, and the report has no efficiency.
    let failing = httpbin.url("/status/500");
    for executor in ["serial", "tokio-ct"] {
        let args = [
            "--executor",
            executor,
            "--batches",
            "2",
            "--retries",
            "0",
            "--json",
        ];
        let output = run(&failing, &args);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{executor}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = parse_single_json(&output);
        assert_eq!(
            (report["ok"].as_u64(), report["failed"].as_u64()),
            (Some(0), Some(2)),
            "{report}"
        );
        assert!(report["efficiency"].is_null(), "{executor}: {report}");
        assert!(report["ideal_ms"].is_number(), "{executor}: {report}");
    }
    let output = run(
        &failing,
        &["--executor", "threads", "--batches", "2", "--retries", "0"],
    );
    assert_eq!(output.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("incomplete: 2 of 2 batches failed"),
        "{stdout}"
    );
    assert!(!stdout.contains("efficiency"), "{stdout}");
}

#[test]
fn the_readmes_io_and_cpu_example_burns_what_it_asks() {
    let httpbin = Httpbin::start();
    // The README's command, on this httpbin: `run -e tokio-mt -n 8 --io-ms
    // 1000 --cpu-ms 100 --upstream 'http://127.0.0.1:8080/delay/1?b={id}'`.
    let report = report_of(
        &httpbin.url("/delay/1?b={id}"),
        &[
            "--executor",
            "tokio-mt",
            "-n",
            "8",
            "--io-ms",
            "1000",
            "--cpu-ms",
            "100",
        ],
    );
    assert_eq!(report["ok"], 8, "{report}");
    assert_eq!(report["upstream_kind"], "template", "{report}");
    // httpbin's JSON is a few hundred bytes, folded into 1,024 values.
    let values = report["values_per_batch"].as_u64().expect("a count");
    assert!((100..2000).contains(&values), "{report}");
    let cpu = common::number(&report, "cpu_per_batch_ms");
    assert!(
        (60.0..160.0).contains(&cpu),
        "asked for 100 ms per batch, measured {cpu} ms"
    );
}
