"""What every Python baseline shares: the workload flags, the preprocess
kernel, its calibration, the client's failure policy and the run report.

The kernel is a line-by-line copy of crates/pipeline/src/kernel.rs, so that a
Python baseline reports the same per-batch digest and run checksum as every
Rust executor: the same float operations in the same order (explicit loops,
never sum() or math.fsum), and 64-bit wrapping integer arithmetic done with
masks. A batch is folded into exactly --features values first (fold_values),
as in Rust, so that the calibrated rounds cost the same whatever the body's
size. Only the first kernel round enters the digest; the further rounds are
the CPU work, calibrated here, in Python, to take --cpu-ms of one core, so
that a baseline and a Rust executor do equal work in milliseconds, not in
arithmetic.

Every program prints one JSON object on stdout with the keys of
`runtime-lab run --json` that it can measure.
"""

import argparse
import json
import math
import os
import resource
import struct
import sys
import sysconfig
import time

MASK64 = (1 << 64) - 1
# Largest response body any client accepts, as in the Rust fetchers.
MAX_BODY_BYTES = 16 * 1024 * 1024
# Most feature values a batch may ask for (the feature store's limit).
MAX_VALUES = 100_000
# First backoff before a retry; each retry doubles it, with jitter.
BASE_BACKOFF_S = 0.020
# The value of each body byte, byte / 255.0, looked up rather than divided
# again for every byte (the same correctly rounded quotients).
BYTE_VALUES = [float(byte) / 255.0 for byte in range(256)]
# Rust's f64::MIN, where the kernel's running peak starts.
F64_MIN = -sys.float_info.max
# The User-Agent of every request, the Rust clients' (crates/pipeline/src/wire.rs),
# which the CLI passes in the environment.
USER_AGENT = os.environ.get("RUNTIME_LAB_USER_AGENT") or "runtime-lab"
# The Accept of every request, as the Rust clients send it.
ACCEPT = "*/*"
# The kinds of upstream, as runtime-lab's probe names them (pipeline::UpstreamKind).
UPSTREAM_KINDS = ("feature-store", "template", "url")


# ---------------------------------------------------------------- the kernel


def mix(x):
    """The SplitMix64 finaliser, in 64-bit wrapping arithmetic."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def rotate_left(x, bits):
    return ((x << bits) | (x >> (64 - bits))) & MASK64


def float_bits(value):
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def batch_digest(batch_id, n_values, first_round):
    """The digest of one batch: its id, its size and the kernel's first round."""
    return mix(mix(batch_id) ^ rotate_left(mix(n_values), 17) ^ float_bits(first_round))


def combine_digests(digests):
    """Folds batch digests into one checksum, independently of their order."""
    checksum = 0
    for digest in digests:
        checksum = (checksum + mix(digest)) & MASK64
    return checksum


def kernel_round(values, round_index):
    """One round: normalise, soft-sign plus quadratic, weighted sum and peak."""
    n = float(len(values))
    total = 0.0
    for value in values:
        total += value
    mean = total / n
    squares = 0.0
    for value in values:
        squares += (value - mean) * (value - mean)
    variance = squares / n
    inv_std = 1.0 / (math.sqrt(variance) + 1e-12)
    # A per-round shift keeps every round's result distinct.
    shift = float(round_index % 7) * 1e-3
    weighted = 0.0
    peak = F64_MIN
    # This thread's own weights, and |z| without the builtin abs: on a
    # free-threaded build every thread that touches a shared object (a
    # module's list of floats, the abs function) updates its reference count
    # atomically, and threads that do so for every value contend for the
    # same cache lines, which would hide the parallelism under test. The
    # weights are the same floats, and 1.0 + |z| is the same sum for -0.0.
    weights = [float(i) + 1.0 for i in range(16)]
    for i, value in enumerate(values):
        z = (value - mean) * inv_std + shift
        transformed = z / (1.0 + (z if z >= 0.0 else -z)) + 0.05 * z * z
        weighted += transformed * weights[i & 15]
        if transformed > peak:
            peak = transformed
    return weighted / n + peak


