"""02 · the coroutine version: the default pool's waves, a sized pool, a live chart."""

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import helpers

from nbrun import (
    CPU_COUNT, DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, check_live_redraw, execute,
    number, slide_and_read, text_of,
)

NAME = "02_coroutines.ipynb"


def check_waves(text: str) -> None:
    """The default pool ran in waves, a sized pool in one, and the server's peak counts agree."""
    workers = DEFAULT_WORKERS
    waves = math.ceil(N_REQUESTS / workers)
    assert f"{N_REQUESTS} requests / {workers} threads = {waves} waves" in text
    assert f"{CPU_COUNT} = {workers - 4}, so the default pool has min(32, {workers - 4} + 4) = {workers} threads" in text
    assert f"the server never saw more than {min(workers, N_REQUESTS)} requests at once" in text
    sync = number(r"sync: total +([\d.]+) s", text)
    default = number(r"default pool: total +([\d.]+) s", text)
    sized = number(r"pool of N_REQUESTS: total +([\d.]+) s", text)
    assert waves * LATENCY * 0.9 <= default < waves * LATENCY * 1.5 + 0.3
    assert LATENCY * 0.9 <= sized < LATENCY * 1.5 + 0.3
    assert sized < sync / 3 and default < sync / 2
    assert f"server peak: {N_REQUESTS}" in text
    assert "16 requests took about 0.3 s, 4 took about 0.5 s" in text


def test_02_default_pool_runs_in_waves_and_a_sized_pool_in_one(executed):
    check_waves(text_of(executed(NAME)))


def test_against_a_rooms_shared_server_the_lesson_holds(tmp_path, monkeypatch):
    # The room's server has a latency of its own, and other students' requests are in flight.
    with helpers.start_server(latency=0.5) as room, ThreadPoolExecutor(3) as others:
        monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", room.url)
        busy = [others.submit(requests.get, room.url_for(delay=15), timeout=30) for _ in range(3)]
        text = text_of(execute(NOTEBOOKS / NAME, tmp_path))
        assert all(answer.result().ok for answer in busy)
    assert f"requests go to {room.url}/?delay={LATENCY}&client=" in text
    check_waves(text)  # this notebook's latency, and this notebook's own peak counts


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read(NAME, tmp_path, "await asyncio.wrap_future(drawing)")
    check_live_redraw(notebook, seen, r"sized pool (?P<total>[\d.]+) s", ideal=LATENCY)


def test_the_trace_splits_each_request_into_a_wait_for_a_thread_and_one_for_the_server(executed):
    text = text_of(executed(NAME))
    workers = DEFAULT_WORKERS
    waited = number(rf"(\d+) of {N_REQUESTS} calls waited for a thread", text)
    assert waited == max(0, N_REQUESTS - workers)  # every wave after the first
    longest = number(r"waited for a thread, the longest ([\d.]+) s", text)
    assert longest >= (math.ceil(N_REQUESTS / workers) - 1) * LATENCY * 0.9
    low, high = number(r"in flight: ([\d.]+) to", text), number(r"in flight: [\d.]+ to ([\d.]+) s each", text)
    assert LATENCY * 0.9 <= low <= high < LATENCY * 1.5 + 0.2


def test_its_the_threads_io_overlaps_without_asyncio_and_cpu_work_does_not_in_threads(executed):
    text = text_of(executed(NAME))
    plain = number(r"no asyncio: ([\d.]+) s", text)
    assert LATENCY * 0.9 <= plain < LATENCY * 1.5 + 0.3  # the sized pool's wall, with no event loop
    one = number(r"one sum: ([\d.]+) s", text)
    in_threads = number(r"four in threads: ([\d.]+) s", text)
    assert in_threads >= 2.5 * one  # four sums that take turns for the GIL


def test_where_the_pool_holds_every_request_the_count_is_raised_so_waves_show(tmp_path):
    notebook = execute(NOTEBOOKS / NAME, tmp_path, parameters={"N_REQUESTS": 2})
    raised = 2 * DEFAULT_WORKERS + 2
    text = text_of(notebook)
    assert f"so there would be no waves to see: N_REQUESTS is raised to {raised}." in text
    assert f"{raised} requests / {DEFAULT_WORKERS} threads = 3 waves" in text


# The first lines of exercise 3's starter: they start the server's counts again for its check.
RESET = "if server:\n    server.reset_stats()  # the check reads how many requests the server held at once\n"
# Plausible wrong answers for each exercise, in order: each must get "Not yet" from its check.
WRONG_ANSWERS = [
    [  # expected_total: the waves are whole
        "def expected_total(n_requests, workers, latency):\n    return n_requests / workers * latency\n",
        "def expected_total(n_requests, workers, latency):\n    return n_requests // workers * latency\n",
        "def expected_total(n_requests, workers, latency):\n    return math.ceil(n_requests / workers * latency)\n",
        "def expected_total(n_requests, workers, latency):\n    return latency\n",
    ],
    [  # post_cpus: CPUs, not threads
        "post_cpus = 16\n",
        "post_cpus = 20\n",
        "post_cpus = 8\n",
    ],
    [  # four_run: a pool of four, really used (each keeps the starter's first lines, as a student would)
        RESET + 'four_run = await async_code("pool of 4", workers=4)\n',
        RESET + 'with ThreadPoolExecutor(max_workers=4) as pool:\n    four_run = await async_code("pool of 4", workers=4)\n',
        RESET + 'with ThreadPoolExecutor(max_workers=N_REQUESTS) as pool:\n'
        '    four_run = await async_code("pool of 4", executor=pool, workers=4)\n',
        RESET + 'with ThreadPoolExecutor(max_workers=2) as pool:\n'
        '    four_run = await async_code("pool of 4", executor=pool, workers=4)\n',
    ],
]


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_02_checks_accept_the_solution_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
