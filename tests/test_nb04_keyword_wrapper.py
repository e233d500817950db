"""04 · keywords through run_in_executor: real timeouts, real deadlines, and stream=True."""

import re

import papermill
import pytest

import helpers
from nbrun import (
    LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, errors_in, execute, number, printed, run_until_set_up,
    tagged, text_of,
)  # fmt: skip
from tools.notebooks import prepare

NAME = "04_keyword_wrapper.ipynb"
TIMEOUT = 0.5  # the notebook's default, which the small parameters keep


def slow_requests(n_requests: int) -> int:
    """How many of the timeout lesson's requests are slow: 0, 3, 6..."""
    return sum(1 for index in range(n_requests) if index % 3 == 0)


# Plausible wrong answers for each exercise, and what its check must say to each (it must say
# "Not yet"). Each kind of shortcut is here: a value typed in (the post's, the notebook's, the
# check's own), a global in place of the argument, a time too short and one too long, each
# failure the exercise names, a one-shot callable that only a second call shows, an answer that
# changes its argument, and an answer of the wrong type.
WRONG_REASONS = {
    1: [
        # issue 19: timeout=0.5 copied from the post, ignoring the argument
        ("def make_call(url, timeout, stream):\n"
         "    return functools.partial(requests.get, url, timeout=0.5, stream=stream)\n",
         "silent for 0.45 s answered 200"),
        ("def make_call(url, timeout, stream):\n"
         "    return functools.partial(requests.get, url, timeout=TIMEOUT, stream=stream)\n",
         "silent for 0.45 s answered 200"),
        ("def make_call(url, timeout, stream):  # the check's first timeout, typed in\n"
         "    return functools.partial(requests.get, url, timeout=0.2, stream=stream)\n",
         "(read timeout=0.2)"),
        ("def make_call(url, timeout, stream):  # the notebook's server, not the url given\n"
         "    return functools.partial(requests.get, server.url, timeout=timeout, stream=stream)\n",
         "the first call reached a server answering after 0.1 s, not the url given"),
        ("def make_call(url, timeout, stream):  # the check's first url typed in, the argument ignored\n"
         "    return functools.partial(requests.get, server.url_for(delay=0.35), timeout=timeout, stream=stream)\n",
         "a server answering after 0.35 s, not from the url given"),
        ("def make_call(url, timeout, stream):\n    return lambda: requests.get(url)\n", "answered 200"),
        ("def make_call(url, timeout, stream):  # gives up too early\n"
         "    return functools.partial(requests.get, url, timeout=timeout / 2, stream=stream)\n",
         "gave up after"),
        ("def make_call(url, timeout, stream):  # gives up too late\n"
         "    return functools.partial(requests.get, url, timeout=timeout * 2, stream=stream)\n",
         "silent for 0.9 s answered 200"),
        ("def make_call(url, timeout, stream):  # a connect timeout only\n"
         "    return functools.partial(requests.get, url, timeout=(timeout, None), stream=stream)\n",
         "answered 200"),
        ("def make_call(url, timeout, stream):\n    return functools.partial(requests.get, url, timeout=timeout)\n",
         "with stream=True it returned after"),
        ("def make_call(url, timeout, stream):\n"
         "    return functools.partial(requests.get, url, timeout=timeout, stream=True)\n",
         "with stream=False it returned after"),
        ("def make_call(timeout, stream):  # the signature of the post's wrapper, without url\n"
         "    return functools.partial(requests.get, url, timeout=timeout, stream=stream)\n", "raised TypeError"),
        ("def make_call(url, timeout, stream):\n    return requests.get(url, timeout=timeout, stream=stream)\n",
         "make_call itself waited"),
        ("def make_call(url, timeout, stream):  # the request made once, its response handed back\n"
         "    res = requests.get(url, timeout=timeout, stream=stream)\n"
         "    return lambda: res\n", "make_call itself waited"),
        ("def make_call(url, timeout, stream):  # the first call's response, kept for every call after it\n"
         "    kept = []\n\n"
         "    def call():\n"
         "        if not kept:\n"
         "            kept.append(requests.get(url, timeout=timeout, stream=stream))\n"
         "        return kept[0]\n\n"
         "    return call\n", "the second call returned 200 at once"),
        ("def make_call(url, timeout, stream):  # good for one call only\n"
         "    responses = (requests.get(url, timeout=timeout, stream=stream) for _ in range(1))\n"
         "    return lambda: next(responses)\n", "raised StopIteration"),
        ("make_call = None\n", "raised TypeError"),
    ],
    2: [
        ("def fixed_calls(delays):\n"
         "    return [lambda: requests.get(server.url_for(delay=delay), timeout=PATIENCE) for delay in delays]\n",
         "asked for [0.2, 0.2, 0.2]"),
        ("def fixed_calls(delays):\n"
         "    return [lambda: requests.get(server.url_for(delay=delays[i]), timeout=PATIENCE)\n"
         "            for i in range(len(delays))]\n", "asked for [0.2, 0.2, 0.2]"),
        ("def fixed_calls(delays):\n"
         "    return [lambda delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE) for delay in delays]\n",
         "raised TypeError"),
        ("def fixed_calls(delays):  # called at once: responses, not callables\n"
         "    return [(lambda d=delay: requests.get(server.url_for(delay=d), timeout=PATIENCE))() for delay in delays]\n",
         "a list of callables is expected"),
        ("def fixed_calls(delays):  # the notebook's global, not the argument\n"
         "    return [lambda delay=delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE) for delay in wanted]\n",
         "asked for [0.05, 0.1, 0.15]"),
        ("def fixed_calls(delays):  # the check's first delays, typed in\n"
         "    return [lambda d=d: requests.get(server.url_for(delay=d), timeout=PATIENCE) for d in [0.12, 0.03, 0.2]]\n",
         "not [0.07]"),
        ("def fixed_calls(delays):\n"
         "    return [lambda delay=delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE)\n"
         "            for delay in sorted(delays)]\n", "asked for [0.03, 0.12, 0.2]"),
        ("def fixed_calls(delays):  # sorts the caller's list in place\n"
         "    delays.sort()\n"
         "    return [lambda delay=delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE) for delay in delays]\n",
         "it changed its argument"),
        ("def fixed_calls(delays):  # a generator, good for one pass\n"
         "    return (lambda delay=delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE) for delay in delays)\n",
         "a list of callables is expected"),
        ("def fixed_calls(delays):  # each call takes the next delay: right once, then empty\n"
         "    left = list(delays)\n"
         "    return [lambda: requests.get(server.url_for(delay=left.pop(0)), timeout=PATIENCE) for _ in delays]\n",
         "raised IndexError"),
        ("def fixed_calls(delays):  # the callables empty the caller's list as they are called\n"
         "    return [lambda delay=delay: (delay in delays and delays.remove(delay),\n"
         "                                 requests.get(server.url_for(delay=delay), timeout=PATIENCE))[1]\n"
         "            for delay in delays]\n", "calling the callables changed delays to []"),
        ("fixed_calls = [lambda delay=delay: requests.get(server.url_for(delay=delay), timeout=PATIENCE)\n"
         "               for delay in wanted]\n", "raised TypeError"),
    ],
}
WRONG_ANSWERS = [[source for source, _ in WRONG_REASONS[exercise]] for exercise in sorted(WRONG_REASONS)]