class BatchError(Exception):
    """Why one batch failed; `kind` groups errors in the report as Rust does."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def fold_values(values, features):
    """Folds a batch's values into exactly `features` values, as
    crates/pipeline/src/kernel.rs's fold_values does: a batch of exactly
    `features` values is used unchanged; otherwise slot i starts at 0.0 and
    value j is added into slot j % features, in order."""
    if len(values) == features:
        return values
    slots = [0.0] * features
    for j, value in enumerate(values):
        slots[j % features] += value
    return slots


def fold_body(body, features):
    """The values of a body that is not a feature batch, folded as
    fold_values folds: byte j is the value byte / 255.0, added into slot
    j % features. Each slot takes its bytes in order, from a strided slice,
    which is the same float additions as one pass over the body."""
    slots = [0.0] * features
    byte_values = BYTE_VALUES
    for i in range(min(features, len(body))):
        total = 0.0
        for byte in body[i::features]:
            total += byte_values[byte]
        slots[i] = total
    return slots


def decode(workload, batch_id, body):
    """The feature values of a body, a feature batch or any body's bytes,
    folded into `features` values: (values, values the body gave)."""
    if not workload.feature_store:
        return fold_body(body, workload.features), len(body)
    try:
        batch = json.loads(body)
        got_id = batch["id"]
        values = [float(value) for value in batch["values"]]
    except (ValueError, KeyError, TypeError) as error:
        raise BatchError("decode", f"malformed feature batch: {error}") from None
    if got_id != batch_id:
        raise BatchError(
            "decode", f"malformed feature batch: asked for batch {batch_id}, got batch {got_id}"
        )
    if not values:
        raise BatchError("decode", "malformed feature batch: batch has no values")
    return fold_values(values, workload.features), len(values)


def process(workload, batch_id, body):
    """Decodes and preprocesses one batch: (digest, thread CPU seconds,
    values the body gave before folding)."""
    cpu_before = time.thread_time()
    values, n_given = decode(workload, batch_id, body)
    first = kernel_round(values, 0)
    sink = first
    for round_index in range(1, workload.cpu_rounds):
        sink += kernel_round(values, round_index)
    return batch_digest(batch_id, n_given, first), time.thread_time() - cpu_before, n_given


def calibrate(features, samples=7, sample_cpu_s=0.015):
    """Kernel rounds per millisecond of this thread's CPU time: the median of
    a few short samples, after one to warm up, as the Rust Calibration does."""
    values = [(mix(i) >> 11) / float(1 << 53) - 0.5 for i in range(max(features, 1))]

    def sample():
        start = time.thread_time()
        rounds = 0
        while True:
            kernel_round(values, rounds)
            rounds += 1
            elapsed = time.thread_time() - start
            if elapsed >= sample_cpu_s:
                return rounds / (elapsed * 1e3)

    sample()
    measured = sorted(sample() for _ in range(samples))
    return measured[len(measured) // 2]


# -------------------------------------------------------------- the workload


class Workload:
    """The workload flags, parsed and checked; picklable for worker processes."""

    def __init__(self, args):
        self.batches = args.batches
        self.io_ms = args.io_ms
        self.cpu_ms = args.cpu_ms
        self.features = args.features
        self.workers = args.workers or available_cores()
        self.connections = args.connections
        self.timeout_ms = args.timeout_ms or (
            2 * args.io_ms + 2000 + math.ceil(args.batches * args.cpu_ms)
        )
        self.retries = args.retries
        self.upstream = args.upstream
        # What the CLI's probe decided; without one, the guess of Rust's
        # Upstream::parse: a template when the URL holds {id}, else a store.
        self.upstream_kind = getattr(args, "upstream_kind", None) or guess_kind(args.upstream)
        self.feature_store = self.upstream_kind == "feature-store"
        # A server's worker processes are given their parent's calibration.
        given = getattr(args, "rounds_per_ms", None)
        if args.cpu_ms <= 0:
            self.rounds_per_ms = 0.0
        elif given is not None:
            self.rounds_per_ms = given
        else:
            self.rounds_per_ms = calibrate(args.features)
        self.cpu_rounds = (
            max(1, round(args.cpu_ms * self.rounds_per_ms)) if args.cpu_ms > 0 else 0
        )

    @property
    def pooled(self):
        return self.connections == "pooled"

    @property
    def timeout_s(self):
        return self.timeout_ms / 1e3

    def request_url(self, batch_id, attempt):
        """The URL of attempt `attempt` (0 for the first) of batch `batch_id`."""
        if not self.feature_store:
            return self.upstream.replace("{id}", str(batch_id))
        return (
            f"{self.upstream.rstrip('/')}/features/{batch_id}"
            f"?delay_ms={self.io_ms}&n={self.features}&attempt={attempt}"
        )


def guess_kind(upstream):
    """The kind of an unprobed upstream URL: a template when it holds {id},
    otherwise the base of a feature store."""
    return "template" if "{id}" in upstream else "feature-store"


def available_cores():
    return len(os.sched_getaffinity(0))


def interpreter():
    """The runtime this baseline stands on, e.g. "CPython 3.11.7", or
    "CPython 3.13.5t" for a free-threaded build (configured --disable-gil)."""
    version = ".".join(str(part) for part in sys.version_info[:3])
    build = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    return f"{sys.implementation.name.replace('cpython', 'CPython')} {version}{build}"


def has_gil():
    """Whether this process runs with its global interpreter lock now:
    `sys._is_gil_enabled()` on 3.13 and later, always on before. Asked after
    the imports, since importing an extension module that does not declare
    free-threading support turns the GIL back on in a free-threaded build."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def bounded(low, high, kind=int):
    """An argparse type: a number of `kind` between `low` and `high`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def parse_workload(description):
    """Parses the workload flags (exit 2 on bad input) and calibrates the kernel."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batches", "-n", type=bounded(1, 10**9), default=32)
    parser.add_argument("--io-ms", type=bounded(0, 60_000), default=1000)
    parser.add_argument("--cpu-ms", type=bounded(0.0, 60_000.0, float), default=0.0)
    parser.add_argument("--features", type=bounded(1, MAX_VALUES), default=1024)
    parser.add_argument("--workers", "-w", type=bounded(1, 4096), default=None)
    parser.add_argument("--connections", choices=["fresh", "pooled"], default="fresh")
    parser.add_argument("--timeout-ms", type=bounded(1, 3_600_000), default=None)
    parser.add_argument("--retries", type=bounded(0, 10), default=2)
    parser.add_argument(
        "--upstream",
        required=True,
        help="base URL of a running feature store, or any URL with {id} in it",
    )
    parser.add_argument(
        "--upstream-kind",
        choices=UPSTREAM_KINDS,
        default=None,
        help="what the upstream is, as runtime-lab's probe decided "
        "[default: template if the URL holds {id}, else feature-store]",
    )
    parser.add_argument("--version", action="version", version=interpreter())
    args = parser.parse_args()
    if not args.upstream.startswith("http://"):
        parser.error(f"--upstream {args.upstream!r}: only plain http:// upstreams are supported")
    exit_with_parent()
    return Workload(args)


