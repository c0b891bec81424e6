"""py-uvicorn: the Python-vs-Go article's FastAPI server on uvicorn, with
`--workers W` uvicorn worker processes on one port (W = 1: one process).

Each request is an `async def` endpoint on the worker's event loop. A
`/predict` request fetches its S feature batches concurrently
(asyncio.gather over one aiohttp session per worker, keep-alive unless
--connections fresh), then preprocesses them inline, on the event loop, as
FastAPI apps do: while a request computes, the worker's other requests wait
(compare `tokio-ct -w W`). `/fib?n=N` computes inline too; `/io?id=N`
gathers its two fetches, the store's and the cache's; `/ping` does nothing.
uvicorn runs as `uvicorn --workers W` would, with uvloop and httptools (what
`uvicorn[standard]` installs) and no access log.

It prints one line, "listening on http://HOST:PORT", once every worker
serves, and stops on SIGINT or SIGTERM with all its workers.

Run with: cargo run --release -- serve -e py-uvicorn -w 4
"""

import asyncio
import contextlib
import signal

import aiohttp
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from uvicorn.supervisors.multiprocess import Multiprocess

import lab
import py_asyncio
import server

# How long a worker may take to start (its interpreter and imports) on a busy machine.
WORKER_START_TIMEOUT_S = 120
# How long the requests in flight may take to finish after a signal.
GRACEFUL_SHUTDOWN_S = 3


def create_app():
    """The FastAPI app of one worker process (uvicorn's factory)."""
    settings = server.from_environment()
    workload = settings.workload

    @contextlib.asynccontextmanager
    async def lifespan(app):
        lab.exit_with_parent()
        server.record_gil()
        # No cap on connections, as the Rust async servers have none; with
        # fresh connections each fetch opens its own session, as py-asyncio does.
        app.state.session = (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            if workload.pooled
            else None
        )
        yield
        if app.state.session is not None:
            await app.state.session.close()

    # No redirect from /ping/ to /ping: a path that no route serves is a 404, as in Rust.
    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    store_workload, cache_workload = server.io_workloads(workload)

    async def fetch(batch_id, fetched_workload=workload):
        try:
            body, _ = await py_asyncio.fetch(fetched_workload, batch_id, app.state.session)
            return batch_id, body
        except lab.BatchError as error:
            return batch_id, error

    @app.get("/ping")
    async def ping():
        return server.PING

    @app.get("/fib")
    async def fib(n: str | None = None):
        n, refused = server.parse_fib(n)
        if refused is not None:
            return JSONResponse(refused[1], status_code=refused[0])
        # Inline on the event loop, as the article's FastAPI endpoint.
        status, body = server.fib_answer(n)
        return JSONResponse(body, status_code=status)

    @app.get("/io")
    async def io(id: str | None = None):
        request_id, refused = server.parse_io_id(id)
        if refused is not None:
            return JSONResponse(refused[1], status_code=refused[0])
        store_id, cache_id = server.io_batches(request_id)
        fetched = await asyncio.gather(
            fetch(store_id, store_workload), fetch(cache_id, cache_workload)
        )
        status, body = server.io_answer(store_workload, request_id, fetched)
        return JSONResponse(body, status_code=status)

    @app.get("/predict")
    async def predict(id: str | None = None):
        request_id, refused = server.parse_id(id, workload)
        if refused is not None:
            return JSONResponse(refused[1], status_code=refused[0])
        fetched = await asyncio.gather(
            *(fetch(batch_id) for batch_id in server.batch_ids(request_id, workload))
        )
        # Inline on the event loop: no other request of this worker runs meanwhile.
        status, body = server.predict(workload, request_id, fetched)
        return JSONResponse(body, status_code=status)

    @app.get("/health")
    async def health():
        return server.HEALTH

    return app


async def not_found(request, exc):
    """Any path that no route serves: the Rust servers' 404."""
    return JSONResponse(server.NOT_FOUND, status_code=404)


async def method_not_allowed(request, exc):
    """A route asked with another method than GET: the Rust servers' 405."""
    message = f"{request.url.path} takes GET, not {request.method}"
    return JSONResponse({"error": message}, status_code=405)


class AnnouncedServer(uvicorn.Server):
    """One uvicorn server in this process that announces itself once started."""

    def __init__(self, config, address):
        super().__init__(config)
        self.address = address

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            server.announce(*self.address)


class AnnouncedMultiprocess(Multiprocess):
    """uvicorn's supervisor of W worker processes (what `uvicorn --workers W`
    runs), which announces the server once every worker has started."""

    def __init__(self, config, sockets, address):
        super().__init__(config, sockets)
        self.address = address

    def init_processes(self):
        super().init_processes()
        for process in self.processes:
            if not process.wait_until_ready(WORKER_START_TIMEOUT_S, self.should_exit):
                # The supervisor's loop sees the failed worker and stops.
                return
        server.announce(*self.address)


def main():
    settings = server.parse(__doc__)
    config = uvicorn.Config(
        "py_uvicorn:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    sock = config.bind_socket()
    address = (settings.host, sock.getsockname()[1])
    if settings.workers == 1:
        # uvicorn re-raises the signal that stopped it once it has shut
        # down; a handler that does nothing lets the process exit with 0.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, lambda *_: None)
        AnnouncedServer(config, address).run(sockets=[sock])
    else:
        AnnouncedMultiprocess(config, [sock], address).run()


if __name__ == "__main__":
    main()
