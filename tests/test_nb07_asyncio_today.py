"""07 · asyncio today: task groups against gather, cancellation, timeouts, debug mode, a polite crawler."""

import re
import sys

import pytest

from nbrun import LATENCY, N_REQUESTS, assert_judged_rightly, number, text_of

NAME = "07_asyncio_today.ipynb"
# The notebook's own defaults for the crawler (the tests change only N_REQUESTS and LATENCY).
PAGES, CONCURRENCY, ATTEMPTS, TIMEOUT, DEADLINE = 40, 5, 4, 1.0, 10.0
ROUNDS = 3  # requests each sibling sends in the structured-concurrency demos
# flaky_page's plan at 40 pages: 7 and 27 broken; 1, 6, ..., 36 busy at first; 3, 13, 23, 33 hung at first.
BROKEN, BUSY, HUNG = 2, 8, 4
FINE = PAGES - BROKEN - BUSY - HUNG
HAS_TASKGROUP = sys.version_info >= (3, 11)

# Plausible wrong answers for each exercise, in the order of the exercises: each must get "Not yet".
WRONG_ANSWERS = [
    [
        "async def careful_get(session, target, log):\n"  # swallows the cancellation
        "    try:\n        return await get_status(session, target)\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n",
        "async def careful_get(session, target, log):\n"  # CancelledError is not an Exception
        "    try:\n        return await get_status(session, target)\n"
        "    except Exception:\n        log.append('cancelled')\n        raise\n",
        "async def careful_get(session, target, log):\n"  # logs every request, cancelled or not
        "    try:\n        return await get_status(session, target)\n"
        "    finally:\n        log.append('cancelled')\n",
        "async def careful_get(session, target, log):\n"  # no clean-up at all
        "    return await get_status(session, target)\n",
    ],
    [
        "def stop_when(results):\n    return sum(not page.ok for page in results.values()) > 5\n",
        "def stop_when(results):\n    return len(results) >= 5  # pages, not failed pages\n",
        "def stop_when(results):\n    return sum(page.ok for page in results.values()) >= 5\n",
        "stop_when = 5\n",
    ],
    [
        "def open_session():\n    return aiohttp.ClientSession()\n",
        "def open_session():\n    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=3))\n",
        "def open_session():\n    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=1))\n",
        "open_session = asyncio.Semaphore(2)\n",
    ],
]


def table_row(text: str, outcome: str) -> tuple[int, int]:
    match = re.search(rf"^{outcome} +(\d+) +(\d+)$", text, re.MULTILINE)
    assert match, f"no row {outcome!r} in the results table"
    return int(match.group(1)), int(match.group(2))


def test_07_an_async_generator_streams_a_trickled_body_and_a_timeout_cuts_it(executed):
    text = text_of(executed(NAME))
    times = [float(t) for t in re.findall(r"^ *([\d.]+) s: b'[ok]'$", text, re.MULTILINE)]
    assert len(times) == 8
    assert times[0] >= LATENCY * 0.95 and times[-1] >= LATENCY * (1 + 7 / 2) * 0.95
    cut = number(r"TimeoutError after ([\d.]+) s", text)
    assert 1.75 * LATENCY * 0.95 <= cut < 1.75 * LATENCY + 0.25
    got = int(number(r"with (\d) of 8 bytes", text))
    assert 1 <= got < 8


@pytest.mark.skipif(not HAS_TASKGROUP, reason="TaskGroup and except* need Python 3.11+")
def test_07_a_task_group_cancels_every_sibling_of_the_failure(executed):
    text = text_of(executed(NAME))
    assert "ExceptionGroup('unhandled errors in a TaskGroup', [ClientResponseError(503, 'Service Unavailable')])" in text
    assert number(r"after ([\d.]+) s: ExceptionGroup", text) < LATENCY + 0.25  # broken fails at LATENCY / 3
    assert f"siblings cancelled: {N_REQUESTS - 1} of {N_REQUESTS - 1}" in text
    received = number(r"siblings cancelled: .*?the server received (\d+) requests", text)
    assert N_REQUESTS - 3 <= received <= N_REQUESTS  # nothing after the first request of each


