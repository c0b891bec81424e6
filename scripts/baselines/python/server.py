"""What the Python server baselines (py-uvicorn, py-gunicorn) share: the
flags of `runtime-lab serve`, the answers of every route (the scenarios
`/ping`, `/fib?n=N`, `/io?id=N` and `/predict?id=N`, and `/health`), and
the readiness line. The routes and their answers are the Rust servers'
(crates/pipeline/src/serve.rs), byte for byte, error messages included.

A request for id N with a fan-out of S fetches batches N*S .. N*S+S and
answers `{"id":N,"digest":"<16 hex>","batches":S}`, the digest combined from
the batches' digests exactly as the Rust servers combine them. `--cpu-ms` is
the CPU time of a whole request, spread over its batches, calibrated here in
Python, once, in the parent process; its worker processes are given the
calibration (forked workers inherit it, spawned ones read it from the
environment), so every worker burns the same rounds.

The readiness line says, after the address, which interpreter runs and
whether the GIL is enabled: each process of the server records
`sys._is_gil_enabled()` once its imports are done (record_gil), and the
line says `"gil_enabled": true` if any process has it, so that free
threading is claimed only where every process ran without the GIL.
"""

import argparse
import atexit
import copy
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from types import SimpleNamespace

import lab

# The one line a server prints on stdout when it accepts connections; HOST:PORT follows it.
READY_PREFIX = "listening on http://"

# Where a parent leaves its parsed flags and calibration for spawned workers.
ENVIRONMENT = "RUNTIME_LAB_SERVER_WORKLOAD"


class Settings:
    """Where to listen and how many workers, and the workload of one request."""

    def __init__(self, flags, workload):
        self.flags = flags
        self.workload = workload
        self.host, self.port = flags["host"], flags["port"]
        self.workers = workload.workers


def _workload(flags, rounds_per_ms=None):
    args = SimpleNamespace(
        batches=flags["fanout"],
        io_ms=flags["io_ms"],
        cpu_ms=flags["cpu_ms"] / flags["fanout"],
        features=flags["features"],
        workers=flags["workers"],
        connections=flags["connections"],
        timeout_ms=None,
        retries=2,
        upstream=flags["upstream"],
        rounds_per_ms=rounds_per_ms,
    )
    return lab.Workload(args)


def parse(description):
    """Parses serve's flags (exit 2 on bad input) and calibrates the kernel;
    the settings are also left in the environment for spawned workers."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", "-w", type=lab.bounded(1, 4096), default=None)
    parser.add_argument("--addr", default="127.0.0.1:8080")
    parser.add_argument("--fanout", type=lab.bounded(1, 1024), default=1)
    parser.add_argument("--io-ms", type=lab.bounded(0, 60_000), default=20)
    parser.add_argument("--cpu-ms", type=lab.bounded(0.0, 60_000.0, float), default=5.0)
    parser.add_argument("--features", type=lab.bounded(1, lab.MAX_VALUES), default=1024)
    parser.add_argument("--connections", choices=["fresh", "pooled"], default="pooled")
    parser.add_argument(
        "--upstream",
        required=True,
        help="base URL of a running feature store, or any URL with {id} in it",
    )
    parser.add_argument("--version", action="version", version=lab.interpreter())
    args = parser.parse_args()
    if not args.upstream.startswith("http://"):
        parser.error(f"--upstream {args.upstream!r}: only plain http:// upstreams are supported")
    host, _, port = args.addr.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        parser.error(f"--addr {args.addr!r}: expected HOST:PORT")
    lab.exit_with_parent()
    flags = {
        "host": host.strip("[]"),
        "port": int(port),
        "fanout": args.fanout,
        "io_ms": args.io_ms,
        "cpu_ms": args.cpu_ms,
        "features": args.features,
        "workers": args.workers or lab.available_cores(),
        "connections": args.connections,
        "upstream": args.upstream,
    }
    workload = _workload(flags)
    records = tempfile.mkdtemp(prefix="runtime-lab-gil-")
    parent = os.getpid()
    # Only the parent removes the records, not a forked worker that exits.
    atexit.register(lambda: os.getpid() == parent and shutil.rmtree(records, True))
    os.environ[ENVIRONMENT] = json.dumps(
        {"flags": flags, "rounds_per_ms": workload.rounds_per_ms, "gil_records": records}
    )
    # The parent has imported its server's packages by now.
    record_gil()
    return Settings(flags, workload)


def from_environment():
    """The settings a parent left in the environment, without calibrating again."""
    try:
        saved = json.loads(os.environ[ENVIRONMENT])
    except (KeyError, ValueError) as error:
        sys.exit(f"a server worker needs {ENVIRONMENT} from its parent: {error}")
    flags = saved["flags"]
    return Settings(flags, _workload(flags, saved["rounds_per_ms"]))


def batch_ids(request_id, workload):
    """The batches of request `request_id`: N*S .. N*S+S."""
    first = request_id * workload.batches
    return range(first, first + workload.batches)


def parse_id(text, workload):
    """The request id of `?id=TEXT`, or the (status, body) that refuses it,
    with the Rust servers' messages."""
    if text is None:
        return None, (400, {"error": "missing ?id=N"})
    if not (text.isascii() and text.isdigit()):
        return None, (400, {"error": f"id {json.dumps(text)} is not a non-negative integer"})
    request_id = int(text)
    if request_id > lab.MASK64 or (request_id + 1) * workload.batches > lab.MASK64:
        return None, (400, {"error": f"id {request_id} is too large"})
    return request_id, None


