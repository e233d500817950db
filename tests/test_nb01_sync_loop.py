"""01 · the sync loop: about N x latency, a live chart that redraws, checks that catch wrong answers."""

import re
from pathlib import Path

import nbformat

from nbrun import (
    LATENCY, N_REQUESTS, NOTEBOOKS, check_live_redraw, execute, number, printed, run_code, slide_and_read,
    swap_in_answers, swap_in_solutions, tagged, text_of,
)

NOTEBOOK = "01_sync_loop.ipynb"
# Plausible wrong answers for each exercise, in the notebook's order: its check must say "Not yet".
WRONG_ANSWERS = [
    [  # Exercise 1: ideal_sync_total(n_requests, latency)
        "def ideal_sync_total(n_requests, latency):\n    return latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests + latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests / latency",
        "def ideal_sync_total(n_requests, latency):\n    return n_requests * LATENCY",  # the global
        "def ideal_sync_total(n_requests, latency):\n    return N_REQUESTS * latency",  # the global
        "def ideal_sync_total(n_requests, latency):\n    return round(n_requests * latency)",
        "def ideal_sync_total(n_requests, latency):\n    print(n_requests * latency)",  # returns None
        "def ideal_sync_total(n_requests, latency):\n    return f'{n_requests * latency} s'",
    ],
    [  # Exercise 2: slowest_request(records)
        "def slowest_request(records):\n    return min(records, key=lambda record: record.duration)",
        "def slowest_request(records):\n    return records[-1]",
        "def slowest_request(records):\n    return records[0]",
        "def slowest_request(records):\n    return max(record.duration for record in records)",
        "def slowest_request(records):\n    return max(records, key=lambda record: record.index)",
        "def slowest_request(records):\n    return sorted(records, key=lambda record: record.duration)[0]",
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
    assert number(r"the program spent ([\d.]+)% of its time waiting", text) > 50


def test_01_shows_what_the_clocks_promise_and_loop_close_without_parentheses(executed):
    text = text_of(executed(NOTEBOOK))
    assert "after loop.close:   still open" in text and "after loop.close(): closed" in text
    assert re.search(r"^\s+time: monotonic=False, adjustable=True, resolution=", text, re.MULTILINE)
    assert re.search(r"^perf_counter: monotonic=True, adjustable=False, resolution=", text, re.MULTILINE)
    steps = re.findall(r"^\s*(\w+): reported [\d.e+-]+ s, smallest step seen ([\d.e+-]+) s", text, re.MULTILINE)
    assert [name for name, _ in steps] == ["time", "monotonic", "perf_counter"]
    assert all(0 < float(step) < 0.1 for _, step in steps)


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


def test_01_checks_say_not_yet_for_plausible_wrong_answers(tmp_path):
    """Each wrong answer, swapped into its exercise cell and run with the cells after it, fails its check.

    The notebook runs once; then its exercise section runs again for every round of answers, at
    the small parameters and again at the parameter cell's defaults. The solutions, run the same
    way, must pass: the harness can tell right from wrong.
    """
    said = []  # (parameters, answers, what each check printed)

    def answer_again(client, notebook):
        first = notebook.cells.index(tagged(notebook, "exercise")[0])
        for parameters in ("", "N_REQUESTS, LATENCY = 20, 0.3"):
            if parameters:
                run_code(client, notebook, parameters)
            rounds = max(len(answers) for answers in WRONG_ANSWERS)
            for i in range(rounds + 1):
                if i < rounds:
                    answers = [wrong[i % len(wrong)] for wrong in WRONG_ANSWERS]
                    swap_in_answers(notebook, answers)
                else:
                    swap_in_solutions(notebook)
                    answers = [cell.source for cell in tagged(notebook, "exercise")]
                for index in range(first, len(notebook.cells)):
                    if notebook.cells[index].cell_type == "code":
                        client.execute_cell(notebook.cells[index], index)
                said.append((parameters, answers, [printed(cell) for cell in tagged(notebook, "check")]))

    execute(NOTEBOOKS / NOTEBOOK, tmp_path, then=answer_again)
    *wrong_rounds, solved = [entry for entry in said if not entry[0]]
    *wrong_rounds_default, solved_default = [entry for entry in said if entry[0]]
    for parameters, answers, checks in wrong_rounds + wrong_rounds_default:
        for answer, check in zip(answers, checks):
            said_not_yet = "Not yet" in check and "Correct" not in check  # an answer may print too
            assert said_not_yet, f"{parameters or 'small parameters'}: {answer!r} -> {check!r}"
    for _, _, checks in (solved, solved_default):
        assert all(check.startswith("Correct") for check in checks), checks
    tested = {answer for _, answers, _ in wrong_rounds for answer in answers}
    assert tested == {answer for wrong in WRONG_ANSWERS for answer in wrong}


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read(NOTEBOOK, tmp_path, "")
    check_live_redraw(notebook, seen, r"total (?P<total>[\d.]+) s", ideal=3 * LATENCY)
