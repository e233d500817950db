"""Every notebook of the series: committed clean, framed alike, runs clean, checks work.

What each notebook shows is tested in its own module (``test_nb01_sync_loop.py``...).
"""

import re
import sys

import nbformat
import pytest

from nbrun import NOTEBOOKS, printed, tagged
from tools.notebooks import client_for

ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
EXPECTED_ERRORS = {  # the error each raises-exception cell must show, in order
    # (a) again after nest_asyncio2: 3.10 cannot close the running loop; 3.11+ refuse bare coroutines.
    "03_event_loop.ipynb": ["RuntimeError", "RuntimeError", "TypeError" if sys.version_info >= (3, 11) else "RuntimeError"],
    "04_keyword_wrapper.ipynb": ["TypeError"],
}
EXPECTED_CHARTS = {  # each live chart counts once: its stand-in image
    "01_sync_loop.ipynb": 4,
    "02_coroutines.ipynb": 7,
    "03_event_loop.ipynb": 4,
    "04_keyword_wrapper.ipynb": 2,
    "05_scaling.ipynb": 8,
    "06_inside_the_loop.ipynb": 3,
    "07_asyncio_today.ipynb": 2,
}


# --- every notebook ----------------------------------------------------------------------------


def test_the_series_has_its_notebooks_in_order():
    assert [path.name for path in ALL] == list(EXPECTED_CHARTS)


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_committed_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert dirty == [], f"cells with outputs: {dirty}; clear them before committing"


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_notebook_has_the_series_frame(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].source.startswith("# ")
    assert "**What you'll learn**" in notebook.cells[0].source
    (parameters,) = tagged(notebook, "parameters")
    for name in ("N_REQUESTS = 20", "LATENCY = 0.3", "URL = None"):
        assert name in parameters.source
    headings = [line for cell in notebook.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]
    assert "## Try it" in headings and "## Summary" in headings
    assert len(tagged(notebook, "exercise")) == len(tagged(notebook, "check")) >= 2


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_notebook_marks_its_core_path_for_a_class(path):
    """A class of about 90 minutes: each notebook names its 15-minute path; the rest is 'Deeper:'."""
    notebook = nbformat.read(path, as_version=4)
    intro = notebook.cells[0].source
    assert "**In class** (about 15 minutes), the core path is" in intro
    listed = intro.split("the core path is", 1)[1].split("\n\n")[0].split("Sections whose")[0]
    core = [" ".join(name.replace("`", "").split()) for name in re.findall(r"\*([^*]+)\*", listed)]
    headings = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            headings += [line[3:].replace("`", "") for line in cell.source.splitlines() if line.startswith("## ")]
    headings = headings[:headings.index("Exercises")]  # what follows the exercises is an appendix
    assert "Try it" in core and "Summary" in core
    for name in core:
        assert any(heading.startswith(name) for heading in headings), f"{name!r} is not a section"
    frame = {"Parameters", "Set-up"}
    others = [heading for heading in headings if heading not in frame and not any(heading.startswith(name) for name in core)]
    assert all(heading.startswith("Deeper: ") for heading in others), others


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_a_heading_opens_each_markdown_cell_and_none_stands_inside_one(path):
    notebook = nbformat.read(path, as_version=4)
    inside = [(index, line) for index, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
              for line in cell.source.splitlines()[1:] if re.match(r"#{1,6} ", line)]
    assert inside == [], "a heading inside a markdown cell: start a new cell there"


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_no_code_cell_is_over_30_lines(path):
    notebook = nbformat.read(path, as_version=4)
    long = [(index, len(cell.source.splitlines())) for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and len(cell.source.splitlines()) > 30]
    assert long == [], "cells over 30 lines (index, lines): split them, or move plumbing to helpers/"


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_notebook_runs_clean_and_draws_its_charts(executed, name):
    notebook = executed(name)
    errors = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        names = [output.ename for output in cell.outputs if output.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert names, f"a raises-exception cell did not raise:\n{cell.source}"
        errors.extend(names)
    assert errors == EXPECTED_ERRORS.get(name, [])
    cells = notebook.cells
    charts = [index for index, cell in enumerate(cells) if cell.cell_type == "code"
              for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(charts) == EXPECTED_CHARTS[name]
    for index in charts:  # every chart is explained in a sentence of what to look for
        after = cells[index + 1]
        assert after.cell_type == "markdown" and after.source.startswith("**What to look for:**"), cells[index].source


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_check_cells_say_not_yet_for_the_starters(executed, name):
    checks = tagged(executed(name), "check")
    for cell in checks:
        assert "Not yet" in printed(cell), cell.source


def test_the_runner_without_patience_differs_only_in_its_kernel_client(tmp_path):
    """``make bench-stall ARGS=--plain`` compares the two kernel clients, and nothing else."""
    notebook = nbformat.read(ALL[0], as_version=4)
    patient, plain = (client_for(notebook, tmp_path, timeout=9, patient=flag) for flag in (True, False))
    assert patient.config.AsyncKernelManager.client_class == "tools.notebooks.PatientKernelClient"
    assert "client_class" not in plain.config.AsyncKernelManager
    for client in (patient, plain):
        assert (client.timeout, client.shutdown_kernel) == (9, "immediate")
        assert client.resources == {"metadata": {"path": str(tmp_path)}}
    with pytest.raises(ValueError, match="timeout must be >= 1 second, got 0"):
        client_for(notebook, tmp_path, timeout=0)