def predict(workload, request_id, fetched):
    """Preprocesses the fetched batches on this thread (the CPU work) and
    builds the answer: `fetched` holds (batch id, body or lab.BatchError)."""
    digest, failed = _digest_of(workload, fetched)
    if failed is not None:
        return failed
    return 200, {"id": request_id, "digest": digest, "batches": workload.batches}


def _digest_of(workload, fetched):
    """The 16 hex digits of the fetched batches' combined digests, or the
    (status, body) of the first batch that failed."""
    digests = []
    for batch_id, body in fetched:
        try:
            if isinstance(body, lab.BatchError):
                raise body
            digest, _, _ = lab.process(workload, batch_id, body)
        except lab.BatchError as error:
            return None, (502, {"error": f"batch {batch_id}: {error.message}"})
        digests.append(digest)
    return f"{lab.combine_digests(digests):016x}", None


HEALTH = {"status": "ok"}

# ---------------------------------------------------------------- scenarios

# `GET /ping`: no fetch, no CPU, the framework's own cost per request.
PING = {"ping": "pong"}

# The body of a 404, for any path that no route serves.
NOT_FOUND = {"error": "not found"}

# The largest n that /fib takes (fib(40) = 102334155, tens of seconds in CPython).
MAX_FIB_N = 40


def fib(n):
    """The n-th Fibonacci number by the naive recursion, the article's CPU
    row: the same calls and additions as the Rust and Go servers make."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def parse_fib(text):
    """`/fib`'s n from `?n=TEXT`, or the (status, body) that refuses it."""
    if text is None:
        return None, (400, {"error": "missing ?n=N"})
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_FIB_N:
        return None, (
            400,
            {"error": f"n {json.dumps(text)} is not an integer from 0 to {MAX_FIB_N}"},
        )
    return int(text), None


def fib_answer(n):
    """The (status, body) of `/fib?n=N`, computed on this thread: the CPU work."""
    return 200, {"n": n, "fib": fib(n)}


def parse_io_id(text):
    """`/io`'s request id, or the (status, body) that refuses it: its cache
    batch is id + 1, so that must be an id too."""
    request_id, refused = parse_id(text, SimpleNamespace(batches=1))
    if refused is None and request_id + 1 > lab.MASK64:
        return None, (400, {"error": f"id {request_id} is too large"})
    return request_id, refused


def cache_delay_ms(io_ms):
    """The delay of /io's second upstream, the cache: a tenth of the store's."""
    return io_ms // 10


def io_workloads(workload):
    """The workloads of /io's two fetches, (store, cache): batch N from the
    feature store after --io-ms, and batch N+1 from the same store after
    cache_delay_ms, standing for the cache; neither burns kernel rounds."""
    store = copy.copy(workload)
    store.cpu_rounds = 0
    cache = copy.copy(store)
    cache.io_ms = cache_delay_ms(workload.io_ms)
    return store, cache


def io_batches(request_id):
    """The batches of /io?id=N: (the store's, the cache's)."""
    return request_id, request_id + 1


def io_answer(store_workload, request_id, fetched):
    """The (status, body) of /io?id=N from its two fetched batches, the
    store's then the cache's: their digests combined as /predict's are."""
    digest, failed = _digest_of(store_workload, fetched)
    if failed is not None:
        return failed
    return 200, {"id": request_id, "digest": digest}


def _gil_records():
    return json.loads(os.environ[ENVIRONMENT])["gil_records"]


def record_gil():
    """Records whether this process runs with the GIL, once its imports are
    done: every process of a server calls it (the parent in parse, each
    worker as it starts)."""
    path = os.path.join(_gil_records(), str(os.getpid()))
    with open(path, "w") as record:
        record.write("1" if lab.has_gil() else "0")


def runtime():
    """What the readiness line says after the address: the interpreter,
    whether any process that recorded itself runs with the GIL, and how
    many processes recorded."""
    record_gil()
    records = _gil_records()
    states = []
    for name in os.listdir(records):
        with open(os.path.join(records, name)) as record:
            states.append(record.read() == "1")
    return {
        "interpreter": lab.interpreter(),
        "gil_enabled": any(states),
        "processes": len(states),
    }


def announce_once_accepting(host, port, poll_s=0.02, within_s=60):
    """Announces the server from a thread once a connection to HOST:PORT
    succeeds: for a server whose socket is bound before the process that
    accepts on it has started (Granian's worker); a server that never
    accepts within `within_s` says nothing, and the CLI reports it."""

    def wait_then_announce():
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                time.sleep(poll_s)
                continue
            announce(host, port)
            return

    threading.Thread(target=wait_then_announce, name="announce", daemon=True).start()


def announce(host, port):
    """Prints the readiness line: the address, then the runtime as JSON
    (`runtime-lab serve` reads both and prints its own line)."""
    shown = f"[{host}]" if ":" in host else host
    print(f"{READY_PREFIX}{shown}:{port} {json.dumps(runtime())}", flush=True)
