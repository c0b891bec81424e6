"""py-processes: the first article's ProcessPoolExecutor client, `--workers`
processes (a sweep passes one per batch, as the article's
`max_workers=num_feature_batches`), each fetching with `requests` and
preprocessing under its own GIL. Batch ids go to the workers and digests come
back pickled; the wall time includes the pool's start-up, as the article's did.

Run with: cargo run --release -- run -e py-processes --batches 8 --workers 8 --io-ms 100 --cpu-ms 100
"""

import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import http_requests
import lab

# Each worker process keeps its own keep-alive session with pooled connections.
_session = None


def prepare_feature_batch_serial(workload, batch_id):
    """Runs in a worker process: one batch, start to end."""
    global _session
    if workload.pooled and _session is None:
        _session = http_requests.pooled_session(workload, 1)
    outcome = lab.outcome_of(
        batch_id,
        time.monotonic(),
        lambda: http_requests.fetch_and_preprocess(workload, batch_id, _session),
    )
    # Only what the parent needs crosses the pipe; the error as its kind and message.
    error = (outcome.error.kind, outcome.error.message) if outcome.error else None
    return outcome.digest, outcome.cpu_s, outcome.values, outcome.retries, error, lab.has_gil()


def main():
    workload = lab.parse_workload(__doc__)
    clock = lab.RunClock()
    outcomes = []
    # has_gil() of the worker processes, as each batch's worker said it.
    workers_gil = []
    with ProcessPoolExecutor(max_workers=min(workload.workers, workload.batches)) as executor:
        issued = {}
        futures = {}
        for batch_id in range(workload.batches):
            issued[batch_id] = time.monotonic()
            futures[executor.submit(prepare_feature_batch_serial, workload, batch_id)] = batch_id
        for future in as_completed(futures):
            batch_id = futures[future]
            try:
                digest, cpu_s, values, retries, error, gil = future.result()
                workers_gil.append(gil)
            except Exception as lost:  # a worker died: its batch is lost, not the run
                digest, cpu_s, values, retries = None, 0.0, 0, 0
                error = ("worker-lost", f"worker lost: {lost}")
            outcome = lab.Outcome(
                batch_id, issued[batch_id], time.monotonic(), digest, cpu_s, values=values
            )
            outcome.retries = retries
            if error is not None:
                outcome.error = lab.BatchError(*error)
            outcomes.append(outcome)
            clock.threads.sample()
    # Leaving the `with` joins the workers, so their CPU time counts as children's.
    lab.print_report(clock.report(workload, "py-processes", outcomes, workers_gil))


if __name__ == "__main__":
    main()
