"""py-threads: the first article's ThreadPoolExecutor client, one thread per
batch (`max_workers=batches`), each fetching with `requests` and
preprocessing in Python, so CPU work takes turns under CPython's GIL.

Run with: cargo run --release -- run -e py-threads --batches 8 --io-ms 100 --cpu-ms 100
"""

import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import http_requests
import lab


def prepare_feature_batch(workload, batch_id, session, clock):
    issued = time.monotonic()
    outcome = lab.outcome_of(
        batch_id,
        issued,
        lambda: http_requests.fetch_and_preprocess(workload, batch_id, session),
    )
    clock.threads.sample()
    return outcome


def main():
    workload = lab.parse_workload(__doc__)
    clock = lab.RunClock()
    session = http_requests.pooled_session(workload, workload.batches)
    with ThreadPoolExecutor(max_workers=workload.batches) as executor:
        futures = [
            executor.submit(prepare_feature_batch, workload, batch_id, session, clock)
            for batch_id in range(workload.batches)
        ]
        outcomes = [future.result() for future in as_completed(futures)]
    lab.print_report(clock.report(workload, "py-threads", outcomes))


if __name__ == "__main__":
    main()
