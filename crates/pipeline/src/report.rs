//! Measuring a run and reporting it in DESIGN.md's JSON shape.

use crate::kernel::combine_digests;
use crate::{BatchError, Processed, Workload, available_cores};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The life of one batch: when its fetch was issued, when it was done, and how it ended.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// The batch id.
    pub id: u64,
    /// When the fetch was issued.
    pub issued: Instant,
    /// When preprocessing finished (or the batch failed).
    pub finished: Instant,
    /// The digest and CPU time, or why the batch failed.
    pub result: Result<Processed, BatchError>,
}

impl BatchOutcome {
    /// Records a batch that ends now. An ok batch's phases are extended to
    /// cover `issued` to now (see [`Processed::accounted`]).
    pub fn new(id: u64, issued: Instant, result: Result<Processed, BatchError>) -> Self {
        let finished = Instant::now();
        BatchOutcome {
            id,
            issued,
            finished,
            result: result.map(|processed| processed.accounted(issued, finished)),
        }
    }
}

/// Per-batch latency percentiles, fetch issued to batch preprocessed, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest batch.
    pub max: f64,
}

/// Per-phase percentiles over a run's ok batches, in milliseconds: where the
/// latency went (see [`crate::Phases`] for where each phase begins and ends).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Fetch issued to connection ready, failed attempts and backoff included.
    pub connect: LatencySummary,
    /// Connection ready to response head: the request write and the upstream's delay.
    pub wait: LatencySummary,
    /// Response head to the last body byte.
    pub receive: LatencySummary,
    /// JSON body to feature values.
    pub decode: LatencySummary,
    /// Ready but waiting for the executor (or the GIL): its scheduling delay.
    pub queue: LatencySummary,
    /// The kernel rounds.
    pub preprocess: LatencySummary,
}

impl PhaseSummary {
    /// The phase names of the report, in order.
    pub const NAMES: [&'static str; 6] = [
        "connect",
        "wait",
        "receive",
        "decode",
        "queue",
        "preprocess",
    ];

    /// The summaries in the order of [`PhaseSummary::NAMES`].
    pub fn as_array(&self) -> [LatencySummary; 6] {
        [
            self.connect,
            self.wait,
            self.receive,
            self.decode,
            self.queue,
            self.preprocess,
        ]
    }

    /// Percentiles of each phase over `phases` (nearest rank, exact).
    fn of(phases: &[crate::Phases]) -> Self {
        let summary = |index: usize| {
            let mut values: Vec<f64> = phases.iter().map(|p| ms(p.as_array()[index])).collect();
            values.sort_by(f64::total_cmp);
            let rank = |quantile: f64| {
                let at = ((quantile * values.len() as f64).ceil() as usize).max(1) - 1;
                values.get(at).copied().unwrap_or(0.0)
            };
            LatencySummary {
                p50: rank(0.5),
                p99: rank(0.99),
                max: values.last().copied().unwrap_or(0.0),
            }
        };
        PhaseSummary {
            connect: summary(0),
            wait: summary(1),
            receive: summary(2),
            decode: summary(3),
            queue: summary(4),
            preprocess: summary(5),
        }
    }
}

