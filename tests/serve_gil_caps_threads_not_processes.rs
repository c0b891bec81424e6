//! Under `--gil`, a thread-pool server preprocesses on one core at a time,
//! while a multi-process server keeps one lock per process and all cores.
//!
//! Each configuration serves the same burst of CPU-heavy requests, sent at
//! once on separate connections; the burst's wall time is compared with and
//! without the GIL, as a ratio with generous margins (best of three each,
//! interleaved, since a shared machine can only slow a burst down).

mod common;

use common::ServerProcess;
use std::time::{Duration, Instant};

/// Requests in one burst, and the server's workers: enough that the two
/// cores, not the pool, are the limit.
const REQUESTS: usize = 8;
const WORKERS: &str = "8";
const CPU_MS: &str = "40";

fn burst(server: &ServerProcess) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for id in 0..REQUESTS {
            scope.spawn(move || {
                let (status, body) = server.get(&format!("/predict?id={id}"));
                assert_eq!(status, 200, "{body}");
            });
        }
    });
    started.elapsed()
}

/// The best burst of three for each of `configs`, taken in turns.
fn best_bursts(configs: &[&[&str]]) -> Vec<Duration> {
    let servers: Vec<ServerProcess> = configs
        .iter()
        .map(|args| {
            let mut args = args.to_vec();
            args.extend(["-w", WORKERS, "--io-ms", "1", "--cpu-ms", CPU_MS]);
            ServerProcess::start(&args)
        })
        .collect();
    let mut best = vec![Duration::MAX; servers.len()];
    for _ in 0..3 {
        for (server, best) in servers.iter().zip(&mut best) {
            *best = (*best).min(burst(server));
        }
    }
    best
}

#[test]
fn gil_caps_threads_at_one_core_and_not_processes() {
    if pipeline::available_cores() < 2 {
        eprintln!("skipped: one core cannot show a GIL's cost");
        return;
    }
    let best = best_bursts(&[
        &["-e", "threads"],
        &["-e", "threads", "--gil"],
        &["-e", "processes"],
        &["-e", "processes", "--gil"],
    ]);
    let threads_ratio = best[1].as_secs_f64() / best[0].as_secs_f64();
    let processes_ratio = best[3].as_secs_f64() / best[2].as_secs_f64();
    eprintln!(
        "bursts {best:?}: threads --gil / threads = {threads_ratio:.2}, processes --gil / processes = {processes_ratio:.2}"
    );
    // Two cores against one: about 2x for threads, about 1x for processes.
    assert!(
        threads_ratio > 1.4,
        "the GIL should serialize threads: {threads_ratio:.2}"
    );
    assert!(
        processes_ratio < 1.3,
        "each process has its own GIL: {processes_ratio:.2}"
    );
}