# Right answers written differently from the solution: each must get "Correct".
RIGHT_ANSWERS = [
    [
        "def make_call(url, timeout, stream):  # the post's inner function\n"
        "    def requests_wrapper():\n"
        "        return requests.get(url, timeout=timeout, stream=stream)\n\n"
        "    return requests_wrapper\n",
        "def make_call(url, timeout, stream):\n    return lambda: requests.get(url, timeout=timeout, stream=stream)\n",
        "make_call = lambda url, timeout, stream: functools.partial(requests.get, url=url, timeout=timeout, stream=stream)\n",
        "def make_call(url, timeout, stream):  # a session of its own, and a (connect, read) timeout\n"
        "    session = requests.Session()\n"
        "    return functools.partial(session.get, url, timeout=(timeout, timeout), stream=stream)\n",
        "class make_call:\n"
        "    def __init__(self, url, timeout, stream):\n"
        "        self.url, self.timeout, self.stream = url, timeout, stream\n\n"
        "    def __call__(self):\n"
        "        return requests.get(self.url, timeout=self.timeout, stream=self.stream)\n",
    ],
    [
        "def fixed_calls(delays):\n"
        "    return [functools.partial(requests.get, server.url_for(delay=delay), timeout=PATIENCE) for delay in delays]\n",
        "def fixed_calls(delays):\n"
        "    def asking_for(delay):\n"
        "        return lambda: requests.get(server.url_for(delay=delay), timeout=PATIENCE)\n\n"
        "    return [asking_for(delay) for delay in delays]\n",
        "def fixed_calls(delays):\n"
        "    calls = []\n"
        "    for seconds in delays:\n"
        "        calls.append(lambda seconds=seconds: requests.get(server.url_for(delay=seconds), timeout=PATIENCE))\n"
        "    return calls\n",
        "def fixed_calls(delays):\n"
        "    return list(map(lambda d: lambda: requests.get(server.url_for(delay=d), timeout=PATIENCE), delays))\n",
    ],
]