/// One run's measurements: the JSON object of `runtime-lab run --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Executor name, as in `runtime-lab list`.
    pub executor: String,
    /// Batches in the workload.
    pub batches: u32,
    /// Upstream delay per request.
    pub io_ms: u64,
    /// Requested CPU time per batch.
    pub cpu_ms: f64,
    /// Kernel rounds per batch actually run.
    pub cpu_rounds: u64,
    /// Feature values per batch: what the kernel runs on, and is calibrated for.
    pub features: u32,
    /// Values the largest ok batch's body gave before it was folded into
    /// `features` values (a feature batch's length, or another service's
    /// body bytes); `None` when no batch was preprocessed, or in a report
    /// written before it was measured.
    #[serde(default)]
    pub values_per_batch: Option<u64>,
    /// Pool size given to the executor.
    pub workers: usize,
    /// `fresh` or `pooled`.
    pub connections: String,
    /// Cap on concurrent requests, if any.
    pub max_in_flight: Option<usize>,
    /// Whether the emulated GIL was on.
    pub gil: bool,
    /// Logical CPUs available to the process.
    pub cores: usize,
    /// Makespan: first request issued to last batch preprocessed.
    pub wall_ms: f64,
    /// The machine's bound: `io_ms + ceil(batches / cores) * cpu_per_batch_ms`.
    pub ideal_ms: f64,
    /// `ideal_ms / wall_ms`, capped at 1; `None` (JSON `null`) when any
    /// batch failed, since the bound is for work that was not all done.
    pub efficiency: Option<f64>,
    /// Median thread CPU time to preprocess one batch, measured in this run.
    pub cpu_per_batch_ms: f64,
    /// Per-batch latency percentiles.
    pub latency_ms: LatencySummary,
    /// User CPU time of this process (and its reaped children) during the run.
    pub cpu_user_ms: f64,
    /// System CPU time of this process (and its reaped children) during the run.
    pub cpu_sys_ms: f64,
    /// The most batches in flight at the same moment (fetch issued, batch
    /// not yet preprocessed or failed), computed exactly from every batch's
    /// issue and completion times; `None` in a report that did not measure it
    /// (a baseline's).
    #[serde(default)]
    pub in_flight_peak: Option<u64>,
    /// Per-phase percentiles over the ok batches; `None` when not measured.
    #[serde(default)]
    pub phases_ms: Option<PhaseSummary>,
    /// How well the phases account for the latency: the largest
    /// `|latency - sum of phases| / latency` over the ok batches (0.01 is
    /// 1%); `None` when not measured.
    #[serde(default)]
    pub phases_gap_max: Option<f64>,
    /// Peak resident memory of the process, in KiB.
    pub peak_rss_kb: u64,
    /// Most threads seen in the process during the run.
    pub threads_peak: u64,
    /// Batches fetched and preprocessed.
    pub ok: u32,
    /// Batches that failed.
    pub failed: u32,
    /// Retries made after transient failures (counted whether or not the batch then succeeded).
    #[serde(default)]
    pub retries: u64,
    /// Ids of the failed batches, ascending.
    pub failed_ids: Vec<u64>,
    /// Order-independent checksum of the ok batches' digests, as hex.
    pub checksum: String,
    /// One line per kind of batch error: the first message and how many batches failed so.
    pub errors: Vec<String>,
    /// Bytes serialized across process boundaries (the `processes` executor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_bytes: Option<u64>,
    /// The upstream URL.
    #[serde(default)]
    pub upstream: String,
    /// What the upstream is: `feature-store`, `template` (a URL with
    /// `{id}`) or `url` (any other URL, requested as it is).
    #[serde(default)]
    pub upstream_kind: crate::UpstreamKind,
    /// CPU time of the embedded feature store process during the run, when the CLI started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_cpu_ms: Option<f64>,
    /// Process id of the embedded feature store, when the CLI started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_pid: Option<u32>,
    /// The interpreter a Python baseline ran on (`CPython 3.13.5t`); `None`
    /// for a Rust executor, a Go baseline, or a report written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// Whether CPython's GIL was enabled (`sys._is_gil_enabled()`, measured
    /// after the imports) in any of a Python baseline's processes: `false`
    /// only when every process ran without it. `None` where not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil_enabled: Option<bool>,
}

impl RunReport {
    /// DESIGN.md's ideal bound for a workload on `cores` cores.
    pub fn ideal_ms(io_ms: u64, batches: u32, cores: usize, cpu_per_batch_ms: f64) -> f64 {
        let waves = u64::from(batches).div_ceil(cores.max(1) as u64);
        io_ms as f64 + waves as f64 * cpu_per_batch_ms
    }
}

/// Starts measuring a run; [`RunClock::finish`] turns the batch outcomes into a [`RunReport`].
///
/// Start it just before the executor builds its runtime, so that thread and
/// memory peaks include the runtime itself.
pub struct RunClock {
    started: Instant,
    retries_at_start: u64,
    usage: Usage,
    threads: ThreadSampler,
}

impl RunClock {
    /// Starts the clock, the CPU usage counters and the thread sampler.
    pub fn start() -> Self {
        RunClock {
            started: Instant::now(),
            retries_at_start: crate::retry::retries_so_far(),
            usage: Usage::now(),
            threads: ThreadSampler::start(),
        }
    }

