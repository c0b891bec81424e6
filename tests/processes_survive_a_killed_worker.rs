//! A `processes` worker killed mid-run takes only its own batches with it:
//! the run ends, reports those batches failed with a clear error, leaves no
//! worker behind, and never hangs.

mod common;

use common::{parse_single_json, runtime_lab};
use feature_store::{Config, FeatureStore};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BATCHES: u64 = 8;
const WORKERS: u64 = 2;
/// Long enough that the worker is surely still waiting on its batches when it is killed.
const IO_MS: u64 = 3_000;
/// Far beyond the run's own length: reaching it means the parent hung.
const HANG: Duration = Duration::from_secs(60);

/// The child processes of `parent`, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid ...`: the command name may hold spaces.
            stat.rfind(')')
                .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok())
                == Some(parent)
        })
        .collect()
}

fn thread_count(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|count| count.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_killed_worker_fails_its_batches_and_the_run_ends() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let upstream = format!("http://{}", store.addr());
    let child = runtime_lab()
        .args(["run", "--executor", "processes", "--upstream", &upstream])
        .args([
            "--batches",
            &BATCHES.to_string(),
            "--workers",
            &WORKERS.to_string(),
        ])
        .args(["--io-ms", &IO_MS.to_string(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = child.id();

    // Readiness, not a guess: a worker runs a thread per batch it was given,
    // so a worker with more than one thread is waiting on its batches now.
    // Polled every few milliseconds, up to a bound.
    let deadline = Instant::now() + HANG;
    let (victim, survivors) = loop {
        let workers = children(parent);
        if let Some(&busy) = workers.iter().find(|&&pid| thread_count(pid) > 1) {
            let others: Vec<u32> = workers.into_iter().filter(|&pid| pid != busy).collect();
            break (busy, others);
        }
        assert!(
            Instant::now() < deadline,
            "no busy worker of {parent} appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();

    // The run must end by itself; if it does not, kill it and fail.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(HANG) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = kill(Pid::from_raw(parent as i32), Signal::SIGKILL);
            panic!("runtime-lab run -e processes hung after a worker was killed");
        }
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = parse_single_json(&output);

    // The killed worker had half the batches (the in-flight share of one of
    // two workers); they fail, the other worker's succeed.
    assert_eq!(report["failed"], BATCHES / WORKERS, "{report}");
    assert_eq!(report["ok"], BATCHES - BATCHES / WORKERS, "{report}");
    assert_eq!(
        report["failed_ids"].as_array().map(Vec::len),
        Some((BATCHES / WORKERS) as usize)
    );
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("worker lost") && errors.contains(&victim.to_string()),
        "the error should name the lost worker {victim}: {errors}"
    );
    assert!(
        errors.contains("SIGKILL"),
        "the error should say how it died: {errors}"
    );
    assert!(report["ipc_bytes"].as_u64().unwrap_or(0) > 0, "{report}");
    for pid in survivors.into_iter().chain([victim]) {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} outlived the run"
        );
    }
}
