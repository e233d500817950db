"""07 · asyncio today: task groups against gather, ending a group early, cancellation, timeouts,
debug mode, a polite crawler and workers that end themselves."""

import re
import sys

import pytest

from nbrun import (LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, number, printed, run_until_set_up,
                   text_of)
from tools.notebooks import client_for, prepare, small_parameters

NAME = "07_asyncio_today.ipynb"
# The notebook's own defaults for the crawler (the tests change only N_REQUESTS and LATENCY).
PAGES, CONCURRENCY, ATTEMPTS, TIMEOUT, DEADLINE = 40, 5, 4, 1.0, 10.0
ROUNDS = 3  # requests each sibling sends in the structured-concurrency demos
# flaky_page's plan at 40 pages: 7 and 27 broken; 1, 6, ..., 36 busy at first; 3, 13, 23, 33 hung at first.
BROKEN, BUSY, HUNG = 2, 8, 4
FINE = PAGES - BROKEN - BUSY - HUNG
MIRRORS = [round(LATENCY * (i + 1) / 2, 3) for i in range(4)]
HAS_TASKGROUP = sys.version_info >= (3, 11)
HAS_QUEUE_SHUTDOWN = sys.version_info >= (3, 13)  # measured: 3.13.0, 3.14.10 and 3.15.2 have it; 3.12.1 not
HAS_GROUP_CANCEL = sys.version_info >= (3, 15)    # measured: True on 3.15.2, False on 3.14.10
VERSION = sys.version.split()[0]

# Plausible wrong answers for each exercise, in the order of the exercises: each must get "Not yet".
RAISES_FOR_STATUS = ("async def careful_get(session, target, log):\n"
                     "    try:\n        return await get_status(session, target, raise_for_status=True)\n"
                     "    except asyncio.CancelledError:\n        log.append('cancelled')\n        raise\n")
