"""04 · keywords through run_in_executor: real timeouts, real deadlines, and stream=True."""

import re

import papermill
import pytest

import helpers
from nbrun import LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, execute, number, printed, tagged, text_of
from tools.notebooks import prepare

NAME = "04_keyword_wrapper.ipynb"
TIMEOUT = 0.5  # the notebook's default, which the small parameters keep

# Plausible wrong answers for each exercise, in order; each check must answer "Not yet".
WRONG_REASONS = {  # exercise number: (a wrong answer, what its check must say), each "Not yet"
    1: [
        ("def make_call(url, timeout, stream):\n    return lambda: requests.get(url)\n", "did not time out"),
        ("def make_call(url, timeout, stream):\n    return functools.partial(requests.get, url, timeout=timeout)\n",
         "with stream=True"),
        ("def make_call(url, timeout, stream):\n    return functools.partial(requests.get, url, stream=stream)\n",
         "did not time out"),
        ("def make_call(url, timeout, stream):\n"
         "    return functools.partial(requests.get, url, timeout=timeout, stream=True)\n", "with stream=False"),
        ("def make_call(timeout, stream):  # the signature of the post's wrapper, without url\n"
         "    return functools.partial(requests.get, url, timeout=timeout, stream=stream)\n", "raised TypeError"),
        ("def make_call(url, timeout, stream):\n    return requests.get(url, timeout=timeout, stream=stream)\n",
         "not a callable"),
    ],
    2: [
        ("fixed_calls = [lambda: requests.get(delay_url(delay), timeout=PATIENCE) for delay in wanted]\n",
         "asked for [0.15, 0.15, 0.15]"),
        ("fixed_calls = [lambda: requests.get(delay_url(wanted[i]), timeout=PATIENCE) for i in range(3)]\n",
         "asked for [0.15, 0.15, 0.15]"),
        ("fixed_calls = [lambda delay: requests.get(delay_url(delay), timeout=PATIENCE) for delay in wanted]\n",
         "raised TypeError"),
        ("fixed_calls = [(lambda: requests.get(delay_url(delay), timeout=PATIENCE))() for delay in wanted]\n",
         "raised TypeError"),
    ],
}
WRONG_ANSWERS = [[source for source, _ in WRONG_REASONS[exercise]] for exercise in sorted(WRONG_REASONS)]


def test_04_parameters_cell_is_read_by_papermill():
    found = papermill.inspect_notebook(str(NOTEBOOKS / NAME))
    assert set(found) == {"N_REQUESTS", "LATENCY", "URL", "TIMEOUT", "PATIENCE"}
    assert found["TIMEOUT"]["default"] == str(TIMEOUT)
    notebook = prepare(NOTEBOOKS / NAME, {"TIMEOUT": 1.5})
    (injected,) = tagged(notebook, "injected-parameters")
    assert "TIMEOUT = 1.5" in injected.source


def test_04_timeouts_are_real_and_marked(executed):
    text = text_of(executed(NAME))
    slow = sum(1 for i in range(N_REQUESTS) if i % 3 == 2)
    assert f"{slow} of {N_REQUESTS} requests timed out" in text
    assert text.count("ReadTimeout: ") == slow
    assert "got: ['0.150000', '0.150000', '0.150000']" in text  # the late-binding trap
    assert "got: ['0.050000', '0.100000', '0.150000']" in text  # and its fix


def test_04_gather_raises_the_first_error_and_the_others_run_on(executed):
    text = text_of(executed(NAME))
    raised = number(r"gather raised after ([\d.]+) s: HTTPError: 503", text)
    assert raised < 2 * LATENCY + 0.5  # the 503 came after one latency, not after the slow three
    assert "right after: ServerStats(served=1, rejected=0, in_flight=3" in text
    assert "a moment later: ServerStats(served=4, rejected=0, in_flight=0" in text
    assert "the other 3 finished at" in text
    assert number(r"\(([\d.]+) s after gather raised\)", text) > LATENCY  # 2 x LATENCY, less the load


def test_04_requests_timeout_does_not_cap_a_trickle(executed):
    text = text_of(executed(NAME))
    took = number(rf"timeout={TIMEOUT}: status 200, 13 bytes after ([\d.]+) s, no exception", text)
    assert took > 5 * TIMEOUT  # 12 gaps of TIMEOUT / 2: six times the timeout


def test_04_asyncio_deadline_stops_the_wait_and_the_thread_runs_on(executed):
    text = text_of(executed(NAME))
    assert number(r"gave up waiting after ([\d.]+) s", text) < TIMEOUT + 0.4
    assert "right after: ServerStats(served=0, rejected=0, in_flight=1, peak_in_flight=1) | thread done: False" in text
    assert "a moment later: ServerStats(served=1, rejected=0, in_flight=0, peak_in_flight=1) | thread done" in text
    assert number(r"thread done after ([\d.]+) s", text) > 5 * TIMEOUT


def test_04_aiohttp_total_timeout_stops_the_request(executed):
    text = text_of(executed(NAME))
    assert number(rf"ClientTimeout\(total={TIMEOUT}\): gave up after ([\d.]+) s", text) < TIMEOUT + 0.4
    later = re.search(r"a moment later \(([\d.]+) s\): ServerStats\(served=1, rejected=0, in_flight=0", text)
    assert later and float(later.group(1)) < 5 * TIMEOUT  # the server stopped long before the trickle's end


def test_04_stream_returns_at_the_headers(executed):
    text = text_of(executed(NAME))
    headers = number(r"stream=True:  returned after ([\d.]+) s", text)
    assert headers < LATENCY + 0.2


def test_04_prose_claims_nothing_the_post_does_not_show(executed):
    prose = "\n".join(cell.source for cell in executed(NAME).cells if cell.cell_type == "markdown")
    assert "nothing waits longer than the timeout" not in prose
    assert "own `timeout=` stops the request" not in prose
    assert "shows no output for that version" in prose


@pytest.mark.parametrize("exercise", sorted(WRONG_REASONS))
def test_04_checks_reject_wrong_answers(verdicts, exercise):
    verdict = verdicts[exercise - 1]
    assert_judged_rightly(verdict)
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
    assert "Skipped" not in text and "needs the latency server" not in text
    assert "right after: ServerStats(served=1, rejected=0, in_flight=3" in text
    assert "thread done: False" in text
    assert "ClientTimeout(total=" in text
    for cell in tagged(notebook, "check"):
        assert printed(cell).startswith("Correct"), cell.source


def test_04_a_real_site_skips_the_slow_lessons_and_says_why(tmp_path, server):
    """URL set on purpose (here the test's own server, standing in for a real site)."""
    text = text_of(execute(NOTEBOOKS / NAME, tmp_path, parameters={"URL": server.url}))
    reason = "needs the latency server (URL = None): a real site will not answer slowly on request"
    assert text.count("Skipped: this lesson " + reason) == 4
    assert text.count("This check " + reason) == 2
