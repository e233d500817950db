"""01 · the sync loop: about N x latency, a live chart that redraws, checks that catch wrong answers."""

import re
from pathlib import Path

import nbformat
import pytest

from nbrun import (
    LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, check_live_redraw, execute, move_slider, number,
    printed, run_code, run_until_set_up, text_of,
)

NOTEBOOK = NAME = "01_sync_loop.ipynb"  # NAME: for the shared verdicts fixture
# Plausible wrong answers for each exercise, in the notebook's order: its check must say "Not yet".
WRONG_ANSWERS = [
    [  # Exercise 1: ideal_sync_total(n_requests, latency)
        "def ideal_sync_total(n_requests, latency):\n    return round(n_requests * latency, 1)",  # issue 19
        "def ideal_sync_total(n_requests, latency):\n    return round(n_requests * latency, 2)",  # a rounding boundary
        "def ideal_sync_total(n_requests, latency):\n    return latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests + latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests / latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests * LATENCY",  # the notebook's global
        "def ideal_sync_total(n_requests, latency):\n    return N_REQUESTS * latency",  # the notebook's global
        "def ideal_sync_total(n_requests, latency):\n    return 20 * 0.3",  # the post's numbers typed in
        "def ideal_sync_total(n_requests, latency):\n    return n_requests * latency + 0.01",  # overhead added
        "def ideal_sync_total(n_requests, latency):\n    return int(n_requests * latency)",
        "def ideal_sync_total(n_requests, latency):\n    total = n_requests * latency",  # returns None
        "def ideal_sync_total(n_requests, latency):\n    return f'{n_requests * latency} s'",  # the wrong type
        "def ideal_sync_total(n_requests, latency):\n    return (n_requests * latency,)",  # the wrong type
        "async def ideal_sync_total(n_requests, latency):\n    return n_requests * latency",  # a coroutine
        "def ideal_sync_total(n_requests):\n    return n_requests * 0.3",  # raises TypeError
        "def ideal_sync_total(n_requests, latency):\n    return round(n_requests * latency, 3)",  # to the ms
        "def ideal_sync_total(n_requests, latency):\n    return round(n_requests * latency, 6)",
    ],
    [  # Exercise 2: slowest_request(records)
        # issue 19: never looks at the first or the last record
        "def slowest_request(records):\n    best = records[1]\n    for i in range(1, len(records) - 1):\n"
        "        if records[i].duration > best.duration:\n            best = records[i]\n    return best",
        # right record, but the notebook's data changed
        "def slowest_request(records):\n    records.sort(key=lambda record: record.duration)\n    return records[-1]",
        "def slowest_request(records):\n    i = max(range(len(records)), key=lambda i: records[i].duration)\n"
        "    return records.pop(i)",
        "def slowest_request(records):\n    return min(records, key=lambda record: record.duration)",
        "def slowest_request(records):\n    return records[-1]",
        "def slowest_request(records):\n    return records[0]",
        "def slowest_request(records):\n    return max(records, key=lambda record: record.index)",
        "def slowest_request(records):\n    return max(records, key=lambda record: record.end)",  # the last to end
        "def slowest_request(records):\n    return sorted(records, key=lambda record: record.duration)[0]",
        "def slowest_request(records):\n    return max(sync_run.records, key=lambda record: record.duration)",  # a global
        # the wrong type: the duration, or the index, instead of the record
        "def slowest_request(records):\n    return max(record.duration for record in records)",
        "def slowest_request(records):\n    return max(records, key=lambda record: record.duration).index",
        "def slowest_request(records):\n    return records.duration",  # raises AttributeError
        "def slowest_request(records):\n    return max(records, key=lambda record: record.start)",  # the last to start
    ],
]
# Right answers written differently from the solution: each check must say "Correct".
RIGHT_ANSWERS = [
    [
        "def ideal_sync_total(n_requests, latency):\n    return latency * n_requests",
        "def ideal_sync_total(n_requests, latency):\n    total = 0\n    for _ in range(n_requests):\n"
        "        total += latency\n    return total",
        "def ideal_sync_total(n_requests, latency):\n    return sum([latency] * n_requests)",
        "def ideal_sync_total(n_requests, latency):\n    return float(n_requests * latency)",
    ],
    [
        "def slowest_request(records):\n    return sorted(records, key=lambda record: record.duration)[-1]",
        "def slowest_request(records):\n    slowest = None\n    for record in records:\n"
        "        if slowest is None or record.duration > slowest.duration:\n            slowest = record\n"
        "    return slowest",
        "import operator\n\ndef slowest_request(records):\n    return max(records, key=operator.attrgetter('duration'))",
        "def slowest_request(records):\n    return max(records, key=lambda record: record.end - record.start)",
        "def slowest_request(records):\n    return sorted(records, key=lambda record: record.duration, reverse=True)[0]",
    ],
]