WRONG_ANSWERS = [
    [  # careful_get
        "async def careful_get(session, target, log):\n"  # issue 19: any failure logged as a cancellation
        "    try:\n        return await get_status(session, target)\n"
        "    except BaseException:\n        log.append('cancelled')\n        raise\n",
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
        "async def careful_get(session, target, log):\n"  # a connection error is not a cancellation
        "    try:\n        return await get_status(session, target)\n"
        "    except (asyncio.CancelledError, aiohttp.ClientError):\n        log.append('cancelled')\n        raise\n",
        "async def careful_get(session, target, log):\n"  # turns the cancellation into another error
        "    try:\n        return await get_status(session, target)\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n        raise asyncio.TimeoutError\n",
        "async def careful_get(session, target, log):\n"  # the status as a string
        "    try:\n        return str(await get_status(session, target))\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n        raise\n",
        "async def careful_get(session, target, log):\n"  # a new list, not the caller's log
        "    try:\n        return await get_status(session, target)\n"
        "    except asyncio.CancelledError:\n        log = log + ['cancelled']\n        raise\n",
        "async def careful_get(session, target, log):\n"  # finishes the request before it lets the cancellation go
        "    request = asyncio.ensure_future(get_status(session, target))\n"
        "    try:\n        return await asyncio.shield(request)\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n        await request\n        raise\n",
        "careful_get = get_status\n",  # the wrong kind of answer: no log parameter
        RAISES_FOR_STATUS,  # a 404 raised instead of returned
        "async def careful_get(session, target, log):\n"  # the target ignored
        "    try:\n        return await get_status(session, server.url)\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n        raise\n",
    ],
    [  # stop_when
        "def stop_when(results):\n"  # issue 19: counts 503s, not failed pages
        "    return sum(page.status == 503 for page in results.values()) >= 5\n",
        "def stop_when(results):\n    return sum(not page.ok for page in results.values()) > 5\n",
        "def stop_when(results):\n    return len(results) >= 5  # pages, not failed pages\n",
        "def stop_when(results):\n    return sum(page.ok for page in results.values()) >= 5\n",
        "def stop_when(results):\n"  # a page retried and then answered is not a failed page
        "    return sum(bool(page.problems) for page in results.values()) >= 5\n",
        "def stop_when(results):\n"  # timeouts and refused connections have no status, and failed too
        "    return sum(page.status is not None and page.status != 200 for page in results.values()) >= 5\n",
        "failed_pages = set()\n\n\ndef stop_when(results):\n"  # state kept from one crawl to the next
        "    failed_pages.update(number for number, page in results.items() if not page.ok)\n"
        "    return len(failed_pages) >= 5\n",
        "stop_when = 5\n",  # the wrong type
        "def stop_when(results):\n"  # the crawl's ATTEMPTS, where a 404 fails at the first try
        "    return sum(not page.ok and page.tries >= ATTEMPTS for page in results.values()) >= 5\n",
        "def stop_when(results):\n"  # a 404 or a 500 has failed too
        "    return sum(page.status in (503, None) for page in results.values()) >= 5\n",
    ],
    [  # open_session
        "shared = aiohttp.TCPConnector(limit_per_host=2)\n\n\n"  # issue 19: one connector, closed with the first session
        "def open_session():\n    return aiohttp.ClientSession(connector=shared)\n",
        "def open_session():\n    return aiohttp.ClientSession()\n",
        "def open_session():\n    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=3))\n",
        "def open_session():\n    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=1))\n",
        "kept = []\n\n\ndef open_session():\n"  # one session made once: closed after the first crawl
        "    if not kept:\n        kept.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2)))\n"
        "    return kept[0]\n",
        "def open_session():\n    return aiohttp.TCPConnector(limit_per_host=2)\n",  # a connector, not a session
        "open_session = asyncio.Semaphore(2)\n",
        "async def open_session():\n"  # returns a coroutine: the check must not warn of it never awaited
        "    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=2))\n",
        "import functools\n\nopen_session = functools.partial(\n"  # one connector for every session
        "    aiohttp.ClientSession, connector=aiohttp.TCPConnector(limit_per_host=2))\n",
    ],
]
# Right answers written differently from the solution: each must get "Correct".
RIGHT_ANSWERS = [
    [
        "async def careful_get(session, target, log):\n"
        "    try:\n        return await get_status(session, target)\n"
        "    except asyncio.CancelledError as cancelled:\n        log.append('cancelled')\n        raise cancelled\n",
        "async def careful_get(session, target, log):\n"
        "    try:\n        status = await get_status(session, target)\n"
        "    except BaseException as error:\n"
        "        if isinstance(error, asyncio.CancelledError):\n            log += ['cancelled']\n"
        "        raise\n    return status\n",
        "async def careful_get(session, target, log):\n"  # a task of its own, cancelled with the waiter
        "    request = asyncio.ensure_future(get_status(session, target))\n"
        "    try:\n        return await request\n"
        "    except asyncio.CancelledError:\n        log.append('cancelled')\n        raise\n",
        "async def careful_get(session, target, log):\n"  # a flag and finally
        "    finished = False\n    try:\n        status = await get_status(session, target)\n"
        "        finished = True\n        return status\n"
        "    except Exception:\n        finished = True\n        raise\n"
        "    finally:\n        if not finished:\n            log.append('cancelled')\n",
    ],
    [
        "def stop_when(results):\n    return len(results) - sum(page.ok for page in results.values()) >= 5\n",
        "def stop_when(results):\n    return len([page for page in results.values() if page.status != 200]) >= 5\n",
        "def stop_when(results):\n    failed = 0\n    for page in results.values():\n"
        "        if not page.ok:\n            failed += 1\n    return failed >= 5\n",
        "def stop_when(results):\n"  # called after each page, so the count passes through 5
        "    return len([page for page in results.values() if not page.ok]) == 5\n",
    ],
    [
        "open_session = lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2))\n",
        "def open_session():\n    connector = aiohttp.TCPConnector(limit_per_host=2, limit=100)\n"
        "    return aiohttp.ClientSession(connector=connector, timeout=SILENCE)\n",
    ],
]


def table_row(text: str, outcome: str) -> tuple[int, int]:
    match = re.search(rf"^{outcome} +(\d+) +(\d+)$", text, re.MULTILINE)
    assert match, f"no row {outcome!r} in the results table"
    return int(match.group(1)), int(match.group(2))


def ended_row(text: str, name: str) -> tuple[int, int, int, float, str]:
    """One row of the Queue.shutdown table: pages done, cut off, dropped, seconds, how the workers ended."""
    match = re.search(rf"^{name} +(\d+) +(\d+) +(\d+) +([\d.]+)   (.+)$", text, re.MULTILINE)
    assert match, f"no row {name!r} in the table of ended workers"
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), float(match.group(4)), match.group(5)


