//! `runtime-lab serve` names the problem and exits 2 on bad input, before it
//! starts anything.

mod common;

use common::runtime_lab;

fn serve_fails(args: &[&str]) -> String {
    let output = runtime_lab()
        .arg("serve")
        .args(args)
        .output()
        .expect("runtime-lab starts");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "serve {args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "no readiness line for {args:?}");
    stderr
}

#[test]
fn non_serving_and_unknown_executors_are_rejected() {
    for executor in ["rayon", "crossbeam", "serial"] {
        let stderr = serve_fails(&["-e", executor, "--addr", "127.0.0.1:0"]);
        assert!(stderr.contains("not a serving model"), "{stderr}");
        assert!(
            stderr.contains("tokio-mt"),
            "the message lists the serving models: {stderr}"
        );
    }
    let stderr = serve_fails(&["-e", "nginx", "--addr", "127.0.0.1:0"]);
    assert!(stderr.contains("nginx"), "{stderr}");
}

#[test]
fn zero_workers_and_bad_numbers_are_rejected() {
    serve_fails(&["-e", "threads", "-w", "0", "--addr", "127.0.0.1:0"]);
    serve_fails(&["-e", "threads", "--fanout", "0", "--addr", "127.0.0.1:0"]);
    serve_fails(&["-e", "threads", "--cpu-ms", "lots", "--addr", "127.0.0.1:0"]);
}

#[test]
fn a_port_in_use_is_rejected() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().expect("its address").to_string();
    let stderr = serve_fails(&["-e", "tokio-mt", "--addr", &addr]);
    assert!(
        stderr.contains(&addr) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn an_upstream_that_does_not_answer_is_rejected() {
    // Bound but never accepted: connects are refused once it is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let upstream = format!("http://127.0.0.1:{port}");
    let stderr = serve_fails(&[
        "-e",
        "tokio-mt",
        "--addr",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
    ]);
    assert!(stderr.contains("refused"), "{stderr}");
}
