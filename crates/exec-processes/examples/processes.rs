//! Worker processes fed over pipes, with `--gil`: each process has its own
//! lock, so CPU work that one shared lock would serialize runs in parallel.
//!
//! A worker program is any program that calls `exec_processes::work` on its
//! stdin and stdout. This example is its own worker: started with the
//! argument `worker`, it serves; started plainly, it re-executes itself as
//! the workers (`std::env::current_exe()`), the way `multiprocessing` spawns
//! fresh interpreters running the same script. It runs 8 batches of 100 ms
//! CPU on 2 workers under the emulated GIL, then the same batches on threads
//! in this one process under the same GIL, and prints both walls and checksums.
//!
//! Run with: cargo run -p exec-processes --example processes

use exec_processes::WorkerCommand;
use feature_store::{Config, FeatureStore};
use pipeline::{Calibration, RunReport, Upstream, Workload};
use std::io;

const WORKER_ARG: &str = "worker";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Worker mode: answer batches until the parent closes our stdin.
    if std::env::args().nth(1).as_deref() == Some(WORKER_ARG) {
        exec_processes::work(io::stdin().lock(), io::stdout())?;
        return Ok(());
    }

    let store = FeatureStore::spawn(Config::default())?;
    let upstream = Upstream::parse(&format!("http://{}", store.addr()))?;
    // Calibrated once here; the rounds travel to the workers inside the
    // workload, so every process does identical work.
    let rounds = Calibration::measure(1024).rounds_for(100.0);
    let workload = Workload::new(upstream)
        .batches(8)
        .io_ms(50)
        .cpu(100.0, rounds)
        .workers(2)
        .gil(true);

    let myself = WorkerCommand::new(std::env::current_exe()?).arg(WORKER_ARG);
    let processes = exec_processes::run(&workload, &myself)?;
    show("2 worker processes, a GIL each", &processes);

    // The same work on threads of one process shares one GIL: CPU work takes
    // turns, and the wall grows towards io + 8 x cpu.
    let threads = threads_under_one_gil(&workload);
    show("threads in one process, one GIL", &threads);

    println!(
        "the processes crossed {} bytes of JSON over their pipes",
        processes.ipc_bytes.unwrap_or(0)
    );
    assert_eq!(processes.checksum, threads.checksum, "identical work");
    Ok(())
}

/// A thread per batch in this process, all preprocessing under the one GIL.
fn threads_under_one_gil(workload: &Workload) -> RunReport {
    let clock = pipeline::RunClock::start();
    let fetcher = pipeline::BlockingFetcher::new(workload);
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = workload
            .batch_ids()
            .map(|id| {
                let fetcher = &fetcher;
                scope.spawn(move || {
                    let issued = std::time::Instant::now();
                    let result = fetcher
                        .fetch_timed(id)
                        .and_then(|fetched| pipeline::process_fetched(workload, id, &fetched));
                    pipeline::BatchOutcome::new(id, issued, result)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a batch thread does not panic"))
            .collect()
    });
    clock.finish(workload, "threads", outcomes)
}

fn show(label: &str, report: &RunReport) {
    println!(
        "{label}: wall {:.0} ms, {} ok, cpu {:.0} ms user, checksum {}",
        report.wall_ms, report.ok, report.cpu_user_ms, report.checksum
    );
}