def test_07_an_async_generator_streams_a_trickled_body_and_a_timeout_cuts_it(executed):
    text = text_of(executed(NAME))
    times = [float(t) for t in re.findall(r"^ *([\d.]+) s: b'[ok]+'$", text, re.MULTILINE)]
    assert 1 <= len(times) <= 8 and f"{len(times)} pieces: the first after" in text
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
    received = number(r"siblings cancelled: .*?the server received (\d+) requests for", text)
    assert N_REQUESTS - 3 <= received <= N_REQUESTS  # nothing after the first request of each
    assert "at most one each: True" in text


def test_07_gather_leaves_its_siblings_running_as_orphans(executed):
    text = text_of(executed(NAME))
    assert number(r"after ([\d.]+) s: ClientResponseError\(503", text) < LATENCY + 0.25
    assert f"ran on to the end after the error: {N_REQUESTS - 1} of {N_REQUESTS - 1}" in text
    total = (N_REQUESTS - 1) * ROUNDS + 1
    assert f"the server received {total} requests, all of theirs ({N_REQUESTS - 1} x {ROUNDS} + 1): True" in text


def test_07_the_310_path_cancels_the_siblings_by_hand(executed):
    text = text_of(executed(NAME))
    assert f"failed: ClientResponseError(503, 'Service Unavailable'); siblings cancelled: {N_REQUESTS - 1} of" in text
    received = number(r"(?m)siblings cancelled: \d+ of \d+; the server received (\d+) requests$", text)
    assert N_REQUESTS - 3 <= received <= N_REQUESTS


def test_07_on_310_the_taskgroup_cells_say_what_310_lacks(executed):
    text = text_of(executed(NAME))
    for skipped in ("Skipped on Python 3.10: asyncio.TaskGroup and except* (3.10 has neither",
                    "Skipped on Python 3.10: ending a TaskGroup with an exception of your own",
                    "Skipped on Python 3.10: TaskGroup.cancel(), new in 3.15"):
        assert (skipped in text) is (not HAS_TASKGROUP)


@pytest.mark.skipif(not HAS_TASKGROUP, reason="TaskGroup and except* need Python 3.11+")
def test_07_a_group_ends_at_the_first_answer_by_an_exception_and_on_315_by_cancel(executed):
    text = text_of(executed(NAME))
    way = r"an exception of your own \(3\.11\+\): the async with raised ExceptionGroup, caught by except\*"
    seconds = number(way + r", after ([\d.]+) s", text)
    assert MIRRORS[0] * 0.95 <= seconds < MIRRORS[0] + 0.25
    assert 1 <= number(way + r".*mirrors cancelled: (\d) of 4", text) <= 3  # the slowest, at least
    lacking = f"Python {VERSION}: asyncio.TaskGroup has no cancel() (new in 3.15)"
    assert (lacking in text) is (not HAS_GROUP_CANCEL)
    if HAS_GROUP_CANCEL:
        seconds = number(r"tg\.cancel\(\) \(3\.15\+\): the async with ended without an error after ([\d.]+) s", text)
        assert MIRRORS[0] * 0.95 <= seconds < MIRRORS[0] + 0.25
        assert f"{MIRRORS[0]} s answered 200" in text
        assert 1 <= number(r"tg\.cancel\(\) \(3\.15\+\): .*mirrors cancelled: (\d) of 4", text) <= 3


def test_07_a_swallowed_cancellation_hides_the_timeout_and_shield_protects_the_save(executed):
    text = text_of(executed(NAME))
    assert "no TimeoutError:" in text and "with 'gave up' instead of a status" in text
    assert number(r"no TimeoutError: after ([\d.]+) s", text) < LATENCY  # the request was cut at LATENCY / 3
    waited = number(r"the waiter timed out after ([\d.]+) s", text)
    assert LATENCY / 3 - 0.01 <= waited < LATENCY  # printed to two decimals
    assert "is the save cancelled? False" in text
    assert number(r"the save went on and answered 200 after ([\d.]+) s", text) >= LATENCY * 0.95


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
    assert "only the blocking one named: True" in text


