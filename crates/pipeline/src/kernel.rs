//! The preprocess kernel: real CPU work on the fetched values, calibrated in rounds.

use crate::gil::GilHold;
use crate::{BatchError, Fetched, Payload, Phases, UpstreamKind, Workload};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// What preprocessing one batch produced.
///
/// It is serializable so that a worker process can send it across a pipe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processed {
    /// The batch's digest; [`combine_digests`] folds these into the run checksum.
    pub digest: u64,
    /// Values the body gave before [`fold_values`] made them `features`
    /// values: the feature batch's length, or the body's bytes.
    #[serde(default)]
    pub values: u64,
    /// Thread CPU time spent decoding and preprocessing (excludes GIL waits).
    pub cpu: Duration,
    /// Where the batch's time went. [`process`] fills in `queue` (the wait
    /// for the GIL), `decode` and `preprocess`; [`process_fetched`] the
    /// fetch's phases too.
    #[serde(default)]
    pub phases: Phases,
    /// When the fetch began and the kernel ended, on this process's clock
    /// (set by [`process_fetched`]; never sent across a pipe).
    #[serde(skip)]
    pub(crate) bounds: Option<(Instant, Instant)>,
}

impl Processed {
    /// Closes the books of a batch that the executor issued at `issued` and
    /// got back at `finished`: the time before the fetch began (a thread
    /// starting, a task's first poll) goes to `connect`, and the time after
    /// the kernel ended (`spawn_blocking`'s return to the event loop, say)
    /// to `queue`, so that the phases add up to the batch's latency.
    /// [`crate::BatchOutcome::new`] calls it; a result that crossed a process
    /// boundary has no bounds and is left as it is.
    pub fn accounted(mut self, issued: Instant, finished: Instant) -> Self {
        if let Some((started, done)) = self.bounds.take() {
            self.phases.connect += started.saturating_duration_since(issued);
            self.phases.queue += finished.saturating_duration_since(done);
        }
        self
    }

    /// The same result, with `waited` more in the `queue` phase: for an
    /// executor that hands the result across a boundary where the clock
    /// does not go (a worker process's pipes) and measures the trip itself.
    pub fn queued_for(mut self, waited: Duration) -> Self {
        self.phases.queue += waited;
        self
    }
}

/// Decodes and preprocesses one fetched batch.
///
/// The body is decoded (a feature batch from a feature store, raw bytes from
/// any other upstream) and folded into exactly `workload.features` values
/// ([`fold_values`], [`fold_body`]), then the kernel runs
/// `workload.cpu_rounds` rounds of normalise, transform and reduce over them,
/// under the emulated GIL when `workload.gil` is set. The rounds are
/// calibrated on `features` values, so the fold is what makes `--cpu-ms` buy
/// the same CPU time per batch whatever the body's size. The digest depends
/// on the batch, the number of values the body gave and the folded values
/// only, never on the number of rounds, so that runs with differently
/// calibrated CPU work still agree on the checksum.
///
/// The result's phases hold the wait for the GIL (`queue`), `decode` and
/// `preprocess`; executors that fetched the body use [`process_fetched`],
/// which adds the fetch's phases.
pub fn process(workload: &Workload, id: u64, body: &[u8]) -> Result<Processed, BatchError> {
    let cpu_before = thread_cpu_time();
    process_from(workload, id, Input::Body(body), cpu_before, Instant::now())
}

