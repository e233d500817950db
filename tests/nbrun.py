"""What the notebook tests share: executing a notebook with small parameters, and reading it.

Notebooks are prepared and executed by ``tools.notebooks``, as ``make run`` executes them:
papermill injects the parameters, and nbclient runs the cells, honouring the
`raises-exception` tag that lets a demonstrated error show its real message without stopping
"Run All". Sliders are moved by the comm message a front end sends to the widget's model;
``tests/browser`` moves them with a mouse in a real JupyterLab.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import nbformat.v4
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers.resources import default_workers
from tools.notebooks import SMALL, client_for, prepare, small_parameters

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
N_REQUESTS, LATENCY = SMALL["N_REQUESTS"], SMALL["LATENCY"]
SWEEP, BIG_N = (small_parameters("05_scaling.ipynb")[name] for name in ("SWEEP", "BIG_N"))
# The default thread pool's size, as this Python and this process's CPUs give it (as in the
# kernel), and the function its formula counts the CPUs with.
DEFAULT_WORKERS = default_workers()
CPU_COUNT = "os.process_cpu_count()" if sys.version_info >= (3, 13) else "os.cpu_count()"


def execute(path: Path, tmp_path: Path, *, passes: int = 1, solved: bool = False, then=None,
            parameters: dict | None = None) -> nbformat.NotebookNode:
    """Run a notebook with the small parameters, ``passes`` times in one kernel, and return it.

    ``parameters`` override some of the small ones. ``then(client, notebook)``, if given, runs
    afterwards in the same kernel (see ``run_code``).
    """
    notebook = prepare(path, {**small_parameters(path.name), **(parameters or {})})
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


def set_up_index(notebook: nbformat.NotebookNode) -> int:
    """The index of the set-up cell: the code cell under the heading "## Set-up"."""
    heading = next(index for index, cell in enumerate(notebook.cells)
                   if cell.cell_type == "markdown" and cell.source.startswith("## Set-up"))
    return next(index for index in range(heading, len(notebook.cells)) if notebook.cells[index].cell_type == "code")


def run_until_set_up(path: Path, tmp_path: Path, parameters: dict) -> tuple[nbformat.NotebookNode, int, int]:
    """Run the notebook with ``parameters`` up to and including its set-up cell, stopping at an
    error. Returns the notebook, the set-up cell's index and the index of the cell that failed
    (or -1)."""
    notebook = prepare(path, {**small_parameters(path.name), **parameters})
    set_up = set_up_index(notebook)
    client = client_for(notebook, tmp_path, timeout=120)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[:set_up + 1]):
            if cell.cell_type == "code":
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError:
                    return notebook, set_up, index
    return notebook, set_up, -1


def solution_after(notebook: nbformat.NotebookNode, index: int) -> str:
    """The solution shown, in a fenced block, in the cell after the exercise at ``index``."""
    return re.search(r"```python\n(.*?)```", notebook.cells[index + 1].source, re.DOTALL).group(1)


def swap_in_solutions(notebook: nbformat.NotebookNode) -> None:
    """Replace each exercise's starter cell with the solution shown after it."""
    for index, cell in enumerate(notebook.cells):
        if "exercise" in cell.metadata.get("tags", []):
            cell.source = solution_after(notebook, index)


def swap_in_answers(notebook: nbformat.NotebookNode, answers: list[str]) -> None:
    """Replace each exercise's cell with the answer given for it, in order (cf. ``swap_in_solutions``)."""
    exercises = tagged(notebook, "exercise")
    assert len(answers) == len(exercises)
    for cell, answer in zip(exercises, answers):
        cell.source = answer


def errors_in(notebook: nbformat.NotebookNode, *, lessons_too: bool = True) -> list:
    """Every error output of the notebook's code cells, in order. ``lessons_too=False`` leaves
    out those of cells tagged ``raises-exception``, whose error is what the cell teaches."""
    return [output for cell in notebook.cells if cell.cell_type == "code"
            and (lessons_too or "raises-exception" not in cell.metadata.get("tags", []))
            for output in cell.get("outputs", []) if output.output_type == "error"]


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


