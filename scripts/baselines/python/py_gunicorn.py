"""py-gunicorn: Flask on gunicorn with `--workers W` sync workers, the
classic Python deployment: each worker process serves one request at a
time, fetching its S feature batches one after another with `requests`
(keep-alive within the worker unless --connections fresh), then
preprocessing them, under that process's own GIL (compare `processes`).
`/fib?n=N` computes in the worker too; `/io?id=N` fetches the cache's batch
on a second thread (its own keep-alive session) while the worker fetches the
store's; `/ping` does nothing.
gunicorn's sync workers answer with `Connection: close`, so every request
comes on a new connection. Workers are forked from the parent after the app
is loaded and the kernel calibrated, as with `gunicorn --preload`.

It prints one line, "listening on http://HOST:PORT", once every worker
serves, and stops on SIGINT or SIGTERM with all its workers.

Run with: cargo run --release -- serve -e py-gunicorn -w 4
"""

import multiprocessing
import threading

import flask
from gunicorn.app.base import BaseApplication

import http_requests
import lab
import server

# How long the request in flight of each worker may take to finish after
# SIGTERM. A sync worker idle in accept() notices the signal only at its next
# wake-up, so gunicorn's arbiter ends it at this timeout: short, since every
# stop waits for it.
GRACEFUL_SHUTDOWN_S = 1

# Each worker process keeps its own keep-alive session with pooled connections,
# and one more for /io's second upstream, the cache (None: fresh connections).
_session = None
_cache_session = None


def open_sessions(workload, threads=1):
    """Opens this process's keep-alive sessions, sized for `threads` requests
    served at once (a sync worker's one, or a threaded server's W): S
    connections per request to the store, one to the cache, so that no
    thread waits for a connection of the pool and the measurement shows the
    server, not the pool."""
    global _session, _cache_session
    _session = http_requests.pooled_session(workload, threads * workload.batches)
    _cache_session = http_requests.pooled_session(workload, threads)


def create_app(workload):
    """The Flask app; every worker process runs a copy of it."""
    app = flask.Flask("py-gunicorn")
    # The Rust servers' key order, not sorted.
    app.json.sort_keys = False

    def fetch(fetched_workload, batch_id, session):
        """One batch: (batch_id, body), or (batch_id, the error) when it failed."""
        try:
            body, _ = http_requests.fetch(fetched_workload, batch_id, session)
            return batch_id, body
        except lab.BatchError as error:
            return batch_id, error

    @app.get("/predict")
    def predict():
        request_id, refused = server.parse_id(flask.request.args.get("id"), workload)
        if refused is not None:
            return refused[1], refused[0]
        fetched = [
            fetch(workload, batch_id, _session)
            for batch_id in server.batch_ids(request_id, workload)
        ]
        status, body = server.predict(workload, request_id, fetched)
        return body, status

    @app.get("/health")
    def health():
        return server.HEALTH

    @app.get("/ping")
    def ping():
        return server.PING

    @app.get("/fib")
    def fib():
        n, refused = server.parse_fib(flask.request.args.get("n"))
        if refused is not None:
            return refused[1], refused[0]
        status, body = server.fib_answer(n)
        return body, status

    store_workload, cache_workload = server.io_workloads(workload)

    @app.get("/io")
    def io():
        request_id, refused = server.parse_io_id(flask.request.args.get("id"))
        if refused is not None:
            return refused[1], refused[0]
        store_id, cache_id = server.io_batches(request_id)
        # The cache's fetch on a second thread, so that the two waits overlap.
        cached = []
        cache = threading.Thread(
            target=lambda: cached.append(fetch(cache_workload, cache_id, _cache_session))
        )
        cache.start()
        stored = fetch(store_workload, store_id, _session)
        cache.join()
        status, body = server.io_answer(store_workload, request_id, [stored, cached[0]])
        return body, status

    @app.errorhandler(404)
    def not_found(_error):
        return server.NOT_FOUND, 404

    @app.errorhandler(405)
    def method_not_allowed(_error):
        request = flask.request
        return {"error": f"{request.path} takes GET, not {request.method}"}, 405

    return app


class FlaskOnGunicorn(BaseApplication):
    """gunicorn run from Python with these settings instead of its command line."""

    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve_on_gunicorn(settings, app, options, threads=1):
    """Runs `app` on gunicorn with settings.workers worker processes and the
    worker `options` (worker_class and its own settings), each worker with
    sessions for `threads` requests at once. Workers count themselves in
    shared memory as they start; the last one to start prints the readiness
    line. The listening address is known in the parent once gunicorn has
    bound it, before the workers fork."""
    workload = settings.workload
    started = multiprocessing.Value("i", 0)
    address = {}

    def when_ready(arbiter):
        host, port = arbiter.LISTENERS[0].sock.getsockname()[:2]
        address["value"] = (settings.host or host, port)

    def post_worker_init(worker):
        lab.exit_with_parent()
        open_sessions(workload, threads)
        server.record_gil()
        with started.get_lock():
            started.value += 1
            if started.value == options["workers"]:
                server.announce(*address["value"])

    options = {
        "bind": f"{settings.host}:{settings.port}",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": GRACEFUL_SHUTDOWN_S,
        "when_ready": when_ready,
        "post_worker_init": post_worker_init,
        **options,
    }
    FlaskOnGunicorn(app, options).run()


def main():
    settings = server.parse(__doc__)
    options = {"workers": settings.workers, "worker_class": "sync"}
    serve_on_gunicorn(settings, create_app(settings.workload), options)


if __name__ == "__main__":
    main()