/// [`process`] for a batch fetched by [`crate::BlockingFetcher::fetch_timed`] or
/// [`crate::AsyncFetcher::fetch_timed`]: the result's phases cover the whole
/// batch, from the fetch issued to the kernel done, and the time between the
/// body's arrival and this call (a channel, a thread pool, a task not yet
/// polled) is in `queue`.
///
/// A feature-store batch arrives as values ([`Payload::Values`]): the
/// fetcher decoded it as it was read, outside the emulated GIL, as a Python
/// client whose HTTP library parses in C without the GIL would; only the
/// kernel rounds run under it. A buffered body ([`Payload::Body`]) is
/// decoded here under the GIL, as [`process`] does.
pub fn process_fetched(
    workload: &Workload,
    id: u64,
    fetched: &Fetched<Payload>,
) -> Result<Processed, BatchError> {
    let cpu_before = thread_cpu_time();
    let entered = Instant::now();
    let input = match &fetched.body {
        Payload::Values(values) => Input::Values(values),
        Payload::Body(body) => Input::Body(body),
    };
    let mut processed = process_from(workload, id, input, cpu_before, entered)?;
    let fetch = fetched.times.phases();
    let phases = &mut processed.phases;
    phases.connect = fetch.connect;
    phases.wait = fetch.wait;
    phases.receive = fetch.receive;
    phases.decode += fetch.decode;
    phases.queue += fetch.queue + entered.saturating_duration_since(fetched.times.received);
    processed.bounds = processed
        .bounds
        .map(|(_, done)| (fetched.times.started, done));
    Ok(processed)
}

