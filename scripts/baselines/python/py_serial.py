"""py-serial: the first article's serial Python client, one blocking
`requests.get` after another, each batch preprocessed before the next fetch.

Run with: cargo run --release -- run -e py-serial --batches 4 --io-ms 100
"""

import time

import http_requests
import lab


def main():
    workload = lab.parse_workload(__doc__)
    clock = lab.RunClock()
    session = http_requests.pooled_session(workload, 1)
    outcomes = []
    for batch_id in range(workload.batches):
        issued = time.monotonic()
        outcomes.append(
            lab.outcome_of(
                batch_id,
                issued,
                lambda: http_requests.fetch_and_preprocess(workload, batch_id, session),
            )
        )
        clock.threads.sample()
    lab.print_report(clock.report(workload, "py-serial", outcomes))


if __name__ == "__main__":
    main()
