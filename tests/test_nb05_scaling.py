"""05 · scaling: the sweep, tail latency, politeness, threads against coroutines, a live chart."""

import math
import os
import re

from nbrun import BIG_N, LATENCY, N_REQUESTS, SWEEP, check_live_redraw, number, slide_and_read, text_of


def test_05_sweep_has_the_shape_of_each_method(executed):
    text = text_of(executed("05_scaling.ipynb"))
    rows = {int(n): [float(total) for total in totals] for n, totals in
            ((match[0], re.findall(r"([\d.]+) s \(", match[1])) for match in
             re.findall(r"^ +(\d+) \|(.*)$", text, re.MULTILINE))}
    assert sorted(rows) == SWEEP
    sync, default, sized, native = zip(*(rows[n] for n in SWEEP))
    # Sync grows about linearly: N x latency, each point within a generous margin.
    for n, total in zip(SWEEP, sync):
        assert n * LATENCY * 0.95 <= total < n * LATENCY * 1.5 + 0.3
    assert sync[-1] / sync[0] > 0.6 * SWEEP[-1] / SWEEP[0]
    # The default pool grows in waves; the native client stays near one latency.
    waves = math.ceil(SWEEP[-1] / min(32, os.cpu_count() + 4))
    assert default[-1] >= waves * LATENCY * 0.95
    assert native[-1] < LATENCY * 1.5 + 0.3
    assert native[-1] < sync[-1] / 3


def test_05_tail_politeness_threads_and_a_native_client_at_scale(executed):
    text = text_of(executed("05_scaling.ipynb"))
    # With jitter, the total follows the slowest request, well above the mean.
    slowest = number(r"slowest ([\d.]+) s", text)
    mean = number(r"mean ([\d.]+) s", text)
    total = number(r"async total ([\d.]+) s", text)
    assert slowest <= total < slowest + 0.15 and total > mean
    # The semaphore caps what the server sees.
    assert "server peak: 5 requests at once" in text
    assert f"{N_REQUESTS} requests, at most 5 at once: {math.ceil(N_REQUESTS / 5)} waves" in text
    # Threads against coroutines: the pool adds threads, the coroutines none.
    coroutines = re.search(rf"{BIG_N} coroutines: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s", text)
    threads = re.search(rf"{BIG_N} threads: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s", text)
    assert coroutines and threads, text
    # A pool reuses a thread whose answer is in before the next call is queued, and on a busy
    # machine starting threads is slow, so fewer than BIG_N start (92 of 200 seen under load).
    assert int(coroutines[1]) - int(coroutines[2]) <= 2
    assert int(threads[1]) - int(threads[2]) >= 20
    # The native client stays near one latency at the largest count tested.
    assert float(coroutines[4]) < LATENCY * 2 + 0.3
    assert re.search(rf"{BIG_N // 2} requests: aiohttp +[\d.]+ s, httpx +[\d.]+ s", text)
    assert re.search(r"Python [\d.]+: 12 requests, statuses \[200\]", text)


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read("05_scaling.ipynb", tmp_path, "await asyncio.wrap_future(drawing)")
    check_live_redraw(notebook, seen, r"aiohttp (?P<total>[\d.]+) s", ideal=LATENCY)


def test_the_trace_shows_the_semaphores_waits(executed):
    text = text_of(executed("05_scaling.ipynb"))
    waited = number(r"(\d+) of \d+ tasks waited for a slot", text)
    assert waited == N_REQUESTS - 5  # POLITE_K = 5: all but the first wave
    longest = number(r"waited for a slot, the longest ([\d.]+) s", text)
    assert longest >= (math.ceil(N_REQUESTS / 5) - 1) * LATENCY * 0.9
