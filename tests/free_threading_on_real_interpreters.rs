//! Free threading, measured on the real interpreters: CPython 3.13 and its
//! free-threaded build 3.13t, built by `scripts/baselines/install
//! interpreters`.
//!
//! - Every client baseline on 3.13t reports `gil_enabled: false` (in every
//!   process: py-processes folds in its workers'), and on 3.13 `true`, with
//!   the interpreter's version; the server baselines' runtime is checked in
//!   `server_baselines_answer_like_rust`.
//! - `py-threads` with CPU work at 8 batches is at least 1.5x faster on
//!   3.13t than on 3.13 (two cores: the GIL runs the 8 batches' CPU one
//!   after another, free threads two at a time), with the checksum of
//!   `threads`; on a machine whose spare core a neighbour holds, at least
//!   80% of the speed-up `threads` gets over `threads --gil` alongside.
//! - A baseline asked for on an interpreter it cannot run on exits 2 naming why.
//!
//! The tests that need an interpreter skip, saying so, when it is not
//! installed, unless `RUNTIME_LAB_REQUIRE_BASELINES` is set.

mod common;

use common::{REQUIRE_BASELINES, StoreProcess, number, run_executor, runtime_lab};

/// Whether `interpreter` is installed; if not, says so, or panics where
/// the baselines are required.
fn installed(interpreter: &str) -> bool {
    let found = lab::baselines::interpreter(interpreter).expect("a known interpreter");
    match found.installed() {
        Ok(()) => true,
        Err(reason) => {
            assert!(
                std::env::var_os(REQUIRE_BASELINES).is_none(),
                "{REQUIRE_BASELINES} is set but interpreter {interpreter} is {reason}"
            );
            eprintln!("skipped: interpreter {interpreter} is {reason}");
            false
        }
    }
}

#[test]
fn gil_is_off_in_every_client_process_on_313t_and_on_on_313() {
    if !(installed("3.13") && installed("3.13t")) {
        return;
    }
    let _guard = common::one_at_a_time();
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    let args = [
        "--batches",
        "4",
        "--workers",
        "2",
        "--io-ms",
        "1",
        "--cpu-ms",
        "2",
    ];
    for (interpreter, gil, version) in [
        ("3.13t", false, "CPython 3.13.5t"),
        ("3.13", true, "CPython 3.13.5"),
    ] {
        for client in ["py-serial", "py-asyncio", "py-threads", "py-processes"] {
            let name = format!("{client}@{interpreter}");
            let report = run_executor(&name, &upstream, &args);
            assert_eq!(report["executor"], name.as_str(), "{report}");
            assert_eq!(report["interpreter"], version, "{name}: {report}");
            assert_eq!(report["gil_enabled"], gil, "{name}: {report}");
            assert_eq!(report["gil"], gil, "{name}: {report}");
            assert_eq!(report["ok"], 4, "{name}: {report}");
        }
    }
}

