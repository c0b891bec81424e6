"""py-asyncio: the first article's asyncio + aiohttp client, one task per
batch on one event loop, gathered. The CPU work runs inline in each task, on
the event loop's thread, as the article's CPU-bound asyncio did: the loop
stops serving I/O while a batch is preprocessed (compare `tokio-ct`).

With fresh connections each request opens its own `aiohttp.ClientSession`, as
the article does; with pooled connections one session is shared.

Run with: cargo run --release -- run -e py-asyncio --batches 16 --io-ms 100
"""

import asyncio
import time

import aiohttp

import lab


def request_headers(workload):
    """The Rust clients' headers: runtime-lab's User-Agent, `Accept: */*`,
    and `Connection: close` with fresh connections; aiohttp's own
    Accept-Encoding is skipped."""
    headers = {"User-Agent": lab.USER_AGENT, "Accept": lab.ACCEPT}
    if not workload.pooled:
        headers["Connection"] = "close"
    return headers


SKIPPED_HEADERS = ("Accept-Encoding",)


async def get_feature_batch(workload, batch_id, attempt, session):
    url = workload.request_url(batch_id, attempt)
    timeout = aiohttp.ClientTimeout(total=workload.timeout_s)
    headers = request_headers(workload)
    try:
        if session is None:
            async with aiohttp.ClientSession(timeout=timeout) as fresh:
                async with fresh.get(
                    url, headers=headers, skip_auto_headers=SKIPPED_HEADERS
                ) as response:
                    return response.status, await response.read()
        async with session.get(
            url, timeout=timeout, headers=headers, skip_auto_headers=SKIPPED_HEADERS
        ) as response:
            return response.status, await response.read()
    except asyncio.TimeoutError:
        raise lab.timeout_error(workload) from None
    except aiohttp.ClientConnectorError as error:
        raise lab.BatchError("connect", f"connect failed: {error}") from None
    except (aiohttp.ClientError, OSError) as error:
        raise lab.BatchError("http", f"http error: {error!r}") from None


async def fetch(workload, batch_id, session):
    """The batch's body, retrying transient failures: (body, retries)."""
    attempt = 0
    while True:
        try:
            status, body = await get_feature_batch(workload, batch_id, attempt, session)
            if not 200 <= status < 300:
                raise lab.status_error(status)
            return lab.check_body(body), attempt
        except lab.BatchError as error:
            if attempt >= workload.retries or not lab.is_retryable(error):
                error.retries = attempt
                raise
            attempt += 1
            await asyncio.sleep(lab.backoff_s(batch_id, attempt))


async def prepare_feature_batch(workload, batch_id, session, clock):
    issued = time.monotonic()
    try:
        body, retries = await fetch(workload, batch_id, session)
        # Inline on the event loop: no other task runs until this returns.
        digest, cpu_s, values = lab.process(workload, batch_id, body)
        outcome = lab.Outcome(
            batch_id, issued, time.monotonic(), digest, cpu_s, retries=retries, values=values
        )
    except lab.BatchError as error:
        outcome = lab.Outcome(
            batch_id, issued, time.monotonic(), error=error, retries=getattr(error, "retries", 0)
        )
    clock.threads.sample()
    return outcome


async def run_all(workload, clock):
    async def gather(session):
        return await asyncio.gather(
            *[
                prepare_feature_batch(workload, batch_id, session, clock)
                for batch_id in range(workload.batches)
            ]
        )

    if not workload.pooled:
        return await gather(None)
    # No cap on connections, as the Rust async executors have none.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await gather(session)


def main():
    workload = lab.parse_workload(__doc__)
    clock = lab.RunClock()
    outcomes = asyncio.run(run_all(workload, clock))
    lab.print_report(clock.report(workload, "py-asyncio", outcomes))


if __name__ == "__main__":
    main()
