"""A minimal load probe: many concurrent GETs over raw asyncio streams, each timed.

Why not requests or httpx here: this probe measures the *server*. A full client library adds
its own per-request work (and, with threads, GIL contention) to every measured time, and a
connection pool may hide a refused connection behind a retry or a queue. A bare
``asyncio.open_connection`` with one HTTP/1.1 request per connection adds almost nothing,
and every refused or reset connection shows up as an error.

Each request is timed from the moment its request bytes are sent until its answer has been
read: that is what the server controls. The time to open the connection is kept apart, because
with a thousand connections opened at once it is mostly the probe's own queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.parse


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """One probed request: status (None on error), seconds from sending to answer, error name."""

    status: int | None
    seconds: float
    connect_seconds: float
    error: str | None = None


async def _get(url: urllib.parse.SplitResult, target: str, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    sent = None
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, url.port), timeout
        )
        sent = time.perf_counter()
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        await asyncio.wait_for(reader.read(), timeout)  # the rest, until the server closes
        status = int(status_line.split()[1])
        return ProbeResult(status, time.perf_counter() - sent, sent - start)
    except (OSError, asyncio.TimeoutError, IndexError, ValueError) as error:
        connect = (sent or time.perf_counter()) - start
        return ProbeResult(None, time.perf_counter() - (sent or start), connect, type(error).__name__)
    finally:
        if writer is not None:
            writer.close()


async def get_many(url: str, n_requests: int, *, timeout: float = 30.0) -> list[ProbeResult]:
    """Send ``n_requests`` GETs to ``url`` all at once and return one result per request."""
    if n_requests < 1:
        raise ValueError(f"n_requests must be >= 1, got {n_requests}")
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return await asyncio.gather(*(_get(parts, target, timeout) for _ in range(n_requests)))


def run_get_many(url: str, n_requests: int, *, timeout: float = 30.0) -> list[ProbeResult]:
    """``get_many`` from synchronous code (the tests, and `make bench`)."""
    return asyncio.run(get_many(url, n_requests, timeout=timeout))