#[test]
fn py_threads_runs_cpu_work_in_parallel_on_313t_only() {
    if !(installed("3.13") && installed("3.13t")) {
        return;
    }
    let _guard = common::one_at_a_time();
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    // 8 batches of 60 ms of CPU each and little I/O: 480 ms of CPU, which
    // the GIL runs one batch at a time and free threads on both cores.
    let workload = |executor: &str| {
        vec![
            "-e".to_owned(),
            executor.to_owned(),
            "--batches".to_owned(),
            "8".to_owned(),
            "--io-ms".to_owned(),
            "5".to_owned(),
            "--cpu-ms".to_owned(),
            "60".to_owned(),
            "--upstream".to_owned(),
            upstream.clone(),
        ]
    };
    // Four configurations, interleaved round by round so that a phase of
    // the machine's drift or of a neighbour's load falls on all of them;
    // each keeps its fastest run.
    let configurations: [(&str, &[&str]); 4] = [
        ("py-threads@3.13", &[]),
        ("py-threads@3.13t", &[]),
        ("threads", &[]),
        ("threads", &["--gil"]),
    ];
    let mut fastest: [Option<serde_json::Value>; 4] = Default::default();
    for _round in 0..3 {
        for (slot, (executor, extra)) in fastest.iter_mut().zip(configurations) {
            let mut args = workload(executor);
            args.extend(extra.iter().map(|arg| (*arg).to_owned()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let report = common::run_json(&args);
            if slot
                .as_ref()
                .is_none_or(|best| number(&report, "wall_ms") < number(best, "wall_ms"))
            {
                *slot = Some(report);
            }
        }
    }
    let [gil, free, rust, rust_gil] = fastest.map(|report| report.expect("three rounds ran"));
    assert_eq!(gil["gil_enabled"], true, "{gil}");
    assert_eq!(free["gil_enabled"], false, "{free}");
    assert_eq!(
        free["checksum"], rust["checksum"],
        "3.13t disagrees with threads"
    );
    assert_eq!(
        gil["checksum"], rust["checksum"],
        "3.13 disagrees with threads"
    );
    let speedup = number(&gil, "wall_ms") / number(&free, "wall_ms");
    // The same comparison in Rust, measured alongside: what parallel speed-up
    // the machine offers right now. On an idle 2-core machine it is about
    // 2x and the bar is the 1.5x; with a neighbour on one core it
    // is less, and no interpreter can beat it, so the bar is 80% of it.
    let emulated = number(&rust_gil, "wall_ms") / number(&rust, "wall_ms");
    let required = 1.5_f64.min(0.8 * emulated);
    eprintln!(
        "py-threads, 8 batches x 60 ms CPU: 3.13 {:.0} ms, 3.13t {:.0} ms, {speedup:.2}x (threads --gil / threads: {emulated:.2}x; required {required:.2}x)",
        number(&gil, "wall_ms"),
        number(&free, "wall_ms")
    );
    assert!(
        speedup >= required,
        "3.13t is only {speedup:.2}x faster than 3.13 ({} vs {} ms); threads --gil / threads is {emulated:.2}x on this machine now, so {required:.2}x was required",
        number(&free, "wall_ms"),
        number(&gil, "wall_ms")
    );
}

#[test]
fn a_baseline_on_an_interpreter_it_cannot_run_on_exits_2_naming_why() {
    for (command, name, why) in [
        ("serve", "py-gevent@3.13t", "gevent has no cp313t wheel"),
        ("serve", "py-uvicorn@3.13t", "pydantic-core"),
        (
            "serve",
            "py-granian",
            "Granian is not among the system venv's packages",
        ),
    ] {
        let output = runtime_lab()
            .args([command, "-e", name, "--upstream", "http://127.0.0.1:9/{id}"])
            .output()
            .expect("runtime-lab starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(why),
            "{name}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{name}: nothing on stdout");
    }
    let output = runtime_lab()
        .args(["run", "-e", "py-threads@3.13t", "--gil", "-n", "1"])
        .output()
        .expect("runtime-lab starts");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_gil_turned_back_on_shows_as_gil_enabled_true() {
    if !installed("3.13t") {
        return;
    }
    // PYTHON_GIL=1 turns the GIL on in a free-threaded build at start-up,
    // as importing an extension module without free-threading support does.
    let store = StoreProcess::start(&[]);
    let upstream = format!("http://{}", store.addr);
    for client in ["py-threads@3.13t", "py-processes@3.13t"] {
        let output = runtime_lab()
            .env("PYTHON_GIL", "1")
            .args([
                "run", "-e", client, "--json", "-n", "2", "-w", "2", "--io-ms", "1",
            ])
            .args(["--upstream", &upstream])
            .output()
            .expect("runtime-lab starts");
        assert!(output.status.success(), "{client}: {output:?}");
        let report = common::parse_single_json(&output);
        assert_eq!(
            report["interpreter"], "CPython 3.13.5t",
            "{client}: {report}"
        );
        assert_eq!(report["gil_enabled"], true, "{client}: {report}");
    }
    let mut command = runtime_lab();
    command
        .env("PYTHON_GIL", "1")
        .args([
            "serve",
            "-e",
            "py-gthread@3.13t",
            "-w",
            "2",
            "--addr",
            "127.0.0.1:0",
        ])
        .args(["--upstream", &upstream])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("runtime-lab starts");
    use std::io::BufRead;
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .expect("a readiness line");
    assert!(ready.starts_with("listening on http://"), "{ready:?}");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let runtime = stderr
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("baseline py-gthread@3.13t: "))
        .expect("serve says the baseline's runtime");
    common::signal(child.id(), "TERM");
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "{status}");
    assert!(runtime.contains("gil_enabled true"), "{runtime}");
    assert!(runtime.contains("not free threading"), "{runtime}");
}
