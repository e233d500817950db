"""01 · the sync loop: about N x latency, the clocks, the post's numbers, and a live chart that redraws."""

import re
from pathlib import Path

import nbformat

from nbrun import LATENCY, N_REQUESTS, NOTEBOOKS, check_live_redraw, number, slide_and_read, text_of

NOTEBOOK = "01_sync_loop.ipynb"
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


def test_01_marks_its_core_path_and_its_deeper_sections():
    notebook = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    intro = notebook.cells[0].source
    listed = intro.split("the core path is:")[1].split("Sections whose")[0]
    core = [" ".join(name.split()) for name in re.findall(r"\*([^*]+)\*", listed)]
    headings = [line[3:].replace("`", "") for cell in notebook.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    assert len(core) >= 6 and "Try it" in core and "Summary" in core
    for name in core:
        assert any(heading.startswith(name) for heading in headings), name
    frame = {"Parameters", "Set-up", "Exercises"}
    others = [h for h in headings if h not in frame and not any(h.startswith(name) for name in core)]
    assert others and all(heading.startswith("Deeper: ") for heading in others), others


def test_01_links_the_glossary():
    notebook = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    (link,) = re.findall(r"\]\((\.\./docs/glossary\.md)\)", notebook.cells[0].source)
    assert (NOTEBOOKS / link).resolve() == (Path(__file__).resolve().parent.parent / "docs" / "glossary.md")
    assert (NOTEBOOKS / link).is_file()


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read(NOTEBOOK, tmp_path, "")
    check_live_redraw(notebook, seen, r"total (?P<total>[\d.]+) s", ideal=3 * LATENCY)
