"""`make bench`: how accurate the latency server is, and how the post's methods compare.

Prints three tables. The first sends 20, 200 and 1,000 requests at once to a server with a
0.3 s latency and reports how far past 0.3 s each answer came (median and p99), how long
connections took to open, and how many were refused or reset. Targets: p99 overshoot under
30 ms at 200 requests and under 100 ms at 1,000, and nothing refused.

The second times the post's sync loop and the thread-executor version against the ideal:
N x latency for the loop, ceil(N / workers) x latency for a pool of that many threads.

The third sends 1,000 requests at once three ways (a pool of 1,000 threads, and two native
async clients, aiohttp and httpx, with their connection limits lifted) and reports each total
with the process's peak thread count and memory growth.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import httpx
import requests

import helpers
from helpers import resources
from tests.load import run_get_many

LATENCY = 0.3
CONCURRENCY = (20, 200, 1000)
TARGETS_MS = {200: 30, 1000: 100}
EXECUTOR_N = 20
NATIVE_N = 1000


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with ``fraction`` of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_table(server: helpers.LatencyServer) -> list[str]:
    rows = [
        "| concurrent | median overshoot | p99 overshoot | target p99 | p99 connect | refused or reset | peak at server |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in CONCURRENCY:
        server.reset_stats()
        results = run_get_many(server.url, n)
        failed = [result for result in results if result.error]
        overshoot = [(result.seconds - LATENCY) * 1000 for result in results if not result.error]
        connect = [result.connect_seconds * 1000 for result in results]
        target = f"< {TARGETS_MS[n]} ms" if n in TARGETS_MS else "-"
        rows.append(
            f"| {n} | {statistics.median(overshoot):.1f} ms | {percentile(overshoot, 0.99):.1f} ms | {target} "
            f"| {percentile(connect, 0.99):.1f} ms | {len(failed)} | {server.stats().peak_in_flight} |"
        )
    return rows


def sync_total(url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        requests.get(url, timeout=10)
    return time.perf_counter() - start


def async_total(work: Callable[[], Awaitable[None]]) -> float:
    """Seconds that ``asyncio.run(work())`` takes, a fresh event loop included (about 1 ms)."""
    start = time.perf_counter()
    asyncio.run(work())
    return time.perf_counter() - start


async def pool_gets(url: str, n: int, workers: int | None) -> None:
    loop = asyncio.get_running_loop()
    if workers is None:
        await asyncio.gather(*(loop.run_in_executor(None, requests.get, url) for _ in range(n)))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, requests.get, url) for _ in range(n)))


async def aiohttp_gets(url: str, n: int) -> None:
    async def get(session: aiohttp.ClientSession) -> None:
        async with session.get(url) as response:
            await response.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(get(session) for _ in range(n)))


async def httpx_gets(url: str, n: int) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None), timeout=120) as client:
        await asyncio.gather(*(client.get(url) for _ in range(n)))


def methods_table(server: helpers.LatencyServer) -> list[str]:
    default_workers = resources.default_workers()
    rows = [
        f"| method ({EXECUTOR_N} requests) | workers | total | ideal | over ideal |",
        "|---|---:|---:|---:|---:|",
    ]
    cases = [
        ("sync loop (the post's first version)", "-", sync_total(server.url, EXECUTOR_N), EXECUTOR_N * LATENCY),
        (
            "run_in_executor, default pool",
            str(default_workers),
            async_total(lambda: pool_gets(server.url, EXECUTOR_N, None)),
            math.ceil(EXECUTOR_N / default_workers) * LATENCY,
        ),
        (
            "run_in_executor, pool sized to the work",
            str(EXECUTOR_N),
            async_total(lambda: pool_gets(server.url, EXECUTOR_N, EXECUTOR_N)),
            LATENCY,
        ),
    ]
    for name, workers, total, ideal in cases:
        rows.append(f"| {name} | {workers} | {total:.3f} s | {ideal:.3f} s | {(total - ideal) * 1000:.0f} ms |")
    return rows


def native_table(server: helpers.LatencyServer) -> list[str]:
    rows = [
        f"| method ({NATIVE_N:,} requests at once) | worker threads | total | ideal | peak threads | memory growth |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    # The default pool is left out: 167 waves of 0.3 s would take 50 s to say what 02 says.
    # The threads go last, so that memory they free cannot be reused and flatter the others.
    cases = [
        ("aiohttp ClientSession, no limit", "none", lambda: aiohttp_gets(server.url, NATIVE_N)),
        ("httpx AsyncClient, no limit", "none", lambda: httpx_gets(server.url, NATIVE_N)),
        (f"run_in_executor, pool of {NATIVE_N:,}", f"{NATIVE_N:,}", lambda: pool_gets(server.url, NATIVE_N, NATIVE_N)),
    ]
    for name, threads, work in cases:
        with helpers.track_resources(name) as tracked:
            total = async_total(work)
        usage = tracked.usage
        rows.append(
            f"| {name} | {threads} | {total:.3f} s | {LATENCY:.3f} s | {usage.peak_threads:,} "
            f"| +{usage.memory_growth_mib:.1f} MiB |"
        )
    return rows


def main() -> None:
    print(f"Python {platform.python_version()} on {os.cpu_count()} CPUs; server latency {LATENCY} s\n")
    with helpers.start_server(latency=LATENCY) as server:
        print("Server latency accuracy (requests sent all at once; overshoot = measured - latency)\n")
        print("\n".join(latency_table(server)))
        print("\nSync loop against thread executors\n")
        print("\n".join(methods_table(server)))
        print(f"\nThreads against native async clients at {NATIVE_N:,}\n")
        print("\n".join(native_table(server)))


if __name__ == "__main__":
    main()
