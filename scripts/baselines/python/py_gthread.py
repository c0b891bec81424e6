"""py-gthread: the free-threading talk's "gunicorn threads": py-gunicorn's
Flask app (py_gunicorn.create_app) on gunicorn's gthread worker, one worker
process with `--workers W` threads. Each thread serves one request at a
time, fetching its S feature batches one after another with `requests`
from one keep-alive session of W x S pooled connections, then
preprocessing them in Python: under the GIL (3.11, 3.13) the threads'
CPU work takes turns on one core (compare `threads --gil`); on 3.13t it
runs on every core at once (compare `threads`). `/fib?n=N` computes on the
thread too; `/io?id=N` fetches the cache's batch on a second thread while
the request's thread fetches the store's; `/ping` does nothing.
The gthread worker keeps connections alive, unlike the sync workers.

It prints one line, "listening on http://HOST:PORT" and its runtime, once
the worker serves, and stops on SIGINT or SIGTERM.

Run with: cargo run --release -- serve -e py-gthread@3.13t -w 8
"""

import py_gunicorn
import server


def main():
    settings = server.parse(__doc__)
    threads = settings.workers
    options = {"workers": 1, "worker_class": "gthread", "threads": threads}
    py_gunicorn.serve_on_gunicorn(
        settings, py_gunicorn.create_app(settings.workload), options, threads
    )


if __name__ == "__main__":
    main()
