//! The scenarios of the Python-vs-Go article on every server: every serving
//! model that `runtime-lab list` shows and every installed server baseline
//! answers `/ping`, `/fib?n=N`, `/io?id=N` and `/predict?id=N` with the same
//! JSON for the same parameters, and the same 4xx JSON error, quickly, for
//! a parameter or a path that does not exist, and keeps serving after it;
//! a percent-encoded parameter means what it decodes to, everywhere.
//! `/fib` is equal work: Python's answer is Go's and Rust's, and takes at
//! least 5x Go's time (the article finds 13x).

mod common;

use common::{
    ServerProcess, StoreProcess, available_executors, http_get, installed_server_baselines,
    one_at_a_time,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The good requests, one per scenario.
const SCENARIOS: [&str; 4] = ["/ping", "/fib?n=20", "/io?id=3", "/predict?id=3"];

/// Requests that no route serves: a bad parameter (400) or a path (404).
const REFUSED: [(&str, u16); 5] = [
    ("/fib?n=-1", 400),
    ("/fib?n=x", 400),
    ("/fib?n=41", 400),
    ("/no/such/route", 404),
    // `%2B` is a `+`, which no server takes as part of a number.
    ("/fib?n=%2B5", 400),
];

/// Good requests with percent-encoded parameters, and the index in
/// [`SCENARIOS`] of the plain request each must answer like: every server
/// decodes a query as a form, as Go's and Python's parsers do.
const ENCODED: [(&str, usize); 2] = [("/fib?n=%32%30", 1), ("/io?id=%33", 2)];

/// How long a refusal may take: no work is done, so any wait is a hang.
const QUICK: Duration = Duration::from_secs(5);

/// The fan-out of `/predict`, and the features of each batch.
const FANOUT: u32 = 3;

/// Every serving model that `list` shows as available here, with two workers.
fn serving_models() -> Vec<String> {
    let available = available_executors();
    lab::executors::ALL
        .iter()
        .filter(|executor| executor.serve.is_some())
        .map(|executor| executor.name.to_owned())
        .filter(|name| available.contains(name))
        .collect()
}

/// `runtime-lab serve -e EXECUTOR -w 2` against `upstream`, with a little I/O and CPU.
fn serve(executor: &str, upstream: &str) -> ServerProcess {
    let fanout = FANOUT.to_string();
    ServerProcess::start(&[
        "-e",
        executor,
        "-w",
        "2",
        "--fanout",
        &fanout,
        "--io-ms",
        "2",
        "--cpu-ms",
        "1",
        "--upstream",
        upstream,
    ])
}

/// `GET target` from `server`: the status and the body as JSON.
fn get_json(server: &ServerProcess, name: &str, target: &str) -> (u16, Value) {
    let (status, body) = server.get(target);
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("{name} {target} answered {body:?}: {error}"));
    (status, json)
}

/// What `/io?id=3` must answer: the digests of batch 3 (the store's) and
/// batch 4 (the cache's), as the pipeline computes them from the store's own
/// bodies, combined as `/predict` combines its batches'.
fn expected_io_digest(store: &StoreProcess) -> String {
    let upstream = pipeline::Upstream::parse(&format!("http://{}", store.addr)).expect("a URL");
    let workload = pipeline::Workload::new(upstream);
    let digests = [3u64, 4].map(|batch| {
        let (status, body) = http_get(store.addr, &format!("/features/{batch}?n=1024"));
        assert_eq!(status, 200, "the store serves batch {batch}: {body}");
        pipeline::process(&workload, batch, body.as_bytes())
            .expect("a feature batch")
            .digest
    });
    format!("{:016x}", pipeline::combine_digests(digests))
}