def test_07_the_crawler_gets_every_page_it_can_with_retries_in_time(executed):
    text = text_of(executed(NAME))
    assert f"of {PAGES} pages: {BROKEN} broken, {BUSY} busy at first, {HUNG} hangs at first, {FINE} fine" in text
    assert f"{PAGES} of {PAGES} pages in" in text and "ended by: all pages done" in text
    assert "the fine pages slower than TIMEOUT time out" not in text  # TIMEOUT 1.0 is above 1.5 x LATENCY 0.1
    tries_at_once = number(r"at most (\d+) tries at once", text)
    assert tries_at_once <= CONCURRENCY
    # The server still answers a hung try the crawler gave up on (TIMEOUT + 1 s, cut off at TIMEOUT).
    assert number(r"held up to (\d+) requests at once", text) >= tries_at_once
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


def test_07_workers_are_cancelled_everywhere_and_end_themselves_after_a_queue_shutdown_on_313(executed):
    text = text_of(executed(NAME))
    done, cut, dropped, seconds, how = ended_row(text, "cancel_when_done")
    assert (done, cut, dropped, how) == (12, 0, 0, "cancelled") and seconds >= 4 * LATENCY * 0.95
    done, cut, dropped, seconds, how = ended_row(text, "cancel_after")
    assert cut > 0 and dropped > 0 and done + cut + dropped == 12 and how == "cancelled"
    assert 1.5 * LATENCY * 0.95 <= seconds < 1.5 * LATENCY + 0.5
    lacking = f"Python {VERSION}: asyncio.Queue has no shutdown() (new in 3.13)"
    assert (lacking in text) is (not HAS_QUEUE_SHUTDOWN)
    if HAS_QUEUE_SHUTDOWN:
        done, cut, dropped, seconds, how = ended_row(text, "shut_down_when_done")
        assert (done, cut, dropped, how) == (12, 0, 0, "returned") and seconds >= 4 * LATENCY * 0.95
        done, cut, dropped, seconds, how = ended_row(text, "shut_down_after")
        assert cut == 0 and dropped > 0 and done + dropped == 12 and how == "returned"
        assert seconds >= 1.5 * LATENCY * 0.95  # the pages in hand at the stop finished after it


def test_07_shows_a_live_progress_bar(executed):
    widgets = [output for cell in executed(NAME).cells if cell.cell_type == "code" for output in cell.outputs
               if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert len(widgets) == 1 and "IntProgress" in widgets[0].data["text/plain"]


@pytest.mark.parametrize("parameters, expected", [
    ({"URL": "http://127.0.0.1:9/"}, "URL must be None (the local server): 07 asks it for every failure it shows"),
    ({"N_REQUESTS": 1}, "N_REQUESTS must be a whole number from 2 to 1,000, got 1."),  # one task has no siblings
])
def test_07_the_set_up_cell_stops_on_a_real_url_and_on_a_single_task(tmp_path, parameters, expected):
    notebook, set_up, failed = run_until_set_up(NOTEBOOKS / NAME, tmp_path, parameters)
    assert failed == set_up
    (error,) = [output for output in notebook.cells[set_up].outputs if output.output_type == "error"]
    assert error.ename == "ParameterError" and len(error.traceback) == 1
    assert expected in error.traceback[0]


def run_set_up_and(tmp_path, parameters: dict, *starts: str) -> str:
    """Run the set-up cells (to the one that makes SILENCE), then only the code cells whose source
    starts with one of ``starts``; return what those printed."""
    notebook = prepare(NOTEBOOKS / NAME, {**small_parameters(NAME), **parameters})
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    last_set_up = next(index for index, cell in code if "SILENCE = silence(PATIENCE)" in cell.source)
    chosen = [(index, cell) for index, cell in code if index <= last_set_up or cell.source.startswith(starts)]
    client = client_for(notebook, tmp_path, timeout=120)
    with client.setup_kernel():
        for index, cell in chosen:
            client.execute_cell(cell, index)
    return "\n".join(printed(cell) for index, cell in chosen if index > last_set_up)


def test_07_a_timeout_below_the_slowest_fine_page_is_said_with_the_plan(tmp_path):
    text = run_set_up_and(tmp_path, {"LATENCY": 0.3, "TIMEOUT": 0.2}, "def flaky_page", "plan = ")
    assert f"of {PAGES} pages: {BROKEN} broken" in text
    assert "TIMEOUT = 0.2 s is below 0.45 s, the slowest a fine page may take" in text


def test_07_exercise_1_says_that_a_raised_404_was_raised(verdicts):
    (said,) = [said for source, said in verdicts[0]["wrong"] if source == RAISES_FOR_STATUS]
    assert "raised ClientResponseError; expected it to return 404, what get_status(session, target) returned" in said


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_07_checks_accept_right_answers_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