def test_04_parameters_cell_is_read_by_papermill():
    found = papermill.inspect_notebook(str(NOTEBOOKS / NAME))
    assert set(found) == {"N_REQUESTS", "LATENCY", "URL", "TIMEOUT", "PATIENCE"}
    assert found["TIMEOUT"]["default"] == str(TIMEOUT)
    notebook = prepare(NOTEBOOKS / NAME, {"TIMEOUT": 1.5})
    (injected,) = tagged(notebook, "injected-parameters")
    assert "TIMEOUT = 1.5" in injected.source


@pytest.mark.parametrize("parameters, expected", [
    ({"TIMEOUT": 0.1, "LATENCY": 0.2}, "TIMEOUT must be more than LATENCY (0.2 s), or every request times out, got 0.1"),
    ({"TIMEOUT": "0.5"}, "TIMEOUT must be a number of seconds from 0.1 to 30, got '0.5' (a string: remove the quotes)"),
    ({"TIMEOUT": 31}, "TIMEOUT must be a number of seconds from 0.1 to 30, got 31"),
    # the lambdas' lessons ask for answers up to 0.2 s late: with less patience, Run All stopped there
    ({"PATIENCE": 0.25}, "PATIENCE must be more than 0.3 s, or a request of the lesson on lambdas or its exercise gives up"),
])
def test_04_a_timeout_it_cannot_use_stops_the_set_up_cell(tmp_path, parameters, expected):
    notebook, set_up, failed = run_until_set_up(NOTEBOOKS / NAME, tmp_path, parameters)
    assert failed == set_up
    (error,) = [output for output in notebook.cells[set_up].outputs if output.output_type == "error"]
    assert error.ename == "ParameterError" and len(error.traceback) == 1 and expected in error.traceback[0]


def test_04_timeouts_are_real_and_marked(executed):
    text = text_of(executed(NAME))
    slow = slow_requests(N_REQUESTS)
    assert f"{slow} of {N_REQUESTS} requests timed out" in text
    assert text.count("ReadTimeout: ") == slow
    assert "got: [0.15, 0.15, 0.15]" in text  # the late-binding trap
    assert "got: [0.05, 0.1, 0.15]" in text  # and its fix
    assert number(r"requests timed out; total ([\d.]+) s", text) >= TIMEOUT  # the slow ones gave up at TIMEOUT


def test_04_one_request_still_shows_a_timeout(tmp_path):
    """N_REQUESTS = 1: the one request of the timeout lesson is a slow one, and every lesson runs."""
    notebook = execute(NOTEBOOKS / NAME, tmp_path, parameters={"N_REQUESTS": 1})
    text = text_of(notebook)
    assert "1 of 1 requests timed out" in text
    assert [error.ename for error in errors_in(notebook)] == ["TypeError"]  # run_in_executor's refusal only


def test_04_gather_raises_the_first_error_and_the_others_run_on(executed):
    text = text_of(executed(NAME))
    raised = number(r"gather raised after ([\d.]+) s: HTTPError: 503", text)
    assert 0.9 * LATENCY <= raised < 2 * LATENCY + 0.5  # the 503 came after one latency, not after the slow three
    assert "right after: ServerStats(served=1, rejected=0, in_flight=3" in text
    assert "a moment later: ServerStats(served=4, rejected=0, in_flight=0" in text
    assert "the other 3 finished at" in text
    assert number(r"\(([\d.]+) s after gather raised\)", text) > LATENCY  # 2 x LATENCY, less the load


def test_04_requests_timeout_does_not_cap_a_trickle(executed):
    text = text_of(executed(NAME))
    took = number(rf"timeout={TIMEOUT}: status 200, 13 bytes after ([\d.]+) s", text)
    assert took > 5 * TIMEOUT  # 12 gaps of TIMEOUT / 2: six times the timeout
    assert number(r"\(([\d.]+) times the timeout\), no exception", text) == pytest.approx(took / TIMEOUT, abs=0.06)


def test_04_asyncio_deadline_stops_the_wait_and_the_thread_runs_on(executed):
    text = text_of(executed(NAME))
    assert 0.9 * TIMEOUT <= number(r"gave up waiting after ([\d.]+) s", text) < TIMEOUT + 0.4
    assert "right after: ServerStats(served=0, rejected=0, in_flight=1, peak_in_flight=1) | thread done: False" in text
    assert "a moment later: ServerStats(served=1, rejected=0, in_flight=0, peak_in_flight=1) | thread done" in text
    assert number(r"thread done after ([\d.]+) s", text) > 5 * TIMEOUT