def test_01_sync_total_is_about_n_times_latency(executed):
    text = text_of(executed(NOTEBOOK))
    assert len(re.findall(r"^200 :  \d", text, re.MULTILINE)) == 1 + 2 * N_REQUESTS
    totals = [float(total) for total in re.findall(r"^total: ([\d.]+)", text, re.MULTILINE)]
    assert len(totals) == 2
    ideal = N_REQUESTS * LATENCY
    for total in totals:
        assert ideal <= total < ideal * 1.5 + 0.5
    waiting = re.search(r"(nearly all|most|half or less) of the loop \(([\d.]+)%\) was spent waiting", text)
    assert waiting and float(waiting.group(2)) > 50 and waiting.group(1) != "half or less"


def test_01_shows_what_the_clocks_promise_and_loop_close_without_parentheses(executed):
    text = text_of(executed(NOTEBOOK))
    assert "after loop.close:   still open" in text and "after loop.close(): closed" in text
    assert re.search(r"^\s+time: monotonic=False, adjustable=True, resolution=", text, re.MULTILINE)
    assert re.search(r"^perf_counter: monotonic=True, adjustable=False, resolution=", text, re.MULTILINE)
    steps = re.findall(r"^\s*(\w+): reported [\d.e+-]+ s, smallest step seen ([\d.e+-]+) s", text, re.MULTILINE)
    assert [name for name, _ in steps] == ["time", "monotonic", "perf_counter"]
    assert all(0 < float(step) < 0.1 for _, step in steps)
    coarsest = max(float(step) for _, step in steps)
    assert coarsest <= LATENCY / 1000  # so the verdict below is the one that must be printed
    assert f"every clock here steps at least 1,000 times finer than a request of LATENCY ({LATENCY} s)" in text


def test_01_finds_the_posts_total_equal_to_the_sum_of_its_lines(executed):
    text = text_of(executed(NOTEBOOK))
    post = re.search(r"the post: lines add up to ([\d.]+) s, printed total ([\d.]+) s \(([\d.]+) ms more\)", text)
    assert post and post.group(1) == post.group(2) == "7.015817165374756" and float(post.group(3)) == 0
    ours = number(r"our run:  lines add up to [\d.]+ s, total [\d.]+ s \(([\d.]+) ms more\)", text)
    assert ours > 0  # a measured total also holds the loop's time between requests


def test_01_links_the_glossary():
    notebook = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    (link,) = re.findall(r"\]\((\.\./docs/glossary\.md)\)", notebook.cells[0].source)
    assert (NOTEBOOKS / link).resolve() == (Path(__file__).resolve().parent.parent / "docs" / "glossary.md")
    assert (NOTEBOOKS / link).is_file()


@pytest.mark.parametrize("exercise", [0, 1])
def test_01_checks_judge_wrong_and_right_answers_rightly(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])


def test_01_checks_name_what_is_wrong(verdicts):
    said = {source: verdict for exercise in verdicts.values() for source, verdict in exercise["wrong"]}
    assert "returned '6.0 s' (a string); expected a number" in said[WRONG_ANSWERS[0][11]]
    assert "returned 1.8; expected 1.75" in said[WRONG_ANSWERS[0][0]]
    assert "sorted them in place?" in said[WRONG_ANSWERS[1][1]] and "not one of the records" in said[WRONG_ANSWERS[1][10]]


def test_moving_the_slider_reruns_the_requests_and_redraws_saying_how_far_it_got(tmp_path):
    seen = {}

    def slide(client, notebook):  # as nbrun.slide_and_read, and the progress line read too
        seen["before"] = run_code(client, notebook, "print(hash(live.image.value))")
        move_slider(client, notebook, "count", 3)
        seen["caption"] = run_code(client, notebook, "print(live.caption)")
        seen["progress"] = run_code(client, notebook, "print(live.progress)").strip()
        seen["after"] = run_code(client, notebook, "print(hash(live.image.value))")

    notebook = execute(NOTEBOOKS / NOTEBOOK, tmp_path, then=slide)
    check_live_redraw(notebook, seen, r"total (?P<total>[\d.]+) s", ideal=3 * LATENCY)
    # The last progress line, replaced by the caption in the page once the chart was drawn.
    assert seen["progress"] == f"Redrawing for requests 3, latency (s) {LATENCY:.2f}: 3 requests done"


