//! The blocking path (ureq: serial, threads, rayon, crossbeam, processes) and
//! the async path (hyper: tokio, smol, async-std, glommio) send byte-identical
//! requests, so that an upstream which looks at the request (httpbin echoes
//! every header) gives every executor the same bytes and the same checksum.
//!
//! A raw TCP listener records every request head exactly as it arrives, and
//! each executor's requests are compared, byte for byte, with one pinned form.
//! The Python and Go client baselines send the same headers in the same
//! order, in their libraries' capitalisation.

mod common;

use common::{available_executors, installed_baselines, parse_single_json, runtime_lab};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const BATCHES: u64 = 2;

/// Request heads as received, in arrival order.
type Recorded = Arc<Mutex<Vec<String>>>;

/// Starts a listener that records each request head and answers `ok`,
/// keeping the connection open unless the request asked to close it.
fn recording_server() -> (SocketAddr, Recorded) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorded: Recorded = Arc::default();
    let sink = Arc::clone(&recorded);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || serve_connection(stream, &sink));
        }
    });
    (addr, recorded)
}

fn serve_connection(stream: TcpStream, sink: &Mutex<Vec<String>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => head.push_str(&line),
            }
            if line == "\r\n" {
                break;
            }
        }
        let close = head
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n");
        sink.lock().unwrap().push(head);
        let reply = if close {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        } else {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        };
        if writer.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// The one request head every path must send for batch `id`.
fn pinned(addr: SocketAddr, id: u64, fresh: bool) -> String {
    format!(
        "GET /echo?b={id} HTTP/1.1\r\nhost: {addr}\r\nuser-agent: {}\r\naccept: */*\r\n{}\r\n",
        pipeline::USER_AGENT,
        if fresh { "connection: close\r\n" } else { "" }
    )
}

/// Runs `executor` against the recorder and returns the heads it sent
/// (the probe's request for batch 0 included, since it is the run's own),
/// sorted.
fn heads_of(executor: &str, addr: SocketAddr, recorded: &Recorded, extra: &[&str]) -> Vec<String> {
    recorded.lock().unwrap().clear();
    let output = runtime_lab()
        .args(["run", "--executor", executor, "--batches"])
        .arg(BATCHES.to_string())
        .args(["--io-ms", "0", "--workers", "2", "--json", "--upstream"])
        .arg(format!("http://{addr}/echo?b={{id}}"))
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{executor}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = parse_single_json(&output);
    assert_eq!(report["ok"], BATCHES, "{executor}: {report}");
    let mut heads = recorded.lock().unwrap().clone();
    heads.sort();
    heads
}

#[test]
fn every_executor_sends_the_pinned_request_bytes() {
    let (addr, recorded) = recording_server();
    // The probe asks for batch 0 once more, with the same bytes.
    let mut expected: Vec<String> = std::iter::once(0)
        .chain(0..BATCHES)
        .map(|id| pinned(addr, id, true))
        .collect();
    expected.sort();
    let executors = available_executors();
    assert!(executors.iter().any(|e| e == "serial") && executors.iter().any(|e| e == "tokio-ct"));
    for executor in &executors {
        let heads = heads_of(executor, addr, &recorded, &[]);
        assert_eq!(heads, expected, "{executor} sent other bytes");
    }
}

#[test]
fn pooled_connections_send_the_same_bytes_without_close_on_both_paths() {
    let (addr, recorded) = recording_server();
    let mut expected: Vec<String> = std::iter::once(0)
        .chain(0..BATCHES)
        .map(|id| pinned(addr, id, false))
        .collect();
    // The probe always uses a connection of its own.
    expected[0] = pinned(addr, 0, true);
    expected.sort();
    for executor in ["serial", "tokio-ct"] {
        let heads = heads_of(executor, addr, &recorded, &["--connections", "pooled"]);
        assert_eq!(heads, expected, "{executor} sent other bytes");
    }
}

#[test]
fn every_installed_client_baseline_sends_the_rust_headers() {
    let (addr, recorded) = recording_server();
    for baseline in installed_baselines() {
        for (connections, fresh) in [("fresh", true), ("pooled", false)] {
            // Told the upstream's kind, `run` sends no probe of its own.
            let extra = ["--connections", connections, "--upstream-kind", "template"];
            let heads: Vec<String> = heads_of(baseline.name, addr, &recorded, &extra)
                .iter()
                .map(|head| head.to_ascii_lowercase())
                .collect();
            let expected: Vec<String> = (0..BATCHES)
                .map(|id| pinned(addr, id, fresh).to_ascii_lowercase())
                .collect();
            assert_eq!(
                heads, expected,
                "{} with {connections} connections sent other headers",
                baseline.name
            );
        }
    }
}
