"""Every notebook, executed headless with small parameters, checked for what it shows.

Notebooks are prepared and executed by ``tools.notebooks``, as ``make run`` executes them:
papermill injects the parameters, and nbclient runs the cells, honouring the
`raises-exception` tag that lets a demonstrated error show its real message without stopping
"Run All". Sliders are moved by the comm message a front end sends to the widget's model;
``tests/browser`` moves them with a mouse in a real JupyterLab.
"""

import math
import os
import re
import sys
from pathlib import Path

import nbformat
import nbformat.v4
import pytest
from nbclient import NotebookClient

from tools.notebooks import SMALL, client_for, prepare, small_parameters

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
N_REQUESTS, LATENCY = SMALL["N_REQUESTS"], SMALL["LATENCY"]
SWEEP, BIG_N = small_parameters("05_scaling.ipynb")["SWEEP"], small_parameters("05_scaling.ipynb")["BIG_N"]
EXPECTED_ERRORS = {  # the error each raises-exception cell must show, in order
    "03_event_loop.ipynb": ["RuntimeError", "RuntimeError"],
    "04_keyword_wrapper.ipynb": ["TypeError"],
}
EXPECTED_CHARTS = {  # each live chart counts once: its stand-in image
    "01_sync_loop.ipynb": 4,
    "02_coroutines.ipynb": 6,
    "03_event_loop.ipynb": 1,
    "04_keyword_wrapper.ipynb": 2,
    "05_scaling.ipynb": 7,
}


def execute(path: Path, tmp_path: Path, *, passes: int = 1, solved: bool = False, then=None) -> nbformat.NotebookNode:
    """Run a notebook with the small parameters, ``passes`` times in one kernel, and return it.

    ``then(client, notebook)``, if given, runs afterwards in the same kernel (see ``run_code``).
    """
    notebook = prepare(path, small_parameters(path.name))
    if solved:
        swap_in_solutions(notebook)
    client = client_for(notebook, tmp_path, timeout=300)
    with client.setup_kernel():
        for _ in range(passes):
            for index, cell in enumerate(list(notebook.cells)):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        if then is not None:
            then(client, notebook)
        client.set_widgets_metadata()
    return notebook


def run_code(client: NotebookClient, notebook: nbformat.NotebookNode, source: str) -> str:
    """Run one more cell in the notebook's kernel and return what it printed; fail on an error."""
    cell = nbformat.v4.new_code_cell(source)
    notebook.cells.append(cell)
    client.execute_cell(cell, len(notebook.cells) - 1)
    errors = [f"{output.ename}: {output.evalue}" for output in cell.outputs if output.output_type == "error"]
    assert errors == [], f"{errors} from\n{source}"
    return printed(cell)


def move_slider(client: NotebookClient, notebook: nbformat.NotebookNode, name: str, value: float) -> None:
    """Send the comm message a front end sends when the slider ``name`` is released at ``value``."""
    model_id = run_code(client, notebook, f"print({name}.model_id)").strip()
    update = {"method": "update", "state": {"value": value}, "buffer_paths": []}
    client.kc.shell_channel.send(client.kc.session.msg("comm_msg", {"comm_id": model_id, "data": update}))


def swap_in_solutions(notebook: nbformat.NotebookNode) -> None:
    """Replace each exercise's starter cell with the solution shown after it."""
    for index, cell in enumerate(notebook.cells):
        if "exercise" in cell.metadata.get("tags", []):
            solution = re.search(r"```python\n(.*?)```", notebook.cells[index + 1].source, re.DOTALL)
            cell.source = solution.group(1)


def printed(cell: nbformat.NotebookNode) -> str:
    """What one code cell printed."""
    return "".join(output.get("text", "") for output in cell.outputs)


def text_of(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.output_type == "stream"
    )