def exit_with_parent():
    """Asks the kernel for SIGTERM when the parent dies, so that a run that
    `runtime-lab run` gives up on (its watchdog) leaves no process behind."""
    try:
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------ the failure policy


def is_retryable(error):
    """Connect errors, resets, timeouts and 5xx are retried; nothing else."""
    if error.kind == "status":
        return error.status >= 500
    return error.kind in ("connect", "http", "timeout")


def backoff_s(batch_id, attempt):
    """The pause before retry `attempt` (1-based): exponential, with jitter
    that is deterministic in the batch and attempt, as in the Rust fetchers."""
    jitter = (mix(batch_id ^ ((attempt << 40) & MASK64)) >> 11) / float(1 << 53) + 0.5
    return BASE_BACKOFF_S * float(1 << max(min(attempt, 10) - 1, 0)) * jitter


def status_error(status):
    error = BatchError("status", f"upstream answered status {status}")
    error.status = status
    return error


def timeout_error(workload):
    return BatchError("timeout", f"no answer within {workload.timeout_ms} ms")


def check_body(body):
    if len(body) > MAX_BODY_BYTES:
        raise BatchError("body-too-large", f"response body larger than {MAX_BODY_BYTES} bytes")
    return body


def fetch_with_retries(workload, batch_id, fetch_once):
    """Runs `fetch_once(attempt)` until it succeeds, fails for good, or the
    retries are spent, sleeping between attempts: (body, retries made)."""
    attempt = 0
    while True:
        try:
            return fetch_once(attempt), attempt
        except BatchError as error:
            if attempt >= workload.retries or not is_retryable(error):
                error.retries = attempt
                raise
            attempt += 1
            time.sleep(backoff_s(batch_id, attempt))


# ---------------------------------------------------------------- the report


class Outcome:
    """One batch: when its fetch was issued, when it was done, how it ended.
    Times are time.monotonic() seconds, which is one clock for every process."""

    def __init__(
        self, batch_id, issued, finished, digest=None, cpu_s=0.0, error=None, retries=0, values=0
    ):
        self.batch_id = batch_id
        self.issued = issued
        self.finished = finished
        self.digest = digest
        self.cpu_s = cpu_s
        # Values the body gave before it was folded into --features values.
        self.values = values
        self.error = error
        self.retries = retries