def test_01_runs_with_one_request_and_its_verdicts_follow_their_numbers(tmp_path):
    verdicts = {}

    def cell_starting(notebook, start):
        (cell,) = [cell for cell in notebook.cells if cell.source.startswith(start)]
        return cell.source

    def verdict_cells_with(client, notebook):
        waiting = cell_starting(notebook, "waiting = round(1 - cpu_used")
        for share in (0.05, 0.3, 0.7, 0.1004, 0.4996):  # the share of the loop the CPU was busy
            verdicts[share] = run_code(client, notebook, f"cpu_used = {share} * sync_run.total\n" + waiting)
        # A server faster than LATENCY (a real site can be): no overhead to speak of.
        overhead = cell_starting(notebook, "ideal = N_REQUESTS * LATENCY")
        verdicts["fast server"] = run_code(client, notebook, f"LATENCY = 10.0\n{overhead}\nLATENCY = {LATENCY}")
        # Clocks too coarse for a request of LATENCY.
        clocks = cell_starting(notebook, "steps = {name: smallest_step")
        verdicts["coarse clocks"] = run_code(client, notebook, f"LATENCY = 1e-05\n{clocks}\nLATENCY = {LATENCY}")

    notebook = execute(NOTEBOOKS / NOTEBOOK, tmp_path, parameters={"N_REQUESTS": 1}, then=verdict_cells_with)
    assert [output.ename for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if output.output_type == "error"] == []
    text = text_of(notebook)
    assert "the live chart shows 1 requests of" in text
    assert "nearly all of the loop (95.0%) was spent waiting" in verdicts[0.05]
    assert "most of the loop (70.0%) was spent waiting" in verdicts[0.3]
    assert "half or less of the loop (30.0%) was spent waiting" in verdicts[0.7]
    # At a boundary, the words follow the figure as printed.
    assert "nearly all of the loop (90.0%) was spent waiting" in verdicts[0.1004]
    assert "half or less of the loop (50.0%) was spent waiting" in verdicts[0.4996]
    assert "of overhead" not in verdicts["fast server"]
    assert re.search(r"measured [\d.]+ s, below the ideal 10\.000 s: the server answered faster than LATENCY "
                     r"\(10\.0 s\), so LATENCY is not its latency", verdicts["fast server"]), verdicts["fast server"]
    assert "the coarsest clock here steps by" in verdicts["coarse clocks"]
    assert "more than a thousandth of LATENCY (1e-05 s)" in verdicts["coarse clocks"]
    overhead = re.search(r"ideal [\d.]+ s, measured [\d.]+ s: ([\d.]+) ms of overhead per request", text)
    assert overhead and float(overhead.group(1)) > 0


@pytest.mark.parametrize("parameters, message", [
    ({"N_REQUESTS": 0}, "N_REQUESTS must be a whole number from 1 to 1,000, got 0"),
    ({"N_REQUESTS": "20"}, "N_REQUESTS must be a whole number from 1 to 1,000, got '20' (a string: remove the quotes)"),
    ({"LATENCY": -1}, "LATENCY must be a number of seconds from 0.01 to 10, got -1"),
    ({"N_REQUESTS": 10_000}, "N_REQUESTS must be a whole number from 1 to 1,000, got 10000"),
])
def test_01_a_mistyped_parameter_stops_the_set_up_cell_in_one_line(tmp_path, parameters, message):
    notebook, set_up, failed = run_until_set_up(NOTEBOOKS / NOTEBOOK, tmp_path, parameters)
    assert failed == set_up
    (error,) = [output for output in notebook.cells[set_up].outputs if output.output_type == "error"]
    assert len(error.traceback) == 1 and message in error.traceback[0], error.traceback


def test_01_says_how_long_its_sync_loops_will_take_before_they_start(tmp_path):
    notebook, set_up, failed = run_until_set_up(NOTEBOOKS / NOTEBOOK, tmp_path, {"N_REQUESTS": 1000, "LATENCY": 2})
    assert failed == -1
    assert printed(notebook.cells[set_up]).startswith(
        "This will take about 67 min: the sync loop runs twice: the post's and the recorded one.")