def tagged(notebook: nbformat.NotebookNode, tag: str) -> list:
    return [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"no line matching {pattern!r}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Each notebook executed once, shared by the tests that read its outputs."""
    cache = {}

    def run(name: str) -> nbformat.NotebookNode:
        if name not in cache:
            cache[name] = execute(NOTEBOOKS / name, tmp_path_factory.mktemp(name.split(".")[0]))
        return cache[name]

    return run


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
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(images) == EXPECTED_CHARTS[name]


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_check_cells_say_not_yet_for_the_starters(executed, name):
    checks = tagged(executed(name), "check")
    for cell in checks:
        assert "Not yet" in printed(cell), cell.source


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_solutions_pass_their_checks(tmp_path, name):
    notebook = execute(NOTEBOOKS / name, tmp_path, solved=True)
    for cell in tagged(notebook, "check"):
        said = printed(cell)
        assert said.startswith("Correct"), f"{said!r} from\n{cell.source}"


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_notebook_runs_twice_in_one_kernel(tmp_path, name):
    notebook = execute(NOTEBOOKS / name, tmp_path, passes=2)
    unexpected = [output.ename for cell in notebook.cells if cell.cell_type == "code"
                  and "raises-exception" not in cell.metadata.get("tags", [])
                  for output in cell.outputs if output.output_type == "error"]
    assert unexpected == []


# --- what each one shows ----------------------------------------------------------------------


def test_01_sync_total_is_about_n_times_latency(executed):
    text = text_of(executed("01_sync_loop.ipynb"))
    assert len(re.findall(r"^200 :  \d", text, re.MULTILINE)) == 1 + 2 * N_REQUESTS
    totals = [float(total) for total in re.findall(r"^total: ([\d.]+)", text, re.MULTILINE)]
    assert len(totals) == 2
    ideal = N_REQUESTS * LATENCY
    for total in totals:
        assert ideal <= total < ideal * 1.5 + 0.5
    assert number(r"the program spent ([\d.]+)% of its time waiting", text) > 50


def test_02_default_pool_runs_in_waves_and_a_sized_pool_in_one(executed):
    text = text_of(executed("02_coroutines.ipynb"))
    workers = min(32, os.cpu_count() + 4)
    waves = math.ceil(N_REQUESTS / workers)
    assert f"{N_REQUESTS} requests / {workers} threads = {waves} waves" in text
    assert f"the server never saw more than {min(workers, N_REQUESTS)} requests at once" in text
    sync = number(r"sync: total +([\d.]+) s", text)
    default = number(r"default pool: total +([\d.]+) s", text)
    sized = number(r"pool of N_REQUESTS: total +([\d.]+) s", text)
    assert waves * LATENCY * 0.9 <= default < waves * LATENCY * 1.5 + 0.3
    assert LATENCY * 0.9 <= sized < LATENCY * 1.5 + 0.3
    assert sized < sync / 3 and default < sync / 2
    assert f"server peak: {N_REQUESTS}" in text
    assert "16 requests took about 0.3 s, 4 took about 0.5 s" in text


def test_03_shows_the_real_errors_and_the_fixes(executed):
    notebook = executed("03_event_loop.ipynb")
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


def test_04_timeouts_are_real_and_marked(executed):
    notebook = executed("04_keyword_wrapper.ipynb")
    text = text_of(notebook)
    slow = sum(1 for i in range(N_REQUESTS) if i % 3 == 2)
    assert f"{slow} of {N_REQUESTS} requests timed out" in text
    assert text.count("ReadTimeout: ") == slow
    assert "got: ['0.150000', '0.150000', '0.150000']" in text  # the late-binding trap
    assert "got: ['0.050000', '0.100000', '0.150000']" in text  # and its fix
    assert "right after: ServerStats(served=0, rejected=0, in_flight=1" in text
    assert "a moment later: ServerStats(served=1, rejected=0, in_flight=0" in text
    headers = number(r"stream=True:  returned after ([\d.]+) s", text)
    assert headers < LATENCY + 0.2


def test_05_sweep_has_the_shape_of_each_method(executed):
    text = text_of(executed("05_scaling.ipynb"))
    rows = {int(n): [float(total) for total in totals] for n, totals in
            ((match[0], re.findall(r"([\d.]+) s \(", match[1])) for match in
             re.findall(r"^ +(\d+) \|(.*)$", text, re.MULTILINE))}
    assert sorted(rows) == SWEEP
    sync, default, sized, native = zip(*(rows[n] for n in SWEEP))
    # Sync grows about linearly: N x latency, each point within a generous margin.
    for n, total in zip(SWEEP, sync):
        assert n * LATENCY * 0.95 <= total < n * LATENCY * 1.5 + 0.3
    assert sync[-1] / sync[0] > 0.6 * SWEEP[-1] / SWEEP[0]
    # The default pool grows in waves; the native client stays near one latency.
    waves = math.ceil(SWEEP[-1] / min(32, os.cpu_count() + 4))
    assert default[-1] >= waves * LATENCY * 0.95
    assert native[-1] < LATENCY * 1.5 + 0.3
    assert native[-1] < sync[-1] / 3


def test_05_tail_politeness_threads_and_a_native_client_at_scale(executed):
    text = text_of(executed("05_scaling.ipynb"))
    # With jitter, the total follows the slowest request, well above the mean.
    slowest = number(r"slowest ([\d.]+) s", text)
    mean = number(r"mean ([\d.]+) s", text)
    total = number(r"async total ([\d.]+) s", text)
    assert slowest <= total < slowest + 0.15 and total > mean
    # The semaphore caps what the server sees.
    assert "server peak: 5 requests at once" in text
    assert f"{N_REQUESTS} requests, at most 5 at once: {math.ceil(N_REQUESTS / 5)} waves" in text
    # Threads against coroutines: the pool adds threads, the coroutines none.
    coroutines = re.search(rf"{BIG_N} coroutines: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s", text)
    threads = re.search(rf"{BIG_N} threads: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s", text)
    assert coroutines and threads, text
    assert int(coroutines[1]) - int(coroutines[2]) <= 2
    assert int(threads[1]) - int(threads[2]) >= BIG_N // 2
    assert float(threads[3]) > float(coroutines[3])
    # The native client stays near one latency at the largest count tested.
    assert float(coroutines[4]) < LATENCY * 2 + 0.3
    assert re.search(rf"{BIG_N // 2} requests: aiohttp +[\d.]+ s, httpx +[\d.]+ s", text)
    assert re.search(r"Python [\d.]+: 12 requests, statuses \[200\]", text)


LIVE = {  # notebook: the code that waits for the live chart to be redrawn, and what the caption must say
    "01_sync_loop.ipynb": ("", r"total (?P<total>[\d.]+) s"),
    "02_coroutines.ipynb": ("await asyncio.wrap_future(drawing)", r"sized pool (?P<total>[\d.]+) s"),
    "05_scaling.ipynb": ("await asyncio.wrap_future(drawing)", r"aiohttp (?P<total>[\d.]+) s"),
}


@pytest.mark.parametrize("name", list(LIVE))
def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path, name):
    wait, total_pattern = LIVE[name]
    seen = {}

    def slide(client, notebook):
        seen["before"] = run_code(client, notebook, "print(hash(live.image.value))")
        move_slider(client, notebook, "count", 3)
        seen["caption"] = run_code(client, notebook, f"{wait}\nprint(live.caption)")
        seen["after"] = run_code(client, notebook, "print(hash(live.image.value))")

    notebook = execute(NOTEBOOKS / name, tmp_path, then=slide)
    assert seen["caption"].startswith(f"3 requests of {LATENCY:.2f} s:"), seen["caption"]
    assert seen["after"] != seen["before"]  # a new chart is in place
    # 01's sync loop takes 3 latencies; the sized pool and aiohttp about one.
    ideal = 3 * LATENCY if name.startswith("01") else LATENCY
    assert ideal * 0.95 <= number(total_pattern, seen["caption"]) < ideal * 1.5 + 0.3
    # Where no kernel runs, the chart first drawn stands in for the live one.
    (shown,) = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
                if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert "image/png" in shown.data and shown.data["text/plain"].startswith(f"{N_REQUESTS} requests of")
