"""py-gevent: the free-threading talk's gevent server: py-gunicorn's Flask
app (py_gunicorn.create_app) on gunicorn's gevent worker, `--workers W`
worker processes (as uvicorn's W workers), each serving up to
GEVENT_CONNECTIONS keep-alive connections at once, each on a greenlet (W as
a cap on connections would leave every connection past W waiting in the
listen backlog while the first W stay open). Everything is monkey-patched before it is imported, so
`requests` yields to the other greenlets while it waits for the store, and
the CPU work runs on the one thread, under the GIL: an event loop, as
uvicorn's (compare `tokio-ct`). gevent has no free-threaded build, so this
runs on 3.13 only. `/io?id=N`'s second fetch runs on a greenlet (threading
is patched); `/ping` does nothing.

It prints one line, "listening on http://HOST:PORT" and its runtime, once
the worker serves, and stops on SIGINT or SIGTERM.

Run with: cargo run --release -- serve -e py-gevent@3.13 -w 8
"""

# Before anything else imports socket, ssl, threading or queue.
from gevent import monkey

monkey.patch_all()

import py_gunicorn  # noqa: E402
import server  # noqa: E402


# gunicorn's default worker_connections: the greenlets of one worker.
GEVENT_CONNECTIONS = 1000


def main():
    settings = server.parse(__doc__)
    options = {
        "workers": settings.workers,
        "worker_class": "gevent",
        "worker_connections": GEVENT_CONNECTIONS,
    }
    py_gunicorn.serve_on_gunicorn(
        settings,
        py_gunicorn.create_app(settings.workload),
        options,
        GEVENT_CONNECTIONS,
    )


if __name__ == "__main__":
    main()
