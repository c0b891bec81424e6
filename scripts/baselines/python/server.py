"""What the Python server baselines (py-uvicorn, py-gunicorn) share: the
flags of `runtime-lab serve`, the answers of `/predict` and `/health`, and
the readiness line.

A request for id N with a fan-out of S fetches batches N*S .. N*S+S and
answers `{"id":N,"digest":"<16 hex>","batches":S}`, the digest combined from
the batches' digests exactly as the Rust servers combine them. `--cpu-ms` is
the CPU time of a whole request, spread over its batches, calibrated here in
Python, once, in the parent process; its worker processes are given the
calibration (forked workers inherit it, spawned ones read it from the
environment), so every worker burns the same rounds.
"""

import argparse
import json
import os
import sys
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
    os.environ[ENVIRONMENT] = json.dumps(
        {"flags": flags, "rounds_per_ms": workload.rounds_per_ms}
    )
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
    digests = []
    for batch_id, body in fetched:
        try:
            if isinstance(body, lab.BatchError):
                raise body
            digest, _, _ = lab.process(workload, batch_id, body)
        except lab.BatchError as error:
            return 502, {"error": f"batch {batch_id}: {error.message}"}
        digests.append(digest)
    return 200, {
        "id": request_id,
        "digest": f"{lab.combine_digests(digests):016x}",
        "batches": workload.batches,
    }


HEALTH = {"status": "ok"}


def announce(host, port):
    """Prints the readiness line."""
    shown = f"[{host}]" if ":" in host else host
    print(f"{READY_PREFIX}{shown}:{port}", flush=True)