def slide_and_read(name: str, tmp_path: Path, wait: str) -> tuple[nbformat.NotebookNode, dict]:
    """Run notebook ``name``, move its requests slider to 3 as a front end would, and read the chart.

    ``wait`` is the code that waits for the redraw to finish. Returns the notebook and what was
    seen: the image's hash ``before`` and ``after``, and the ``caption`` under the new chart.
    """
    seen = {}

    def slide(client, notebook):
        seen["before"] = run_code(client, notebook, "print(hash(live.image.value))")
        move_slider(client, notebook, "count", 3)
        seen["caption"] = run_code(client, notebook, f"{wait}\nprint(live.caption)")
        seen["after"] = run_code(client, notebook, "print(hash(live.image.value))")

    return execute(NOTEBOOKS / name, tmp_path, then=slide), seen


def check_live_redraw(notebook: nbformat.NotebookNode, seen: dict, total_pattern: str, ideal: float) -> None:
    """The chart was redrawn for 3 requests in a total near ``ideal``, and a stand-in was kept."""
    assert seen["caption"].startswith(f"3 requests of {LATENCY:.2f} s:"), seen["caption"]
    assert seen["after"] != seen["before"]  # a new chart is in place
    assert ideal * 0.95 <= number(total_pattern, seen["caption"]) < ideal * 1.5 + 0.3
    # Where no kernel runs, the chart first drawn stands in for the live one.
    (shown,) = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
                if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert "image/png" in shown.data and shown.data["text/plain"].startswith(f"{N_REQUESTS} requests of")


def try_answers(name: str, tmp_path: Path, wrong_answers: list[list[str]],
                right_answers: list[list[str]] | None = None) -> dict[int, dict]:
    """What each exercise's check says to its starter, its solution, each wrong answer and each
    right answer written differently from the solution.

    The notebook runs once with its starters; then in the same kernel each answer replaces
    its exercise cell's source, and that cell and its check run again. Returns, per exercise
    (in order), ``{"starter": said, "solution": [(source, said)], "wrong": [(source, said), ...],
    "right": [(source, said), ...]}``.
    """
    right_answers = right_answers or [[] for _ in wrong_answers]
    seen: dict[int, dict] = {}

    def answer(client: NotebookClient, notebook: nbformat.NotebookNode) -> None:
        exercises, checks = tagged(notebook, "exercise"), tagged(notebook, "check")
        assert len(exercises) == len(checks) == len(wrong_answers) == len(right_answers)
        for index, (exercise, check) in enumerate(zip(exercises, checks)):
            solution = solution_after(notebook, notebook.cells.index(exercise))
            seen[index] = {"starter": printed(check), "right": []}
            tries = [("solution", solution), *(("wrong", wrong) for wrong in wrong_answers[index]),
                     *(("right", right) for right in right_answers[index])]
            for label, source in tries:
                run_code(client, notebook, source)
                seen[index].setdefault(label, []).append((source, run_code(client, notebook, check.source)))

    execute(NOTEBOOKS / name, tmp_path, then=answer)
    return seen


def verdict_line(said: str) -> str:
    """The verdict a check printed: its last line (an answer may print lines of its own first)."""
    lines = said.strip().splitlines()
    return lines[-1] if lines else ""


def assert_judged_rightly(verdict: dict) -> None:
    """One exercise's check said 'Not yet' to its starter and every wrong answer, 'Correct' to its
    solution and to every right answer written differently."""
    assert len(verdict["wrong"]) >= 2, "an exercise needs at least two wrong answers to try"
    assert verdict_line(verdict["starter"]).startswith("Not yet"), verdict["starter"]
    ((_, said),) = verdict["solution"]
    assert verdict_line(said).startswith("Correct"), said
    passed = [(source, said) for source, said in verdict["wrong"] if not verdict_line(said).startswith("Not yet")]
    assert passed == [], passed
    refused = [(source, said) for source, said in verdict["right"] if not verdict_line(said).startswith("Correct")]
    assert refused == [], refused
