//! One run of a sweep: `runtime-lab run --json` as a child process.
//!
//! A child per run gives each run its own peak RSS, thread count and rusage,
//! and keeps a crashing or hanging executor from taking the sweep down: a
//! run that fails or times out becomes an error string, never a panic.

use super::phases::RunDetail;
use super::plan::RunSpec;
use pipeline::RunReport;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What every run of a sweep shares.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The `runtime-lab` binary.
    pub program: PathBuf,
    /// The upstream's URL.
    pub upstream: String,
    /// What the sweep's probe found it to be; every run is told, so no run probes again.
    pub upstream_kind: pipeline::UpstreamKind,
    /// The embedded feature store's process, whose CPU each run is charged
    /// with as `run` charges its own store (runs happen one at a time).
    pub upstream_pid: Option<u32>,
    /// Calibrated kernel rounds per batch, the same for every run.
    pub cpu_rounds: u64,
    /// Feature values per batch.
    pub features: u32,
    /// Whether a run with failed batches still counts (the sweep injects
    /// faults); otherwise a failed batch fails the run.
    pub tolerate_failed_batches: bool,
}

impl Runner {
    /// The full argument list of the child for `spec`.
    pub fn args(&self, spec: &RunSpec) -> Vec<String> {
        let mut args = vec!["run".to_owned(), "--json".to_owned()];
        args.extend(spec.run_args());
        // A baseline calibrates its own kernel, in its own language, from
        // --cpu-ms; the Rust executors all get the sweep's rounds.
        if lab::baselines::find(spec.executor).is_none() {
            let rounds = if spec.cpu_ms > 0 { self.cpu_rounds } else { 0 };
            args.extend(["--cpu-rounds".to_owned(), rounds.to_string()]);
        }
        args.extend([
            "--features".to_owned(),
            self.features.to_string(),
            "--upstream".to_owned(),
            self.upstream.clone(),
            "--upstream-kind".to_owned(),
            self.upstream_kind.as_str().to_owned(),
        ]);
        args
    }

    /// Runs `spec` once and returns its report with the keys that
    /// [`RunDetail`] reads beside it, or why it failed. A run is killed after
    /// `timeout`; a run in which any batch failed is a failure unless the
    /// sweep injects faults.
    pub fn run(&self, spec: &RunSpec, timeout: Duration) -> Result<(RunReport, RunDetail), String> {
        let (report, detail) = self.run_child(spec, timeout)?;
        if !self.tolerate_failed_batches && (report.ok != spec.batches || report.failed > 0) {
            let first = report
                .errors
                .first()
                .map_or("no error given", String::as_str);
            return Err(format!(
                "{} of {} batches failed ({first})",
                report.failed, spec.batches
            ));
        }
        Ok((report, detail))
    }

    fn run_child(
        &self,
        spec: &RunSpec,
        timeout: Duration,
    ) -> Result<(RunReport, RunDetail), String> {
        let deadline = Instant::now() + timeout;
        let upstream_cpu = || self.upstream_pid.and_then(lab::upstream::process_cpu_ms);
        let upstream_before = upstream_cpu();
        let mut child = Command::new(&self.program)
            .args(self.args(spec))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.program.display()))?;
        // Both pipes are drained on their own threads, so that a chatty child
        // cannot block on a full pipe while this thread waits for the deadline.
        let (sender, receiver) = mpsc::channel();
        for (is_stdout, pipe) in [
            (
                true,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                false,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_string(&mut text);
                }
                let _ = sender.send((is_stdout, text));
            });
        }
        drop(sender);
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok((true, text)) => stdout = text,
                Ok((false, text)) => stderr = text,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("timed out after {} s", timeout.as_secs()));
                }
            }
        }
        let status = child
            .wait()
            .map_err(|error| format!("cannot wait for the run: {error}"))?;
        if status.code() == Some(i32::from(lab::EXIT_NO_BATCH_COMPLETED)) {
            // The run printed its report: name its first error.
            let first = serde_json::from_str::<RunReport>(stdout.trim())
                .ok()
                .and_then(|report| report.errors.first().cloned())
                .unwrap_or_else(|| "no error given".to_owned());
            return Err(format!("every batch failed ({first})"));
        }
        if !status.success() {
            let said = stderr
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("no message");
            return Err(format!("exited with {status}: {said}"));
        }
        let parse_error =
            |error: serde_json::Error| format!("its JSON report does not parse: {error}");
        let mut report: RunReport = serde_json::from_str(stdout.trim()).map_err(parse_error)?;
        // The run was given the sweep's store as an external upstream, so it
        // could not measure the store's CPU; the sweep can.
        if report.upstream_cpu_ms.is_none() {
            report.upstream_cpu_ms = upstream_cpu()
                .zip(upstream_before)
                .map(|(after, before)| after - before);
            report.upstream_pid = self.upstream_pid;
        }
        let detail = RunDetail::from_report(&report);
        Ok((report, detail))
    }
}

/// A generous limit for one run: four times its estimate plus half a minute.
pub fn timeout_for(estimate_ms: f64) -> Duration {
    Duration::from_secs(30) + Duration::from_secs_f64(4.0 * estimate_ms / 1e3)
}

/// The `runtime-lab` binary to start runs with: this process.
pub fn this_program() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::env::current_exe().context("cannot find the runtime-lab binary")
}
