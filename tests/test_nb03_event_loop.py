"""03 · the event loop: the post's code as it was, its real errors, and each fix."""

import re
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from nbrun import LATENCY, N_REQUESTS, number, printed, text_of

NAME = "03_event_loop.ipynb"
TEMPORARY_FOLDERS = "async-post-*"  # the prefix run_script gives its folders

def temporary_folders() -> set:
    return set(Path(tempfile.gettempdir()).glob(TEMPORARY_FOLDERS))


@pytest.fixture(scope="module")
def run03(executed):
    """The notebook executed with small parameters, and the temporary folders there were before."""
    before = temporary_folders()
    return executed(NAME), before


def cell_with(notebook: nbformat.NotebookNode, fragment: str) -> nbformat.NotebookNode:
    (cell,) = [cell for cell in notebook.cells if cell.cell_type == "code" and fragment in cell.source]
    return cell


def stderr_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs
                   if output.output_type == "stream" and output.name == "stderr")


def test_03_shows_the_real_errors_and_the_fixes(run03):
    notebook, _ = run03
    text = text_of(notebook)
    errors = [output.evalue for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == ["This event loop is already running", "Cannot close a running event loop"]
    if sys.version_info >= (3, 11):
        assert "TypeError: Passing coroutines is forbidden, use tasks explicitly." in text
    else:
        assert "still accepts bare coroutines" in text
    assert "RuntimeError: Event loop is closed" in text
    # The asyncio.run script succeeds everywhere; the post's own script only before 3.11.
    assert text.count("--- exit code 0 ---") == (1 if sys.version_info >= (3, 11) else 2)
    assert "gather:       [0, 1, 2, 3, 4]" in text
    assert "as_completed: [1, 3, 2, 4, 0]" in text
    # One request after the failed run_until_complete queues behind the orphaned tasks.
    assert number(r"one request took ([\d.]+) s", text) > 1.5 * LATENCY
    blocked = number(r"blocked: ([\d.]+) s", text)
    awaited = number(r"awaited: ([\d.]+) s", text)
    assert blocked >= N_REQUESTS * LATENCY * 0.95 and awaited < blocked / 4


def test_03_prints_what_get_event_loop_did_on_this_python(run03):
    notebook, _ = run03
    said = printed(cell_with(notebook, "warned = "))
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 12):  # measured: 3.12.1 and 3.13.0 warn, 3.10.13 and 3.11.7 do not
        assert f"Python {version}: get_event_loop() outside a loop warned: There is no current event loop" in said
    else:
        assert f"Python {version}: get_event_loop() outside a loop gave no warning" in said
    ended = "ran to the end (exit code 0)" if sys.version_info < (3, 11) else "stopped (exit code 1)"
    assert f"the post's script {ended}" in said


def test_03_never_awaited_warnings_show_where_the_text_explains_them(run03):
    notebook, _ = run03
    # (a)'s coroutines: under (d) on some versions, else under the cell that collects them.
    close, collect = cell_with(notebook, "get_event_loop().close()"), cell_with(notebook, "gc.collect()")
    assert "coroutine 'get_response' was never awaited" in stderr_of(close) + stderr_of(collect)
    explanation = notebook.cells[notebook.cells.index(collect) - 1]
    assert "*RuntimeWarning: coroutine 'get_response' was never awaited*" in explanation.source
    # The quiet trap's own: the asyncio.wait coroutine that run_until_complete never started.
    trap = cell_with(notebook, "orphans = [loop.create_task")
    assert "RuntimeWarning: coroutine 'wait' was never awaited" in stderr_of(trap)
    explanation = notebook.cells[notebook.cells.index(trap) + 1]
    assert explanation.cell_type == "markdown"
    assert "*RuntimeWarning: coroutine 'wait' was never awaited*" in explanation.source


def test_03_script_output_shows_whole_lines(run03):
    notebook, _ = run03
    runs = [cell for cell in notebook.cells if cell.cell_type == "code" and "run_script(" in cell.source
            and not cell.source.startswith("def ")]
    assert len(runs) == 3
    for cell in runs:
        for line in printed(cell).splitlines():
            if " :  " in line:  # the post's result lines: a status, then a time
                assert re.fullmatch(r"200 :  \d+\.\d+(e-\d+)?", line), line
        said = printed(cell)
        assert "total: " in said or "Traceback (most recent call last):" in said


def test_03_leaves_no_temporary_folder(run03):
    notebook, before = run03
    assert temporary_folders() - before == set()
    used = set(re.findall(r"/async-post-\w+", text_of(notebook)))
    assert used  # the tracebacks name the folders the scripts ran in
    assert [folder for folder in used if Path(tempfile.gettempdir(), folder.strip("/")).exists()] == []


def test_03_blocking_call_holds_the_loop_and_the_fix_does_not(run03):
    notebook, _ = run03
    blocking = printed(cell_with(notebook, "async def blocker("))
    assert number(r"blocker's longest step on the loop: ([\d.]+) s", blocking) >= LATENCY * 0.99
    assert number(r"longest stretch the loop thread was busy: ([\d.]+) s", blocking) >= LATENCY * 0.99
    fixed = printed(cell_with(notebook, "async def sleeper("))
    assert number(r"longest stretch the loop thread was busy: ([\d.]+) s", fixed) < LATENCY / 2


def test_03_await_coro_does_not_switch_and_create_task_does(run03):
    notebook, _ = run03
    said = printed(cell_with(notebook, "async def main_with_tasks("))
    a, b = "I am coro_a(). Hi!", "I am coro_b(). I sure hope no one hogs the event loop..."
    expected = ["--- await coro_a() ---", a, a, a, b, "--- await asyncio.create_task(coro_a()) ---", b, a, a, a]
    assert said.splitlines() == expected


def test_03_every_chart_is_followed_by_what_to_look_for(run03):
    notebook, _ = run03
    charts = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
              and any("image/png" in output.get("data", {}) for output in cell.outputs)]
    assert len(charts) == 4
    for index in charts:
        assert notebook.cells[index + 1].source.startswith("**What to look for:**"), notebook.cells[index].source


def test_03_demonstrates_nest_asyncio2_which_the_kernel_requires(run03):
    notebook, _ = run03
    assert re.search(r"ipykernel [\d.]+ requires \['nest-asyncio2", text_of(notebook))
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "nest_asyncio2.apply()" in sources and not re.search(r"import nest_asyncio\b(?!2)", sources)
    nested = printed(cell_with(notebook, "def async_code_nested("))
    assert nested.count("200 :  ") == N_REQUESTS and "total: " in nested
