"""`python -m benchmarks.clients`: four async HTTP clients, 1,000 requests at once, measured alike.

aiohttp, httpx, httpx2 (pydantic's fork of httpx, with the same API) and niquests (the
requests-compatible client, through its ``AsyncSession``) each send ``N`` GETs at once to a
local latency server (0.3 s). Each client's connection limit is lifted, as notebook 05 does for
aiohttp, so that what is timed is the client itself; every request may take up to
``REQUEST_TIMEOUT`` seconds, so a failure is the client's, not a timeout set too short.

Each run happens in a fresh Python process, so that no client inherits memory another freed
or a module another imported; ``ROUNDS`` runs per client, in turns. The table shows the median
total, the failures of every round, and the median peak memory growth and peak thread count of
the process while it sent the requests (``helpers.track_resources``).

A client that is not installed gets a row that says how to install it. niquests needs care:
its transport, urllib3-future, replaces the ``urllib3`` that requests uses in the whole
environment unless installed with ``URLLIB3_NO_OVERRIDE=1 pip install niquests
--no-binary urllib3-future`` (see the urllib3.future README's FAQ).

    python -m benchmarks.clients              # 1,000 requests, 3 rounds
    python -m benchmarks.clients -n 200 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import helpers

LATENCY = 0.3
N = 1000
ROUNDS = 3
REQUEST_TIMEOUT = 60.0
CLIENTS = ("aiohttp", "httpx", "httpx2", "niquests")
# How to install a client the table finds missing, where plain `pip install NAME` is not enough.
INSTALL = {"niquests": "URLLIB3_NO_OVERRIDE=1 pip install niquests --no-binary urllib3-future"}


async def _aiohttp(url: str, n: int) -> list[str | None]:
    import aiohttp

    async def get(session: aiohttp.ClientSession) -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        return await _outcomes(get(session) for _ in range(n))


async def _httpx_like(module_name: str, url: str, n: int) -> list[str | None]:
    """httpx and httpx2 share one API: the same code times both."""
    module = __import__(module_name)
    limits = module.Limits(max_connections=None, max_keepalive_connections=None)

    async def get(client) -> int:
        return (await client.get(url)).status_code

    async with module.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as client:
        return await _outcomes(get(client) for _ in range(n))


async def _niquests(url: str, n: int) -> list[str | None]:
    import niquests

    async def get(session: niquests.AsyncSession) -> int:
        return (await session.get(url, timeout=REQUEST_TIMEOUT)).status_code

    async with niquests.AsyncSession(pool_connections=1, pool_maxsize=n) as session:
        return await _outcomes(get(session) for _ in range(n))


async def _outcomes(gets) -> list[str | None]:
    """Run every GET at once; None for each 200, else the status or the exception's name."""
    results = await asyncio.gather(*gets, return_exceptions=True)
    return [
        None if result == 200 else type(result).__name__ if isinstance(result, BaseException) else f"HTTP {result}"
        for result in results
    ]


SENDERS: dict[str, Callable[[str, int], Awaitable[list[str | None]]]] = {
    "aiohttp": _aiohttp,
    "httpx": lambda url, n: _httpx_like("httpx", url, n),
    "httpx2": lambda url, n: _httpx_like("httpx2", url, n),
    "niquests": _niquests,
}


def measure_one(client: str, url: str, n: int) -> dict:
    """Send ``n`` GETs at once with ``client`` in this process; what it took, as a dict.

    The client is imported first: its import is neither timed nor counted in the memory.
    """
    importlib.import_module(client)
    with helpers.track_resources(client) as tracked:
        start = time.perf_counter()
        errors = asyncio.run(SENDERS[client](url, n))
        total = time.perf_counter() - start
    failed = Counter(error for error in errors if error)
    return {
        "total": total,
        "failures": sum(failed.values()),
        "kinds": dict(failed),
        "memory_mib": tracked.usage.memory_growth_mib,
        "threads": tracked.usage.peak_threads,
    }


def _version(client: str) -> str | None:
    try:
        return importlib.metadata.version(client)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run_child(client: str, url: str, n: int) -> dict:
    """One measurement in a fresh Python process."""
    command = [sys.executable, "-m", "benchmarks.clients", "--child", client, "--url", url, "-n", str(n)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{client} failed: {reason}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(n: int = N, rounds: int = ROUNDS, latency: float = LATENCY) -> list[str]:
    """The markdown table: one row per client, from ``rounds`` runs of ``n`` requests at once."""
    installed = [client for client in CLIENTS if _version(client)]
    runs: dict[str, list[dict]] = {client: [] for client in installed}
    with helpers.start_server(latency=latency) as server:
        for _ in range(rounds):
            for client in installed:  # in turns, so a slow minute of the machine hits all alike
                runs[client].append(_run_child(client, server.url, n))
    rows = [
        f"| client ({n:,} requests at once) | version | total (median of {rounds}) | ideal | failures (all rounds) "
        "| peak memory growth | peak threads |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for client in CLIENTS:
        if client not in runs:
            rows.append(f"| {client} | not installed: `{INSTALL.get(client, f'pip install {client}')}` | | | | | |")
            continue
        done = runs[client]
        kinds = Counter()
        for run in done:
            kinds.update(run["kinds"])
        failures = sum(run["failures"] for run in done)
        what = f"{failures:,}" + (f" ({', '.join(f'{k} x{v}' for k, v in kinds.most_common())})" if kinds else "")
        rows.append(
            f"| {client} | {_version(client)} | {statistics.median(run['total'] for run in done):.2f} s "
            f"| {latency:.2f} s | {what} | +{statistics.median(run['memory_mib'] for run in done):.1f} MiB "
            f"| {statistics.median(run['threads'] for run in done):.0f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=N, help=f"requests at once (default {N})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"runs per client (default {ROUNDS})")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.n <= 10_000:
        parser.error(f"-n must be from 1 to 10000, got {args.n}")
    if not 1 <= args.rounds <= 20:
        parser.error(f"--rounds must be from 1 to 20, got {args.rounds}")
    if args.child:
        print(json.dumps(measure_one(args.child, args.url, args.n)))
        return
    print(f"Python {platform.python_version()} on {os.cpu_count()} CPUs; server latency {LATENCY} s\n")
    print("\n".join(table(args.n, args.rounds)))


if __name__ == "__main__":
    main()