    /// Builds the report from every batch's outcome.
    pub fn finish(
        self,
        workload: &Workload,
        executor: &str,
        mut outcomes: Vec<BatchOutcome>,
    ) -> RunReport {
        let ended = Instant::now();
        let usage = Usage::now();
        let threads_peak = self.threads.stop();
        outcomes.sort_by_key(|outcome| outcome.id);

        let first_issued = outcomes
            .iter()
            .map(|o| o.issued)
            .min()
            .unwrap_or(self.started);
        let last_finished = outcomes.iter().map(|o| o.finished).max().unwrap_or(ended);
        let wall_ms = ms(last_finished.saturating_duration_since(first_issued));

        let mut latencies =
            Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        let mut cpu_times = Vec::new();
        let mut digests = Vec::new();
        let mut values_per_batch = None;
        let mut failed_ids = Vec::new();
        // (kind, first message, batches) in order of first appearance.
        let mut error_kinds: Vec<(&'static str, String, usize)> = Vec::new();
        for outcome in &outcomes {
            let micros = outcome
                .finished
                .saturating_duration_since(outcome.issued)
                .as_micros();
            latencies.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            match &outcome.result {
                Ok(processed) => {
                    cpu_times.push(ms(processed.cpu));
                    digests.push(processed.digest);
                    values_per_batch = values_per_batch.max(Some(processed.values));
                }
                Err(error) => {
                    failed_ids.push(outcome.id);
                    match error_kinds
                        .iter_mut()
                        .find(|(kind, ..)| *kind == error.kind())
                    {
                        Some((_, _, count)) => *count += 1,
                        None => error_kinds.push((error.kind(), error.to_string(), 1)),
                    }
                }
            }
        }
        let cpu_per_batch_ms = median(&mut cpu_times);
        let (phases_ms, phases_gap_max) = phase_figures(&outcomes);
        let cores = available_cores();
        let ideal_ms =
            RunReport::ideal_ms(workload.io_ms, workload.batches, cores, cpu_per_batch_ms);
        let latency = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1e3;
        let ok = digests.len() as u32;
        RunReport {
            executor: executor.to_owned(),
            batches: workload.batches,
            io_ms: workload.io_ms,
            cpu_ms: workload.cpu_ms,
            cpu_rounds: workload.cpu_rounds,
            features: workload.features,
            values_per_batch,
            workers: workload.workers,
            connections: workload.connections.as_str().to_owned(),
            max_in_flight: workload.max_in_flight,
            gil: workload.gil,
            cores,
            wall_ms,
            ideal_ms,
            efficiency: efficiency(ideal_ms, wall_ms, ok, workload.batches),
            cpu_per_batch_ms,
            latency_ms: if outcomes.is_empty() {
                LatencySummary::default()
            } else {
                LatencySummary {
                    p50: latency(0.5),
                    p99: latency(0.99),
                    max: latencies.max() as f64 / 1e3,
                }
            },
            cpu_user_ms: ms(usage.user.saturating_sub(self.usage.user)),
            cpu_sys_ms: ms(usage.system.saturating_sub(self.usage.system)),
            peak_rss_kb: usage.peak_rss_kb,
            threads_peak,
            in_flight_peak: Some(in_flight_peak(&outcomes)),
            phases_ms,
            phases_gap_max,
            ok,
            failed: failed_ids.len() as u32,
            retries: crate::retry::retries_so_far() - self.retries_at_start,
            failed_ids,
            checksum: format!("{:016x}", combine_digests(digests)),
            errors: error_kinds
                .into_iter()
                .map(|(_, message, count)| match count {
                    1 => format!("{message} (1 batch)"),
                    _ => format!("{message} ({count} batches)"),
                })
                .collect(),
            ipc_bytes: None,
            upstream: workload.upstream.url.clone(),
            upstream_kind: workload.upstream.kind,
            upstream_cpu_ms: None,
            upstream_pid: None,
            interpreter: None,
            gil_enabled: None,
        }
    }
}

/// The most batches between issue and completion at one moment. A batch
/// that completes at the very instant another is issued is not counted with it.
fn in_flight_peak(outcomes: &[BatchOutcome]) -> u64 {
    let mut events: Vec<(Instant, i64)> = outcomes
        .iter()
        .flat_map(|outcome| {
            [
                (outcome.issued, 1),
                (outcome.finished.max(outcome.issued), -1),
            ]
        })
        .collect();
    // At equal times the completion (-1) sorts before the issue (+1).
    events.sort_unstable();
    let (mut in_flight, mut peak) = (0i64, 0i64);
    for (_, change) in events {
        in_flight += change;
        peak = peak.max(in_flight);
    }
    peak as u64
}

/// The phase percentiles of the ok batches and the largest share of a
/// batch's latency that its phases leave unaccounted; `None` for both when
/// no batch succeeded.
fn phase_figures(outcomes: &[BatchOutcome]) -> (Option<PhaseSummary>, Option<f64>) {
    let mut phases = Vec::with_capacity(outcomes.len());
    let mut gap_max: f64 = 0.0;
    for outcome in outcomes {
        let Ok(processed) = &outcome.result else {
            continue;
        };
        let latency = outcome.finished.saturating_duration_since(outcome.issued);
        let total = processed.phases.total();
        let gap = latency.abs_diff(total).as_secs_f64() / latency.as_secs_f64().max(1e-9);
        gap_max = gap_max.max(gap);
        phases.push(processed.phases);
    }
    if phases.is_empty() {
        return (None, None);
    }
    (Some(PhaseSummary::of(&phases)), Some(gap_max))
}

/// `ideal / wall`, capped at 1, for a run that did every batch; `None` for
/// one that did not, whose wall time measures failures, not the work.
fn efficiency(ideal_ms: f64, wall_ms: f64, ok: u32, batches: u32) -> Option<f64> {
    if ok < batches {
        None
    } else if wall_ms > 0.0 {
        Some((ideal_ms / wall_ms).min(1.0))
    } else {
        Some(0.0)
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// CPU time (this process plus reaped children) and peak memory.
struct Usage {
    user: Duration,
    system: Duration,
    peak_rss_kb: u64,
}

impl Usage {
    fn now() -> Self {
        use nix::sys::resource::{UsageWho, getrusage};
        let mut user = Duration::ZERO;
        let mut system = Duration::ZERO;
        let mut children_rss_kb = 0;
        for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
            if let Ok(usage) = getrusage(who) {
                user += timeval(usage.user_time());
                system += timeval(usage.system_time());
                if who == UsageWho::RUSAGE_CHILDREN {
                    children_rss_kb = usage.max_rss().max(0) as u64;
                }
            }
        }
        let own_rss_kb = proc_status_field("VmHWM:").unwrap_or(0);
        Usage {
            user,
            system,
            peak_rss_kb: own_rss_kb.max(children_rss_kb),
        }
    }
}

fn timeval(value: nix::sys::time::TimeVal) -> Duration {
    use nix::sys::time::TimeValLike;
    Duration::from_micros(value.num_microseconds().max(0) as u64)
}

/// Reads a numeric field of `/proc/self/status` (`VmHWM:` in KiB, `Threads:`).
fn proc_status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

/// Samples the process's thread count every millisecond; the kernel keeps no
/// peak for it, and executors start and stop threads during the run.
struct ThreadSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl ThreadSampler {
    const PERIOD: Duration = Duration::from_millis(1);

    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let sample = {
            let peak = Arc::clone(&peak);
            // The sampler itself is one thread of the count, so it reports one less.
            move || {
                let threads = proc_status_field("Threads:").unwrap_or(1).saturating_sub(1);
                peak.fetch_max(threads, Ordering::Relaxed);
            }
        };
        let handle = std::thread::Builder::new()
            .name("thread-sampler".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        sample();
                        std::thread::sleep(Self::PERIOD);
                    }
                    sample();
                }
            });
        ThreadSampler {
            stop,
            peak,
            handle: handle.ok(),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        } else {
            // No sampler thread could be started: count once, here.
            return proc_status_field("Threads:").unwrap_or(1);
        }
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Upstream;

    fn outcome(
        id: u64,
        issued: Instant,
        after_ms: u64,
        result: Result<Processed, BatchError>,
    ) -> BatchOutcome {
        BatchOutcome {
            id,
            issued,
            finished: issued + Duration::from_millis(after_ms),
            result,
        }
    }

    #[test]
    fn report_counts_failures_and_orders_ids() {
        let workload = Workload::new(Upstream::parse("http://127.0.0.1:1").unwrap()).batches(3);
        let t0 = Instant::now();
        let ok = |digest| {
            Ok(Processed {
                digest,
                values: digest * 100,
                cpu: Duration::from_millis(2),
                ..Processed::default()
            })
        };
        let outcomes = vec![
            outcome(2, t0, 30, Err(BatchError::Status(500))),
            outcome(0, t0, 10, ok(7)),
            outcome(1, t0, 20, ok(9)),
        ];
        let report = RunClock::start().finish(&workload, "test", outcomes);
        assert_eq!((report.ok, report.failed), (2, 1));
        assert_eq!(report.failed_ids, vec![2]);
        assert_eq!(report.checksum, format!("{:016x}", combine_digests([9, 7])));
        assert!((report.wall_ms - 30.0).abs() < 0.5);
        assert!((report.cpu_per_batch_ms - 2.0).abs() < 1e-9);
        assert_eq!(report.values_per_batch, Some(900), "the largest ok batch's");
        assert!(report.latency_ms.max >= report.latency_ms.p50);
        assert_eq!(
            report.errors,
            vec!["upstream answered status 500 (1 batch)".to_owned()]
        );
        assert_eq!(report.efficiency, None, "no efficiency for work not done");
        assert!(report.ideal_ms >= 0.0);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["efficiency"].is_null(), "{json}");
        assert!(json["ideal_ms"].is_number(), "{json}");
        assert_eq!(json["upstream_kind"], "feature-store");
    }

    #[test]
    fn in_flight_peak_counts_overlapping_batches_failed_ones_included() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let span = |id, from, to| BatchOutcome {
            id,
            issued: at(from),
            finished: at(to),
            result: Err(BatchError::Status(503)),
        };
        // 0..10 and 5..15 overlap; 10..20 starts as the first ends; 30..40 is alone.
        let outcomes = [
            span(0, 0, 10),
            span(1, 5, 15),
            span(2, 10, 20),
            span(3, 30, 40),
        ];
        assert_eq!(in_flight_peak(&outcomes), 2);
        assert_eq!(in_flight_peak(&outcomes[3..]), 1);
        assert_eq!(in_flight_peak(&[]), 0);
        let nested: Vec<_> = (0..5).map(|id| span(id, id, 100 - id)).collect();
        assert_eq!(in_flight_peak(&nested), 5);
    }

    #[test]
    fn phases_are_summarised_over_ok_batches_and_their_gap_measured() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let ok = |id: u64, wait_ms: u64, queue_ms: u64| BatchOutcome {
            id,
            issued: t0,
            finished: t0 + ms(100),
            result: Ok(Processed {
                digest: id,
                cpu: ms(1),
                phases: crate::Phases {
                    wait: ms(wait_ms),
                    queue: ms(queue_ms),
                    ..crate::Phases::default()
                },
                ..Processed::default()
            }),
        };
        let failed = BatchOutcome {
            id: 9,
            issued: t0,
            finished: t0 + ms(5),
            result: Err(BatchError::Timeout(5)),
        };
        let (summary, gap) = phase_figures(&[ok(0, 90, 10), ok(1, 80, 20), failed.clone()]);
        let summary = summary.expect("two ok batches");
        assert_eq!((summary.wait.p50, summary.wait.max), (80.0, 90.0));
        assert_eq!((summary.queue.p50, summary.queue.max), (10.0, 20.0));
        assert_eq!(gap, Some(0.0));
        // A batch whose phases miss 30 of its 100 ms shows as a 30% gap.
        let (_, gap) = phase_figures(&[ok(0, 50, 20)]);
        assert!((gap.unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(phase_figures(&[failed]), (None, None));
    }

    #[test]
    fn reports_without_the_phase_keys_still_parse() {
        let workload = Workload::new(Upstream::parse("http://127.0.0.1:1").unwrap()).batches(1);
        let report = RunClock::start().finish(&workload, "test", Vec::new());
        let mut json = serde_json::to_value(&report).unwrap();
        for key in [
            "in_flight_peak",
            "phases_ms",
            "phases_gap_max",
            "values_per_batch",
        ] {
            json.as_object_mut().unwrap().remove(key);
        }
        let parsed: RunReport = serde_json::from_value(json).unwrap();
        assert_eq!((parsed.in_flight_peak, parsed.phases_ms), (None, None));
        assert_eq!(parsed.values_per_batch, None);
    }

    #[test]
    fn only_a_complete_run_has_an_efficiency() {
        assert_eq!(efficiency(100.0, 200.0, 4, 4), Some(0.5));
        assert_eq!(efficiency(100.0, 50.0, 4, 4), Some(1.0));
        assert_eq!(efficiency(100.0, 200.0, 3, 4), None);
        assert_eq!(efficiency(100.0, 3.3, 0, 2), None);
    }

    #[test]
    fn ideal_bound_follows_the_design_formula() {
        assert_eq!(RunReport::ideal_ms(100, 8, 2, 10.0), 140.0);
        assert_eq!(RunReport::ideal_ms(100, 9, 2, 10.0), 150.0);
        assert_eq!(RunReport::ideal_ms(100, 9, 2, 0.0), 100.0);
    }

    #[test]
    fn thread_sampler_sees_extra_threads() {
        let sampler = ThreadSampler::start();
        let (senders, extra): (Vec<_>, Vec<_>) = (0..4)
            .map(|_| {
                let (release, wait) = std::sync::mpsc::channel::<()>();
                (release, std::thread::spawn(move || wait.recv()))
            })
            .unzip();
        // This thread and the four blocked ones are alive together: wait until
        // the sampler (every millisecond) has seen at least five threads.
        let deadline = Instant::now() + Duration::from_secs(5);
        while sampler.peak.load(Ordering::Relaxed) < 5 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        drop(senders);
        for handle in extra {
            let _ = handle.join();
        }
        assert!(sampler.stop() >= 5);
    }
}
