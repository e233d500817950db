"""03 · the event loop: the post's code as it was, its real errors, and each fix."""

import re
import sys

import nbformat
import pytest

from nbrun import LATENCY, N_REQUESTS, assert_judged_rightly, errors_in, number, printed, text_of

NAME = "03_event_loop.ipynb"
TEMPORARY_FOLDERS = "async-post-*"  # the prefix run_script gives its folders

# Plausible wrong answers for each exercise, in order; each must get "Not yet" from its check.
WRONG_ANSWERS = [
    [  # Exercise 1: fixed_async_code()
        # The post's run_until_complete, which nest_asyncio2 (applied above the exercise) lets through.
        """
async def fixed_async_code():
    loop = asyncio.get_event_loop()
    tasks = [loop.create_task(get_response(loop)) for _ in range(N_REQUESTS)]
    completed_tasks, _ = loop.run_until_complete(asyncio.wait(tasks))
    return [task.result()[0] for task in completed_tasks]
""",
        # asyncio.run inside a coroutine: nest_asyncio2's asyncio.run calls run_until_complete.
        """
async def fixed_async_code():
    async def send_all():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(get_response(loop) for _ in range(N_REQUESTS)))
    return [status for status, _ in asyncio.run(send_all())]
""",
        # Bare coroutines to asyncio.wait: a TypeError from 3.11, a DeprecationWarning on 3.10.
        """
async def fixed_async_code():
    loop = asyncio.get_running_loop()
    completed_tasks, _ = await asyncio.wait([get_response(loop) for _ in range(N_REQUESTS)])
    return [task.result()[0] for task in completed_tasks]
""",
        # The (status, time) pairs instead of the status codes.
        """
async def fixed_async_code():
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(get_response(loop)) for _ in range(N_REQUESTS)]
    completed_tasks, _ = await asyncio.wait(tasks)
    return [task.result() for task in completed_tasks]
""",
        # One request after another: right statuses, the post's point lost.
        """
async def fixed_async_code():
    loop = asyncio.get_running_loop()
    return [(await get_response(loop))[0] for _ in range(N_REQUESTS)]
""",
    ],
    [  # Exercise 2: finish_order(delays)
        # gather: the order the jobs were passed in.
        """
async def finish_order(delays):
    return await asyncio.gather(*(job(i, d) for i, d in enumerate(delays)))
""",
        # The right order, worked out without running a job.
        """
async def finish_order(delays):
    return sorted(range(len(delays)), key=lambda i: delays[i])
""",
        # The jobs one after another, shortest first: the right order, the sum of the delays.
        """
async def finish_order(delays):
    return [await job(i, d) for i, d in sorted(enumerate(delays), key=lambda pair: pair[1])]
""",
        # as_completed, but the results read back in the order the tasks were made.
        """
async def finish_order(delays):
    tasks = [asyncio.create_task(job(i, d)) for i, d in enumerate(delays)]
    for next_done in asyncio.as_completed(tasks):
        await next_done
    return [task.result() for task in tasks]
""",
    ],
]


@pytest.fixture(scope="module")
def run03(executed, tmp_path_factory):
    """The notebook executed with small parameters, and the temporary folder its kernel used.

    The kernel gets a temporary folder of its own ($TMPDIR), so that the folders other runs on
    this machine leave in /tmp (older copies of this notebook did) are not mistaken for its own.
    """
    private = tmp_path_factory.mktemp("tmpdir03")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(private))
        notebook = executed(NAME)
    return notebook, private


def cell_with(notebook: nbformat.NotebookNode, fragment: str) -> nbformat.NotebookNode:
    (cell,) = [cell for cell in notebook.cells if cell.cell_type == "code" and fragment in cell.source]
    return cell


def stderr_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs
                   if output.output_type == "stream" and output.name == "stderr")


def test_03_shows_the_real_errors_and_the_fixes(run03):
    notebook, _ = run03
    text = text_of(notebook)
    errors = [output.evalue for output in errors_in(notebook)]
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
    notebook, private = run03
    used = re.findall(rf"{re.escape(str(private))}/{TEMPORARY_FOLDERS[:-1]}\w+", text_of(notebook))
    assert used  # the scripts' tracebacks name the folders they ran in
    assert list(private.glob(TEMPORARY_FOLDERS)) == []


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


def test_03_demonstrates_nest_asyncio2_which_the_kernel_requires(run03):
    notebook, _ = run03
    assert re.search(r"ipykernel [\d.]+ requires \['nest-asyncio2", text_of(notebook))
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "nest_asyncio2.apply()" in sources and not re.search(r"import nest_asyncio\b(?!2)", sources)
    nested = printed(cell_with(notebook, "def async_code_nested("))
    assert nested.count("200 :  ") == N_REQUESTS and "total: " in nested


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_03_checks_accept_the_solution_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
