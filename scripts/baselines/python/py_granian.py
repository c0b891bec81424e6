"""py-granian: the free-threading talk's "Granian threads": py-gunicorn's
Flask app (py_gunicorn.create_app) on Granian's WSGI interface, one worker
with `--workers W` blocking threads calling the app, behind Granian's Rust
HTTP server (one runtime thread). Each blocking thread serves one request at
a time, fetching with `requests` from one keep-alive session of W x S
pooled connections: under the GIL (3.13) the threads' CPU work takes turns
(compare `threads --gil`); on 3.13t it runs on every core (compare
`threads`). On a GIL build Granian runs its worker as a child process; on
the free-threaded build, as a thread of this one process.

It prints one line, "listening on http://HOST:PORT" and its runtime, once
the app is loaded and the port accepts connections, and stops on SIGINT or
SIGTERM.

Run with: cargo run --release -- serve -e py-granian@3.13t -w 8
"""

import atexit
import os
import sys
import sysconfig

from granian.constants import Interfaces
from granian.server import Server

import lab
import py_gunicorn
import server

# On the free-threaded build Granian's worker is a thread of this process;
# on a GIL build it is a child process.
WORKER_IS_A_THREAD = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# How long the requests in flight may take to finish after SIGTERM.
GRACEFUL_SHUTDOWN_S = 3

# Granian logs to stdout; its messages go to stderr, so that the readiness
# line is the one line on stdout.
LOG_TO_STDERR = {
    "handlers": {
        name: {
            "formatter": formatter,
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
        for name, formatter in (("console", "generic"), ("access", "access"))
    }
}


def load_app():
    """The WSGI app, loaded where Granian's worker runs; in a worker process
    it announces the server once the worker accepts connections."""
    settings = server.from_environment()
    workload = settings.workload
    if not WORKER_IS_A_THREAD:
        lab.exit_with_parent()
    py_gunicorn.open_sessions(workload, settings.workers)
    app = py_gunicorn.create_app(workload)
    server.record_gil()
    if not WORKER_IS_A_THREAD:
        server.announce_once_accepting(settings.host, settings.port)
    return app


def main():
    settings = server.parse(__doc__)
    granian = Server(
        "py_granian:load_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=settings.workers,
        runtime_threads=1,
        log_level="warning",
        log_dictconfig=LOG_TO_STDERR,
        log_access=False,
        workers_kill_timeout=GRACEFUL_SHUTDOWN_S,
    )
    if WORKER_IS_A_THREAD:
        # The app was loaded in this process before the socket was bound;
        # the startup hooks run once it is bound, before the worker thread starts.
        granian.on_startup(lambda: server.announce_once_accepting(settings.host, settings.port))
    granian.serve(target_loader=load_app, wrap_loader=False)
    if WORKER_IS_A_THREAD:
        # Granian has stopped its worker; finalizing the interpreter with
        # Granian's Rust threads still parked can panic them (an abort on
        # 3.13t), so the exit handlers run and the process ends here.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