def test_07_gather_leaves_its_siblings_running_as_orphans(executed):
    text = text_of(executed(NAME))
    assert number(r"after ([\d.]+) s: ClientResponseError\(503", text) < LATENCY + 0.25
    assert f"ran on to the end after the error: {N_REQUESTS - 1} of {N_REQUESTS - 1}" in text
    assert f"the server received {(N_REQUESTS - 1) * ROUNDS + 1} requests ({N_REQUESTS - 1} x {ROUNDS} + 1)" in text


def test_07_the_310_path_cancels_the_siblings_by_hand(executed):
    text = text_of(executed(NAME))
    assert f"failed: ClientResponseError(503, 'Service Unavailable'); siblings cancelled: {N_REQUESTS - 1} of" in text
    received = number(r"(?m)siblings cancelled: \d+ of \d+; the server received (\d+) requests$", text)
    assert N_REQUESTS - 3 <= received <= N_REQUESTS


def test_07_on_310_the_taskgroup_cell_says_what_310_lacks(executed):
    text = text_of(executed(NAME))
    skipped = "Skipped on Python 3.10: asyncio.TaskGroup and except* (3.10 has neither"
    assert (skipped in text) is (not HAS_TASKGROUP)


def test_07_a_swallowed_cancellation_hides_the_timeout_and_shield_protects_the_save(executed):
    text = text_of(executed(NAME))
    assert "no TimeoutError:" in text and "with 'gave up' instead of a status" in text
    assert number(r"no TimeoutError: after ([\d.]+) s", text) < LATENCY  # the request was cut at LATENCY / 3
    assert "is the save cancelled? False" in text and "the save went on and answered 200" in text


def test_07_a_forgotten_task_is_collected_and_a_kept_one_is_not(executed):
    notebook = executed(NAME)
    text = text_of(notebook)
    assert "the forgotten task still exists: False" in text
    assert "the kept task still exists: True; tasks kept: 1" in text and "after its event, tasks kept: 0" in text
    stderr = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.outputs if output.get("name") == "stderr")
    assert "Task was destroyed but it is pending!" in stderr


def test_07_debug_mode_names_the_blocking_coroutine_only(executed):
    text = text_of(executed(NAME))
    assert re.search(r"Executing <Task .*coro=<blocking_get\(\) \.\.\. took [\d.]+ seconds", text)
    assert number(r"naming blocking_get: (\d+)", text) >= 1
    assert number(r"threaded_get: (\d+)", text) == 0


def test_07_the_crawler_gets_every_page_it_can_with_retries_in_time(executed):
    text = text_of(executed(NAME))
    assert f"of {PAGES} pages: {BROKEN} broken, {BUSY} busy at first, {HUNG} hangs at first, {FINE} fine" in text
    assert f"{PAGES} of {PAGES} pages in" in text and "ended by: all pages done" in text
    assert number(r"at most (\d+) tries at once", text) <= CONCURRENCY
    assert table_row(text, "ok at the first try") == (FINE, FINE)
    assert table_row(text, "ok after retries") == (BUSY + HUNG, 2 * (BUSY + HUNG))
    assert table_row(text, "failed") == (BROKEN, BROKEN * ATTEMPTS)
    retries = BUSY + HUNG + BROKEN * (ATTEMPTS - 1)
    assert f"retries: {retries};" in text
    total = number(r"retries: \d+; total ([\d.]+) s against a deadline", text)
    # At least the fine pages' latencies spread over the workers, and the hung tries' timeouts.
    assert max(PAGES * LATENCY / CONCURRENCY, TIMEOUT) * 0.9 <= total < DEADLINE


def test_07_the_deadline_stops_the_crawl_and_says_what_was_not_reached(executed):
    text = text_of(executed(NAME))
    deadline = number(r"deadline ([\d.]+) s: stopped after", text)
    stopped = number(r"stopped after ([\d.]+) s, ended by: the deadline", text)
    assert deadline * 0.95 <= stopped < deadline + 0.5
    done = int(number(rf"(\d+) of {PAGES} pages done", text))
    assert 0 < done < PAGES
    rows = text.split("ended by: the deadline")[1]
    assert table_row(rows, "not reached") == (PAGES - done, 0)


def test_07_shows_a_live_progress_bar(executed):
    widgets = [output for cell in executed(NAME).cells if cell.cell_type == "code" for output in cell.outputs
               if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert len(widgets) == 1 and "IntProgress" in widgets[0].data["text/plain"]


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_07_checks_accept_the_solution_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