def outcome_of(batch_id, issued, work):
    """Runs `work()` -> (digest, cpu_s, values, retries) and records how it ended."""
    try:
        digest, cpu_s, values, retries = work()
        return Outcome(
            batch_id, issued, time.monotonic(), digest, cpu_s, retries=retries, values=values
        )
    except BatchError as error:
        retries = getattr(error, "retries", 0)
        return Outcome(batch_id, issued, time.monotonic(), error=error, retries=retries)


def proc_status_field(field):
    """A numeric field of /proc/self/status (`VmHWM:` in KiB, `Threads:`)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ThreadPeak:
    """The most threads seen in this process. Sampled when a batch ends and
    not on a timer, since a sampling thread would contend for the GIL with
    the threads under test."""

    def __init__(self):
        self.peak = proc_status_field("Threads:")

    def sample(self):
        self.peak = max(self.peak, proc_status_field("Threads:"))


class RunClock:
    """Starts measuring a run; `report` turns the outcomes into the JSON report."""

    def __init__(self):
        self.usage = self._usage()
        self.threads = ThreadPeak()

    @staticmethod
    def _usage():
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime)

    def report(self, workload, executor, outcomes, workers_gil=()):
        """The run report; `workers_gil` holds has_gil() of each worker
        process, so that the GIL counts as enabled if it was anywhere."""
        gil_enabled = has_gil() or any(workers_gil)
        user, system = self._usage()
        self.threads.sample()
        children_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        outcomes = sorted(outcomes, key=lambda outcome: outcome.batch_id)
        ok = [o for o in outcomes if o.error is None]
        failed = [o for o in outcomes if o.error is not None]
        wall_ms = (
            (max(o.finished for o in outcomes) - min(o.issued for o in outcomes)) * 1e3
            if outcomes
            else 0.0
        )
        cpu_times = sorted(o.cpu_s * 1e3 for o in ok)
        cpu_per_batch_ms = cpu_times[len(cpu_times) // 2] if cpu_times else 0.0
        cores = available_cores()
        waves = -(-workload.batches // cores)
        ideal_ms = workload.io_ms + waves * cpu_per_batch_ms
        latencies = sorted((o.finished - o.issued) * 1e3 for o in outcomes)
        # (kind, first message, batches) in order of first appearance.
        kinds = {}
        for outcome in failed:
            first, count = kinds.get(outcome.error.kind, (outcome.error.message, 0))
            kinds[outcome.error.kind] = (first, count + 1)
        return {
            "executor": executor,
            "batches": workload.batches,
            "io_ms": workload.io_ms,
            "cpu_ms": workload.cpu_ms,
            "cpu_rounds": workload.cpu_rounds,
            "features": workload.features,
            "values_per_batch": max((o.values for o in ok), default=None),
            "workers": workload.workers,
            "connections": workload.connections,
            "max_in_flight": None,
            "gil": gil_enabled,
            "cores": cores,
            "wall_ms": wall_ms,
            "ideal_ms": ideal_ms,
            "efficiency": min(ideal_ms / wall_ms, 1.0) if wall_ms > 0 else 0.0,
            "cpu_per_batch_ms": cpu_per_batch_ms,
            "latency_ms": {
                "p50": percentile(latencies, 0.5),
                "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else 0.0,
            },
            "cpu_user_ms": (user - self.usage[0]) * 1e3,
            "cpu_sys_ms": (system - self.usage[1]) * 1e3,
            "peak_rss_kb": max(proc_status_field("VmHWM:"), children_rss_kb),
            "threads_peak": self.threads.peak,
            "ok": len(ok),
            "failed": len(failed),
            "retries": sum(o.retries for o in outcomes),
            "failed_ids": [o.batch_id for o in failed],
            "checksum": f"{combine_digests(o.digest for o in ok):016x}",
            "errors": [
                f"{first} ({count} batch{'' if count == 1 else 'es'})"
                for first, count in kinds.values()
            ],
            "upstream": workload.upstream,
            "upstream_kind": workload.upstream_kind,
            "runtime": interpreter(),
            "interpreter": interpreter(),
            "gil_enabled": gil_enabled,
        }


def percentile(sorted_values, quantile):
    """The nearest-rank percentile of ascending values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(quantile * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def print_report(report):
    print(json.dumps(report))
    sys.stdout.flush()