/// What the kernel starts from: a body to decode, or values decoded already.
enum Input<'a> {
    Body(&'a [u8]),
    Values(&'a [f64]),
}

/// [`process`], from `entered`, the first stamp of the caller, taken after
/// its `cpu_before` so that no system call lies between stamps.
fn process_from(
    workload: &Workload,
    id: u64,
    input: Input<'_>,
    cpu_before: Duration,
    entered: Instant,
) -> Result<Processed, BatchError> {
    let mut gil = GilHold::acquire(workload.gil);
    let gil_taken = Instant::now();
    let features = workload.features as usize;
    let (values, n_given) = match input {
        Input::Body(body) => match workload.upstream.kind {
            UpstreamKind::FeatureStore => {
                let decoded = crate::decode_batch(id, body)?;
                let n_given = decoded.len();
                (fold_values(Cow::Owned(decoded), features), n_given)
            }
            // Any other service: its bytes are the features, so that a
            // generic JSON endpoint (httpbin's /delay/1) still gets
            // preprocessed, and every byte enters the digest.
            UpstreamKind::Template | UpstreamKind::Url => {
                (Cow::Owned(fold_body(body, features)), body.len())
            }
        },
        Input::Values(values) => (fold_values(Cow::Borrowed(values), features), values.len()),
    };
    let values = &values[..];
    let decoded = Instant::now();
    let first = kernel_round(values, 0);
    let mut sink = first;
    for round in 1..workload.cpu_rounds {
        gil.checkpoint();
        sink += kernel_round(black_box(values), round);
    }
    black_box(sink);
    drop(gil);
    let cpu = thread_cpu_time().saturating_sub(cpu_before);
    // The last stamp, after the last system call: a thread preempted on its
    // way out of one would otherwise lose that time from every phase.
    let done = Instant::now();
    Ok(Processed {
        digest: batch_digest(id, n_given, first),
        values: n_given as u64,
        cpu,
        phases: Phases {
            queue: gil_taken.saturating_duration_since(entered),
            decode: decoded.saturating_duration_since(gil_taken),
            preprocess: done.saturating_duration_since(decoded),
            ..Phases::default()
        },
        bounds: Some((entered, done)),
    })
}

/// The digest of one batch: a mix of its id, its size and the kernel's first round.
pub fn batch_digest(id: u64, n_values: usize, first_round: f64) -> u64 {
    mix(mix(id) ^ mix(n_values as u64).rotate_left(17) ^ first_round.to_bits())
}

/// Folds batch digests into one checksum, independently of their order.
pub fn combine_digests(digests: impl IntoIterator<Item = u64>) -> u64 {
    digests
        .into_iter()
        .fold(0u64, |sum, digest| sum.wrapping_add(mix(digest)))
}

/// Folds a batch's values into exactly `features` values, the count the
/// kernel's rounds are calibrated on.
///
/// The rule, identical in the Python and Go baselines (`lab.py`'s
/// `fold_values`, `kernel.go`'s `FoldValues`): a batch that has exactly
/// `features` values is used unchanged (so a feature store's batches, and
/// their digests, are what they always were); otherwise slot `i` starts at
/// `0.0` and value `j` is added into slot `j % features`, in order. Every
/// value still enters a slot, so the digest still proves what was received;
/// no values give `features` zeros.
///
/// ```
/// use pipeline::fold_values;
///
/// assert_eq!(fold_values(vec![1.0, 2.0, 4.0].into(), 2).as_ref(), [5.0, 2.0]);
/// assert_eq!(fold_values(vec![1.0].into(), 3).as_ref(), [1.0, 0.0, 0.0]);
/// assert_eq!(fold_values(vec![-0.0, 2.0].into(), 2).as_ref(), [-0.0, 2.0]);
/// ```
pub fn fold_values(values: Cow<'_, [f64]>, features: usize) -> Cow<'_, [f64]> {
    if values.len() == features {
        return values;
    }
    Cow::Owned(fold_into(values.iter().copied(), features))
}

/// The values of a body that is not a feature batch, folded as
/// [`fold_values`] folds: byte `j` is the value `byte / 255.0`, added into
/// slot `j % features`. The byte values are never `-0.0`, so a body of
/// exactly `features` bytes gives its values unchanged, as the rule says.
pub fn fold_body(body: &[u8], features: usize) -> Vec<f64> {
    fold_into(body.iter().map(|&byte| f64::from(byte) / 255.0), features)
}

/// Adds value `j` into slot `j % features`, in order, from slots at `0.0`.
fn fold_into(values: impl Iterator<Item = f64>, features: usize) -> Vec<f64> {
    // A workload validates features >= 1; a zero here would have no slot.
    let mut slots = vec![0.0; features.max(1)];
    let n_slots = slots.len();
    for (j, value) in values.enumerate() {
        slots[j % n_slots] += value;
    }
    slots
}

/// One round: normalise the values to zero mean and unit variance, apply a
/// soft-sign plus quadratic transform, and reduce to a weighted sum and a peak.
pub(crate) fn kernel_round(values: &[f64], round: u64) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let inv_std = 1.0 / (variance.sqrt() + 1e-12);
    // A per-round shift keeps every round's result distinct, so no round can be skipped.
    let shift = (round % 7) as f64 * 1e-3;
    let mut weighted = 0.0;
    let mut peak = f64::MIN;
    for (i, value) in values.iter().enumerate() {
        let z = (value - mean) * inv_std + shift;
        let transformed = z / (1.0 + z.abs()) + 0.05 * z * z;
        weighted += transformed * ((i % 16) as f64 + 1.0);
        peak = peak.max(transformed);
    }
    weighted / n + peak
}

/// The SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The CPU time consumed by the calling thread so far.
pub(crate) fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Kernel speed on this machine, measured on one core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Kernel rounds per millisecond of single-core CPU time.
    pub rounds_per_ms: f64,
    /// The feature count it was measured for (round cost is linear in it).
    pub features: u32,
}

impl Calibration {
    /// Samples taken; the median is kept, so one slow phase cannot skew it.
    const SAMPLES: usize = 9;
    /// CPU time per sample.
    const SAMPLE_CPU: Duration = Duration::from_millis(10);

