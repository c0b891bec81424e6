//! Every installed server baseline (FastAPI on uvicorn, Flask on gunicorn's
//! sync, gthread and gevent workers and on Granian, Go's net/http and Gin),
//! on every interpreter it runs on, served by `runtime-lab serve -e NAME`,
//! answers `/predict?id=N` with the digest that `tokio-mt` answers for the
//! same workload, says its interpreter and whether the GIL was enabled in
//! any of its processes (false on 3.13t, true elsewhere), and SIGTERM to
//! `serve` stops it with every process it started and frees its port.

mod common;

use common::{ServerProcess, StoreProcess, descendants, installed_server_baselines, is_alive};
use std::time::Duration;

const IDS: [u64; 2] = [0, 5];

/// The digests of [`IDS`] from `server`, checking the answers' other keys.
fn digests(server: &ServerProcess, name: &str) -> Vec<String> {
    IDS.iter()
        .map(|id| {
            let (status, body) = server.get(&format!("/predict?id={id}"));
            assert_eq!(status, 200, "{name}: {body}");
            let answer: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|error| panic!("{name} answered {body:?}: {error}"));
            assert_eq!(answer["id"], *id, "{name}: {body}");
            assert_eq!(answer["batches"], 3, "{name}: {body}");
            answer["digest"].as_str().expect("a digest").to_owned()
        })
        .collect()
}

#[test]
fn every_installed_server_baseline_answers_the_tokio_mt_digest_and_stops_on_sigterm() {
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    let workload = [
        "--fanout",
        "3",
        "--io-ms",
        "1",
        "--cpu-ms",
        "1",
        "--upstream",
        &upstream,
    ];
    let serve = |executor: &str, workers: &str| {
        let mut args = vec!["-e", executor, "-w", workers];
        args.extend_from_slice(&workload);
        ServerProcess::start(&args)
    };
    let serve_baseline = |name: &str, workers: &str| {
        let mut args = vec!["-w", workers];
        args.extend_from_slice(&workload);
        ServerProcess::start_baseline(name, &args)
    };
    let expected = digests(&serve("tokio-mt", "2"), "tokio-mt");
    assert_ne!(expected[0], expected[1], "different ids, different digests");

    let installed = installed_server_baselines();
    // Two workers each, and uvicorn's single process too: a different path.
    let mut cases: Vec<(&str, &str)> = installed.iter().map(|b| (b.name, "2")).collect();
    if installed.iter().any(|b| b.name == "py-uvicorn") {
        cases.push(("py-uvicorn", "1"));
    }
    for (name, workers) in cases {
        let (mut server, runtime) = serve_baseline(name, workers);
        let label = format!("{name} -w {workers}");
        eprintln!("{label}: {runtime}");
        if let Some(interpreter) = lab::baselines::interpreter_of(name) {
            let gil = !interpreter.free_threaded;
            assert!(
                runtime.contains(&format!("gil_enabled {gil} ")),
                "{label}: {runtime}"
            );
            // `CPython 3.13.5t,` names the free-threaded build.
            assert_eq!(
                runtime.contains("t, gil_enabled"),
                interpreter.free_threaded,
                "{label}: {runtime}"
            );
        }
        assert_eq!(
            digests(&server, &label),
            expected,
            "{label} disagrees with tokio-mt"
        );
        assert_eq!(server.get("/health").0, 200, "{label}");
        assert_eq!(server.get("/predict?id=x").0, 400, "{label}");
        let started = descendants(server.pid());
        assert!(!started.is_empty(), "{label}: the baseline runs as a child");
        let status = server
            .terminate(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{label} did not stop within 30 s of SIGTERM"));
        assert!(status.success(), "{label} exited with {status}");
        // Python's multiprocessing resource tracker exits once the last of
        // its processes has: moments after the server, so it is waited for.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let left = loop {
            let left: Vec<u32> = started
                .iter()
                .copied()
                .filter(|&pid| is_alive(pid))
                .collect();
            if left.is_empty() || std::time::Instant::now() >= deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(left.is_empty(), "{label} left processes behind: {left:?}");
        std::net::TcpListener::bind(server.addr)
            .unwrap_or_else(|error| panic!("{label} left its port {} held: {error}", server.addr));
    }
}
