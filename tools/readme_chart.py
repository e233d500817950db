"""Draw the README's chart: the post's twenty requests, sync and async, on two timelines.

It runs what notebooks 01 and 02 run (a sync loop, then coroutines on a thread pool sized to
the work, against the local latency server) and draws both with the series' own
``plot_timeline``, sharing one time axis so the staircase and the wall compare at a glance.

    python tools/readme_chart.py docs/sync-vs-async-timeline.png
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draws to a file; no window

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import requests  # noqa: E402

from helpers import Run, start_server, timed_run  # noqa: E402
from helpers.plots import plot_timeline  # noqa: E402

N_REQUESTS, LATENCY = 20, 0.3


def sync_run(url: str) -> Run:
    with timed_run("sync loop") as run:
        for _ in range(N_REQUESTS):
            with run.request() as req:
                req.status = requests.get(url).status_code
    return run


async def async_run(url: str) -> Run:
    loop = asyncio.get_running_loop()

    async def get_response(run: Run, pool: ThreadPoolExecutor) -> None:
        with run.request() as req:
            req.status = (await loop.run_in_executor(pool, requests.get, url)).status_code

    with ThreadPoolExecutor(max_workers=N_REQUESTS) as pool:
        with timed_run("async, run_in_executor", workers=N_REQUESTS) as run:
            await asyncio.gather(*(get_response(run, pool) for _ in range(N_REQUESTS)))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the PNG file to write")
    output = parser.parse_args().output
    with start_server(latency=LATENCY) as server:
        runs = [sync_run(server.url), asyncio.run(async_run(server.url))]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True, layout="constrained")
    for run, ax in zip(runs, axes):
        plot_timeline(run, ax=ax)
        ax.set_title(f"{run.label}: {run.total:.2f} s for {N_REQUESTS} requests of {LATENCY} s")
    axes[0].set_xlim(0, runs[0].total * 1.05)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    print(f"wrote {output}: sync {runs[0].total:.2f} s, async {runs[1].total:.2f} s")


if __name__ == "__main__":
    main()
