"""The blocking fetch of py-serial, py-threads and py-processes: `requests`,
as the articles use it, under lab's failure policy.

With fresh connections every request is `requests.get`, which opens and
closes its own connection; with pooled connections a `requests.Session`
keeps them alive and reuses them.
"""

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import SKIP_HEADER

import lab


def pooled_session(workload, pool_size):
    """A session that keeps up to `pool_size` connections alive, or None for fresh ones."""
    if not workload.pooled:
        return None
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1))
    session.mount("http://", adapter)
    return session


def request_headers(workload):
    """The Rust clients' headers: runtime-lab's User-Agent, `Accept: */*`,
    no Accept-Encoding, and `Connection: close` with fresh connections
    (None removes one of requests' defaults; SKIP_HEADER keeps http.client
    from adding `Accept-Encoding: identity` in its place)."""
    return {
        "User-Agent": lab.USER_AGENT,
        "Accept-Encoding": SKIP_HEADER,
        "Accept": lab.ACCEPT,
        "Connection": None if workload.pooled else "close",
    }


def fetch(workload, batch_id, session=None):
    """Fetches batch `batch_id`, retrying transient failures: (body, retries)."""
    headers = request_headers(workload)

    def once(attempt):
        get = session.get if session is not None else requests.get
        try:
            response = get(
                workload.request_url(batch_id, attempt),
                headers=headers,
                timeout=workload.timeout_s,
            )
            body = response.content
        except requests.exceptions.Timeout:
            raise lab.timeout_error(workload) from None
        except requests.exceptions.ConnectionError as error:
            kind = "connect" if _refused_or_unreachable(error) else "http"
            prefix = "connect failed" if kind == "connect" else "http error"
            raise lab.BatchError(kind, f"{prefix}: {error}") from None
        except requests.exceptions.RequestException as error:
            raise lab.BatchError("http", f"http error: {error}") from None
        if not 200 <= response.status_code < 300:
            raise lab.status_error(response.status_code)
        return lab.check_body(body)

    return lab.fetch_with_retries(workload, batch_id, once)


def fetch_and_preprocess(workload, batch_id, session=None):
    """One batch, start to end: (digest, cpu seconds, values the body gave, retries)."""
    body, retries = fetch(workload, batch_id, session)
    digest, cpu_s, values = lab.process(workload, batch_id, body)
    return digest, cpu_s, values, retries


def _refused_or_unreachable(error):
    # requests wraps urllib3's NewConnectionError when no connection opened.
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return type(reason).__name__ in ("NewConnectionError", "ConnectTimeoutError")