def test_04_aiohttp_total_timeout_stops_the_request(executed):
    text = text_of(executed(NAME))
    assert 0.9 * TIMEOUT <= number(rf"ClientTimeout\(total={TIMEOUT}\): gave up after ([\d.]+) s", text) < TIMEOUT + 0.4
    later = re.search(r"a moment later \(([\d.]+) s\): ServerStats\(served=1, rejected=0, in_flight=0", text)
    assert later and float(later.group(1)) < 5 * TIMEOUT  # the server stopped long before the trickle's end


def test_04_stream_returns_at_the_headers(executed):
    text = text_of(executed(NAME))
    headers = number(r"stream=True:  returned after ([\d.]+) s", text)
    assert 0.9 * LATENCY <= headers < LATENCY + 0.2
    assert "body of 50,000,000 bytes read by" in text


def test_04_prose_claims_nothing_the_post_does_not_show(executed):
    prose = "\n".join(cell.source for cell in executed(NAME).cells if cell.cell_type == "markdown")
    assert "nothing waits longer than the timeout" not in prose
    assert "own `timeout=` stops the request" not in prose
    assert "shows no output for that version" in prose
    assert "over 5 s is rounded" not in prose and "a `total` of 5 s or more" in prose  # aiohttp ceils at >= 5
    assert "debug and error messages show a partial" not in prose  # run_in_executor's function is never shown
    assert "*between*" not in prose  # no emphasis added inside requests' own words


def test_04_aiohttp_rounds_a_total_of_5_s_or_more_up_to_the_loops_next_second():
    """What 04 says of ClientTimeout's ceil_threshold, on the installed aiohttp: the deadline of a
    total at or above the threshold (5 s by default) is rounded up to a whole second of loop.time()."""
    import asyncio
    import math

    import aiohttp
    from aiohttp.helpers import TimeoutHandle

    assert aiohttp.ClientTimeout().ceil_threshold == 5

    async def deadline(total: float) -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        before = loop.time()  # read before the handle reads it: its deadline is at least before + total
        handle = TimeoutHandle(loop, total, ceil_threshold=5).start()
        handle.cancel()
        return before, handle.when()

    for total in (5, 5.2, 30):
        now, when = asyncio.run(deadline(total))
        assert when == math.ceil(when) and now + total <= when < now + total + 1.05  # up to a second late
    now, when = asyncio.run(deadline(4.9))
    assert when == pytest.approx(now + 4.9, abs=0.05)  # under the threshold: not rounded


@pytest.mark.parametrize("exercise", sorted(WRONG_REASONS))
def test_04_checks_reject_wrong_answers_and_accept_right_ones(verdicts, exercise):
    verdict = verdicts[exercise - 1]
    assert_judged_rightly(verdict)
    assert len(verdict["right"]) == len(RIGHT_ANSWERS[exercise - 1]) >= 2
    said = dict(verdict["wrong"])
    wrong = {source: said[source] for source, reason in WRONG_REASONS[exercise] if reason not in said[source]}
    assert wrong == {}


def test_04_timeout_lessons_run_against_a_shared_server(tmp_path, monkeypatch):
    """With a room's server (another latency), every lesson and check still works, with our latency."""
    with helpers.start_server(latency=0.05) as room:
        monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", room.url)
        notebook = execute(NOTEBOOKS / NAME, tmp_path, solved=True)
    text = text_of(notebook)
    assert "requests go to " + room.url in text
    assert "right after: ServerStats(served=1, rejected=0, in_flight=3" in text
    assert "thread done: False" in text
    assert "ClientTimeout(total=" in text
    for cell in tagged(notebook, "check"):
        assert printed(cell).startswith("Correct"), cell.source


def test_04_a_real_site_gets_the_posts_code_and_the_slow_lessons_stay_local(tmp_path, fresh_server):
    """URL set on purpose (here the test's own server, standing in for a real site): the post's
    code and the three spellings go there; the lessons that need slow answers, and the checks,
    use a latency server of the notebook's own, and say so."""
    notebook = execute(NOTEBOOKS / NAME, tmp_path, solved=True, parameters={"URL": fresh_server.url})
    text = text_of(notebook)
    assert re.search(rf"requests go to {re.escape(fresh_server.url)} \| slow answers come from http://127\.0\.0\.1:\d+",
                     text)
    assert fresh_server.stats().served == N_REQUESTS + 3  # the post's run and the three spellings
    assert [error.ename for error in errors_in(notebook)] == ["TypeError"]
    assert f"{slow_requests(N_REQUESTS)} of {N_REQUESTS} requests timed out" in text
    for cell in tagged(notebook, "check"):
        assert printed(cell).startswith("Correct"), cell.source