    /// Measures the kernel on the calling thread: the median of several short
    /// samples of rounds per millisecond of thread CPU time.
    pub fn measure(features: u32) -> Self {
        let values: Vec<f64> = (0..u64::from(features.max(1)))
            .map(|i| (mix(i) >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
            .collect();
        // Warm caches and the CPU's frequency before measuring.
        Self::sample(&values, Self::SAMPLE_CPU);
        let mut samples: Vec<f64> = (0..Self::SAMPLES)
            .map(|_| Self::sample(&values, Self::SAMPLE_CPU))
            .collect();
        samples.sort_by(f64::total_cmp);
        Calibration {
            rounds_per_ms: samples[samples.len() / 2],
            features,
        }
    }

    /// Values' worth of kernel rounds between two reads of the clock.
    const VALUES_PER_CLOCK_READ: usize = 4096;

    fn sample(values: &[f64], cpu: Duration) -> f64 {
        // Reading the thread's CPU clock is a system call that costs about
        // a round of a few hundred values: read it once every few thousand
        // values' worth of rounds, so that a sample of small batches
        // (`--features 64`) measures the kernel, not the clock.
        let rounds_per_read = (Self::VALUES_PER_CLOCK_READ / values.len().max(1)).max(1) as u64;
        let start = thread_cpu_time();
        let mut rounds = 0u64;
        let mut sink = 0.0;
        loop {
            for _ in 0..rounds_per_read {
                sink += kernel_round(black_box(values), rounds);
                rounds += 1;
            }
            let elapsed = thread_cpu_time() - start;
            if elapsed >= cpu {
                black_box(sink);
                return rounds as f64 / (elapsed.as_secs_f64() * 1e3);
            }
        }
    }

    /// Kernel rounds that take `cpu_ms` of single-core CPU time (0 for none).
    pub fn rounds_for(&self, cpu_ms: f64) -> u64 {
        if cpu_ms <= 0.0 {
            0
        } else {
            (cpu_ms * self.rounds_per_ms).round().max(1.0) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Upstream;

    fn workload() -> Workload {
        Workload::new(Upstream::parse("http://127.0.0.1:1").unwrap())
    }

    fn body(id: u64, values: &[f64]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "id": id, "values": values })).unwrap()
    }

    #[test]
    fn digest_ignores_rounds_but_not_values() {
        let light = workload();
        let heavy = workload().cpu(1.0, 50);
        let a = process(&light, 1, &body(1, &[1.0, 2.0, 4.0])).unwrap();
        let b = process(&heavy, 1, &body(1, &[1.0, 2.0, 4.0])).unwrap();
        let c = process(&light, 1, &body(1, &[1.0, 2.0, 5.0])).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
    }

    #[test]
    fn wrong_id_and_bad_json_are_decode_errors() {
        let w = workload();
        assert!(matches!(
            process(&w, 2, &body(1, &[1.0])),
            Err(BatchError::Decode(_))
        ));
        assert!(matches!(
            process(&w, 2, b"{\"id\": 2, \"val"),
            Err(BatchError::Decode(_))
        ));
    }

    #[test]
    fn batches_of_exactly_features_values_are_not_folded() {
        let values = [1.5, -0.0, 2.0];
        let folded = fold_values(Cow::Borrowed(&values[..]), 3);
        assert!(matches!(folded, Cow::Borrowed(_)), "no copy is made");
        assert_eq!(folded[1].to_bits(), (-0.0f64).to_bits(), "bit for bit");
    }

    #[test]
    fn other_lengths_fold_value_j_into_slot_j_mod_features() {
        let values: Vec<f64> = (1..=7).map(f64::from).collect();
        // Slots 0, 1, 2 take values 1+4+7, 2+5, 3+6.
        assert_eq!(fold_values(values.into(), 3).as_ref(), [12.0, 7.0, 9.0]);
        assert_eq!(
            fold_values(vec![2.0].into(), 4).as_ref(),
            [2.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(fold_values(Vec::new().into(), 2).as_ref(), [0.0, 0.0]);
        // In order: ((0 + a) + b) + c, which float addition tells apart.
        let order = fold_values(vec![1e16, 1.0, -1e16, 1.0].into(), 1);
        assert_eq!(order.as_ref(), [((1e16 + 1.0) - 1e16) + 1.0]);
    }

    #[test]
    fn bodies_fold_their_bytes_and_every_byte_counts() {
        assert_eq!(fold_body(b"", 3), [0.0, 0.0, 0.0]);
        assert_eq!(fold_body(&[255, 51], 2), [1.0, 0.2]);
        assert_eq!(fold_body(&[255, 51, 255], 2), [2.0, 0.2]);
        let big = vec![7u8; 1 << 20];
        assert_eq!(fold_body(&big, 1024).len(), 1024);
        let mut changed = big.clone();
        changed[1_000_000] = 8;
        assert_ne!(fold_body(&big, 1024), fold_body(&changed, 1024));
    }

    #[test]
    fn any_body_gives_the_kernel_features_values() {
        let store = workload().features(64);
        let other = |kind| {
            let upstream = Upstream::parse("http://127.0.0.1:1/x")
                .unwrap()
                .with_kind(kind);
            Workload::new(upstream).features(64)
        };
        let batch = process(&store, 1, &body(1, &[1.0; 64])).unwrap();
        assert_eq!(batch.values, 64);
        let short = process(&store, 1, &body(1, &[1.0; 16])).unwrap();
        assert_eq!(short.values, 16);
        assert_ne!(short.digest, batch.digest);
        for kind in [UpstreamKind::Template, UpstreamKind::Url] {
            for size in [0, 300, 17_000] {
                let processed = process(&other(kind), 3, &vec![b'x'; size]).unwrap();
                assert_eq!(processed.values, size as u64, "{kind:?} {size}");
            }
        }
        // The body's length enters the digest: no bytes and 64 zero bytes
        // fold into the same values but are different answers.
        let url = other(UpstreamKind::Url);
        assert_ne!(
            process(&url, 0, b"").unwrap().digest,
            process(&url, 0, &[0; 64]).unwrap().digest
        );
    }

    #[test]
    fn rounds_cost_the_same_whatever_the_body_size() {
        let calibration = Calibration::measure(256);
        let rounds = calibration.rounds_for(10.0);
        let upstream = Upstream::parse("http://127.0.0.1:1/x")
            .unwrap()
            .with_kind(UpstreamKind::Url);
        let w = Workload::new(upstream).features(256).cpu(10.0, rounds);
        let cpu_ms = |size: usize| {
            let body = vec![b'x'; size];
            process(&w, 0, &body).unwrap().cpu.as_secs_f64() * 1e3
        };
        let (small, large) = (cpu_ms(300), cpu_ms(256 * 64));
        // Unfolded, the large body would cost 64 times the small one.
        assert!(large < small * 4.0, "{small} ms vs {large} ms");
    }

    #[test]
    fn checksum_is_order_independent() {
        assert_eq!(combine_digests([1, 2, 3]), combine_digests([3, 1, 2]));
        assert_ne!(combine_digests([1, 2, 3]), combine_digests([1, 2, 4]));
    }

    #[test]
    fn calibration_scales_rounds_with_milliseconds() {
        let calibration = Calibration::measure(256);
        assert!(calibration.rounds_per_ms > 0.0);
        assert_eq!(calibration.rounds_for(0.0), 0);
        let one = calibration.rounds_for(1.0) as f64;
        let ten = calibration.rounds_for(10.0) as f64;
        assert!((ten / one - 10.0).abs() < 0.5, "{one} vs {ten}");
    }

    #[test]
    fn more_rounds_cost_more_cpu() {
        let calibration = Calibration::measure(1024);
        let values: Vec<f64> = (0..1024).map(f64::from).collect();
        let w = workload().cpu(20.0, calibration.rounds_for(20.0));
        let processed = process(&w, 0, &body(0, &values)).unwrap();
        // Generous: calibrated for 20 ms, accept 5 to 80 ms on a noisy machine.
        let ms = processed.cpu.as_secs_f64() * 1e3;
        assert!((5.0..80.0).contains(&ms), "{ms} ms");
    }
}
