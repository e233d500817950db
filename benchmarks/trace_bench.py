"""What tracing the loop costs: the same requests timed untraced and inside ``trace_loop()``.

Prints one table. For 20 and 200 requests at once to a local server with a 0.1 s latency, sent
two ways (the series' ``asyncio.to_thread(requests.get)`` on a pool sized to the work, and the
native client aiohttp), it times each batch untraced and traced, alternating, several rounds,
and reports the best of each and their ratio. Target: a ratio of at most 1.05. The best, not the
median: other work on the machine only ever adds time, and on a shared two-core machine it adds
more than the tracer does, so the fastest round is the closest to what the code itself costs.

A last row is the worst case, with no waiting to hide behind: tasks that only hand the loop back
(``await asyncio.sleep(0)``) as fast as it can take them. It shows the cost of one traced step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import requests

import helpers
from benchmarks.bench import aiohttp_gets

LATENCY = 0.1
COUNTS = (20, 200)
ROUNDS = 11
TARGET = 1.05
BUSY_TASKS, BUSY_STEPS = 200, 100

Work = Callable[[], Awaitable[object]]


def timed(work: Work, traced: bool) -> float:
    """Seconds one batch takes under asyncio.run, inside trace_loop() if ``traced``."""

    async def main() -> float:
        # A pool with a thread for every request at once; asyncio.run shuts it down at the end.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=max(COUNTS)))
        await work()  # a first batch opens the pool's threads or the client's first connections
        start = time.perf_counter()
        with helpers.trace_loop() if traced else contextlib.nullcontext():
            await work()
        return time.perf_counter() - start

    return asyncio.run(main())


def best_times(work: Work) -> tuple[float, float]:
    """The best untraced and traced times over ROUNDS rounds, each round running both, in turn first."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(ROUNDS):
        for traced in (False, True) if round_ % 2 else (True, False):
            times[traced].append(timed(work, traced))
    return min(times[False]), min(times[True])


def thread_gets(url: str, n: int) -> Work:
    async def work() -> None:
        await asyncio.gather(*(asyncio.to_thread(requests.get, url, timeout=30) for _ in range(n)))

    return work


async def busy_steps() -> None:
    async def hand_back() -> None:
        for _ in range(BUSY_STEPS):
            await asyncio.sleep(0)

    await asyncio.gather(*(hand_back() for _ in range(BUSY_TASKS)))


def row(name: str, work: Work) -> str:
    untraced, traced = best_times(work)
    ratio = traced / untraced
    verdict = "yes" if ratio <= TARGET else "no"
    return f"| {name} | {untraced:.3f} s | {traced:.3f} s | {ratio:.3f} | {verdict} |"


def main() -> None:
    print(f"Python {platform.python_version()} on {os.cpu_count()} CPUs; server latency {LATENCY} s; "
          f"best of {ROUNDS} rounds\n")
    rows = [
        f"| requests at once | untraced | traced | ratio | within {TARGET} |",
        "|---|---:|---:|---:|---|",
    ]
    with helpers.start_server(latency=LATENCY) as server:
        for n in COUNTS:
            rows.append(row(f"{n}, to_thread(requests.get), {n} threads", thread_gets(server.url, n)))
            rows.append(row(f"{n}, aiohttp", functools.partial(aiohttp_gets, server.url, n)))
    steps = BUSY_TASKS * BUSY_STEPS
    untraced, traced = best_times(busy_steps)
    rows.append(
        f"| worst case: {steps:,} steps, no waiting | {untraced:.3f} s | {traced:.3f} s "
        f"| {traced / untraced:.3f} | ({(traced - untraced) / steps * 1e6:.1f} µs a step) |"
    )
    print("Loop tracing overhead (traced / untraced)\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
