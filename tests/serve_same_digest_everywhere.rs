//! Every serving model answers `/predict?id=N` with the same digest, the one
//! that `run` computes for the same batches, and stops cleanly on SIGTERM.

mod common;

use common::{ServerProcess, StoreProcess, available_executors, descendants, is_alive, run_json};
use std::time::Duration;

/// DESIGN.md's serving models, with the worker counts that exercise each
/// shape: one process, and several processes on one port.
const MODELS: &[(&str, &str)] = &[
    ("tokio-ct", "1"),
    ("tokio-ct", "2"),
    ("tokio-ct-offload", "2"),
    ("processes", "2"),
    ("threads", "4"),
    ("tokio-mt", "2"),
    ("smol", "2"),
    ("async-std", "2"),
    ("glommio", "2"),
];

const FANOUT: &str = "3";

#[test]
fn every_serving_model_answers_the_same_digest_as_run() {
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    // /predict?id=0 with a fan-out of 3 preprocesses batches 0, 1 and 2:
    // exactly what `run -n 3` does, so its checksum is the digest.
    let run = run_json(&[
        "-e",
        "serial",
        "-n",
        FANOUT,
        "--io-ms",
        "1",
        "--upstream",
        &upstream,
    ]);
    let expected_id_0 = run["checksum"].as_str().expect("a checksum").to_owned();

    let available = available_executors();
    let mut digests_by_model = Vec::new();
    for &(executor, workers) in MODELS {
        if !available.iter().any(|name| name == executor) {
            eprintln!("skipping {executor}: unavailable here");
            continue;
        }
        let server = ServerProcess::start(&[
            "-e",
            executor,
            "-w",
            workers,
            "--fanout",
            FANOUT,
            "--io-ms",
            "1",
            "--cpu-ms",
            "1",
            "--upstream",
            &upstream,
        ]);
        let digests: Vec<String> = [0, 7, 123_456]
            .iter()
            .map(|id| {
                let (status, body) = server.get(&format!("/predict?id={id}"));
                assert_eq!(status, 200, "{executor} -w {workers}: {body}");
                let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                assert_eq!(answer["id"], *id);
                assert_eq!(answer["batches"], 3);
                answer["digest"].as_str().expect("a digest").to_owned()
            })
            .collect();
        assert_eq!(
            digests[0], expected_id_0,
            "{executor} -w {workers} disagrees with run's checksum"
        );
        assert_eq!(server.get("/health").0, 200);
        assert_eq!(server.get("/predict?id=x").0, 400);
        assert_eq!(server.get("/nothing").0, 404);
        digests_by_model.push((format!("{executor} -w {workers}"), digests));
    }
    assert!(
        digests_by_model.len() >= MODELS.len() - 1,
        "most models ran"
    );
    let (first_model, first) = &digests_by_model[0];
    for (model, digests) in &digests_by_model {
        assert_eq!(digests, first, "{model} disagrees with {first_model}");
    }
    assert_ne!(first[0], first[1], "different ids give different digests");
}

#[test]
fn sigterm_stops_the_server_and_every_process_it_started() {
    for (executor, workers) in [("processes", "2"), ("tokio-ct", "2"), ("tokio-mt", "2")] {
        // No --upstream: the server starts its own feature store child too.
        let mut server = ServerProcess::start(&["-e", executor, "-w", workers, "--io-ms", "1"]);
        assert_eq!(server.get("/predict?id=1").0, 200);
        let started = descendants(server.pid());
        // The store, plus one process per worker where the model has them.
        let expected = if executor == "tokio-mt" { 1 } else { 3 };
        assert_eq!(started.len(), expected, "{executor}: processes {started:?}");
        let status = server
            .terminate(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{executor} did not stop within 10 s of SIGTERM"));
        assert!(status.success(), "{executor} exited with {status}");
        let left: Vec<u32> = started.into_iter().filter(|&pid| is_alive(pid)).collect();
        assert!(
            left.is_empty(),
            "{executor} left processes behind: {left:?}"
        );
    }
}