#[test]
fn every_server_answers_every_scenario_alike_and_refuses_what_does_not_exist() {
    let _alone = one_at_a_time();
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    let mut servers = serving_models();
    assert!(
        servers.iter().any(|name| name == "tokio-mt"),
        "tokio-mt serves here: {servers:?}"
    );
    let baselines = installed_server_baselines();
    servers.extend(baselines.iter().map(|baseline| baseline.name.to_owned()));

    // The first server's answers are the reference; they are checked on their own first.
    let mut reference: Option<(String, Vec<Value>)> = None;
    for name in &servers {
        let server = serve(name, &upstream);
        let mut answers = Vec::new();
        for target in SCENARIOS {
            let (status, json) = get_json(&server, name, target);
            assert_eq!(status, 200, "{name} {target}: {json}");
            answers.push(json);
        }
        for (target, expected_status) in REFUSED {
            let asked = Instant::now();
            let (status, json) = get_json(&server, name, target);
            let took = asked.elapsed();
            assert_eq!(status, expected_status, "{name} {target}: {json}");
            assert!(json["error"].is_string(), "{name} {target}: {json}");
            assert!(took < QUICK, "{name} {target} took {took:?}");
            answers.push(json);
        }
        for (target, plain) in ENCODED {
            let (status, json) = get_json(&server, name, target);
            assert_eq!(
                (status, &json),
                (200, &answers[plain]),
                "{name} {target} is {}",
                SCENARIOS[plain]
            );
        }
        // Still serving after the bad requests.
        let (status, json) = get_json(&server, name, "/ping");
        assert_eq!(
            (status, &json),
            (200, &answers[0]),
            "{name} after the refusals"
        );

        match &reference {
            None => {
                assert_eq!(answers[0], serde_json::json!({ "ping": "pong" }));
                assert_eq!(answers[1], serde_json::json!({ "n": 20, "fib": 6765 }));
                let io = serde_json::json!({ "id": 3, "digest": expected_io_digest(&store) });
                assert_eq!(answers[2], io, "{name}: /io's digest is its two batches'");
                assert_eq!(answers[3]["id"], 3);
                assert_eq!(answers[3]["batches"], FANOUT);
                assert_ne!(answers[3]["digest"], answers[2]["digest"]);
                assert_eq!(answers[7], serde_json::json!({ "error": "not found" }));
                reference = Some((name.clone(), answers));
            }
            Some((first, expected)) => {
                for (index, target) in SCENARIOS
                    .iter()
                    .chain(REFUSED.iter().map(|(target, _)| target))
                    .enumerate()
                {
                    assert_eq!(
                        answers[index], expected[index],
                        "{name} and {first} answer {target} differently"
                    );
                }
            }
        }
    }
}

/// The fastest of a few `/fib?n=27` requests, one after another, and its answer.
fn fastest_fib(server: &ServerProcess, name: &str) -> (Duration, Value) {
    let mut fastest = Duration::MAX;
    let mut answer = Value::Null;
    for _ in 0..3 {
        let asked = Instant::now();
        let (status, json) = get_json(server, name, "/fib?n=27");
        fastest = fastest.min(asked.elapsed());
        assert_eq!(status, 200, "{name}: {json}");
        answer = json;
    }
    (fastest, answer)
}

#[test]
fn fib_is_equal_work_python_answers_as_go_and_rust_do_at_least_5x_slower_than_go() {
    let _alone = one_at_a_time();
    let baselines = installed_server_baselines();
    let installed = |name: &str| baselines.iter().any(|baseline| baseline.name == name);
    let (python, go) = ("py-uvicorn", "go-gin");
    if !installed(python) || !installed(go) {
        eprintln!("skipping: {python} and {go} are not both installed");
        return;
    }
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    let mut timed = Vec::new();
    for name in ["tokio-mt", go, python] {
        let server = serve(name, &upstream);
        let (took, answer) = fastest_fib(&server, name);
        assert_eq!(
            answer,
            serde_json::json!({ "n": 27, "fib": 196_418 }),
            "{name}"
        );
        eprintln!("{name}: /fib?n=27 in {took:?} at best");
        timed.push(took);
    }
    let (go_time, python_time) = (timed[1], timed[2]);
    assert!(
        python_time >= go_time * 5,
        "{python} took {python_time:?}, {go} {go_time:?}: equal work should show the language's speed"
    );
}
