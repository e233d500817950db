"""03 · the event loop: the post's code as it was, its real errors, and each fix, on this Python."""

import re
import sys

import nbformat
import pytest

from nbrun import (DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, errors_in, execute,
                   number, printed, text_of)

NAME = "03_event_loop.ipynb"
TEMPORARY_FOLDERS = "async-post-*"  # the prefix run_script gives its folders
FEW = 3  # orphaned tasks fewer than any default pool has threads (at least 5: one CPU + 4)

WAIT_TYPE_ERROR = "TypeError: Passing coroutines is forbidden, use tasks explicitly."
NO_LOOP = "RuntimeError: There is no current event loop in thread 'MainThread'."


def expected_row(version: tuple[int, int, int]) -> dict[str, str]:
    """What the probe and the post's script print on ``version``: measured on 3.10.13, 3.11.7, 3.12.1,
    3.13.0, 3.14.10 and 3.15.2; the 3.10.0-3.10.9 and 3.11.0-3.11.1 warning from the asyncio docs."""
    warns = "DeprecationWarning: There is no current event loop"
    if version >= (3, 14):
        outside = NO_LOOP
    elif version >= (3, 12) or (3, 11) <= version < (3, 11, 2) or version < (3, 10, 10):
        outside = warns
    else:
        outside = "quiet"
    return {
        "get_event_loop() outside a loop": outside,
        # asyncio.run sets the current loop to None when it ends: no version makes a loop after that.
        "get_event_loop() after asyncio.run()": NO_LOOP,
        "get_event_loop_policy()": "quiet" if version < (3, 14) else (
            "DeprecationWarning: 'asyncio.get_event_loop_policy' is deprecated and slated for removal in Python 3.16"),
        "asyncio.wait(coroutines)": WAIT_TYPE_ERROR if version >= (3, 11) else (
            "DeprecationWarning: The explicit passing of coroutine objects to asyncio.wait() is deprecated "
            "since Python 3.8, and scheduled for removal in Python 3.11."),
        "the post's script": "runs to the end" if version < (3, 11) else (
            f"stops: {NO_LOOP if version >= (3, 14) else WAIT_TYPE_ERROR}"),
    }


# Plausible wrong answers for each exercise, in order; each must get "Not yet" from its check.
WRONG_ANSWERS = [
    [  # Exercise 1: fixed_async_code(n)
        # The post's run_until_complete, which nest_asyncio2 (applied above the exercise) lets through.
        """
async def fixed_async_code(n):
    loop = asyncio.get_event_loop()
    tasks = [loop.create_task(get_response(loop)) for _ in range(n)]
    completed_tasks, _ = loop.run_until_complete(asyncio.wait(tasks))
    return [task.result()[0] for task in completed_tasks]
""",
        # A loop of its own (issue 19): nest_asyncio2 patches the loop class, so a new loop runs too.
        """
async def fixed_async_code(n):
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(get_response(loop)) for _ in range(n)]
    completed_tasks, _ = loop.run_until_complete(asyncio.wait(tasks))
    return [task.result()[0] for task in completed_tasks]
""",
        # asyncio.run inside a coroutine: nest_asyncio2's asyncio.run calls run_until_complete.
        """
async def fixed_async_code(n):
    async def send_all():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(get_response(loop) for _ in range(n)))
    return [status for status, _ in asyncio.run(send_all())]
""",
        # A loop of its own in another thread: no nest_asyncio2 needed, still not the notebook's loop.
        """
async def fixed_async_code(n):
    async def send_all():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(get_response(loop) for _ in range(n)))
    return [status for status, _ in await asyncio.to_thread(asyncio.run, send_all())]
""",
        # Bare coroutines to asyncio.wait: a TypeError from 3.11, a DeprecationWarning on 3.10.
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    completed_tasks, _ = await asyncio.wait([get_response(loop) for _ in range(n)])
    return [task.result()[0] for task in completed_tasks]
""",
        # The (status, time) pairs instead of the status codes: the wrong shape.
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(get_response(loop)) for _ in range(n)]
    completed_tasks, _ = await asyncio.wait(tasks)
    return [task.result() for task in completed_tasks]
""",
        # A set of status codes: the wrong type.
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(get_response(loop)) for _ in range(n)]
    completed_tasks, _ = await asyncio.wait(tasks)
    return {task.result()[0] for task in completed_tasks}
""",
        # One request after another: right statuses, the post's point lost (one at a time, counted by the check).
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    return [(await get_response(loop))[0] for _ in range(n)]
""",
        # The notebook's N_REQUESTS instead of the argument: another n shows it.
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(get_response(loop)) for _ in range(N_REQUESTS)]
    completed_tasks, _ = await asyncio.wait(tasks)
    return [task.result()[0] for task in completed_tasks]
""",
        # One request short, and right for n = 1 only by accident of the first case.
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(get_response(loop)) for _ in range(max(1, n - 1))]
    completed_tasks, _ = await asyncio.wait(tasks)
    return [200] * n if all(task.result()[0] == 200 for task in completed_tasks) else []
""",
        # No request at all: the statuses made up, a latency slept (the check counts no requests.get).
        """
async def fixed_async_code(n):
    await asyncio.sleep(LATENCY)
    return [200] * n
""",
        # Threads of its own, waited for in the coroutine: all at once, but the loop's thread held.
        """
import concurrent.futures
async def fixed_async_code(n):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return [response.status_code for response in pool.map(get, [url] * n)]
""",
        # The request called directly in each task: the loop's thread held, one request at a time.
        """
async def fixed_async_code(n):
    async def one():
        return get(url).status_code
    return list(await asyncio.gather(*(one() for _ in range(n))))
""",
        # Shared state: a list kept between calls, so the second call returns too many.
        """
SENT = []
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    SENT.extend(await asyncio.gather(*(loop.run_in_executor(None, get, url) for _ in range(n))))
    return [response.status_code for response in SENT]
""",
    ],
    [  # Exercise 2: finish_order(delays)
        # gather: the order the jobs were passed in.
        """
async def finish_order(delays):
    return await asyncio.gather(*(job(i, d) for i, d in enumerate(delays)))
""",
        # The right order for the delays as given, worked out without running a job.
        """
async def finish_order(delays):
    return sorted(range(len(delays)), key=lambda i: delays[i])
""",
        # gather, then the indexes sorted by delay (issue 19): the order worked out, not observed.
        """
async def finish_order(delays):
    indexes = await asyncio.gather(*(job(i, d) for i, d in enumerate(delays)))
    return sorted(indexes, key=lambda i: delays[i])
""",
        # as_completed with a timeout of the longest delay (issue 19): a TimeoutError, not a traceback.
        """
async def finish_order(delays):
    jobs = [job(i, d) for i, d in enumerate(delays)]
    return [await next_done for next_done in asyncio.as_completed(jobs, timeout=max(delays))]
""",
        # The jobs one after another, shortest first: the right order for honest delays, the sum of them.
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
        # The notebook's own delays instead of the argument.
        """
async def finish_order(delays_given):
    jobs = [job(i, d) for i, d in enumerate(delays)]
    return [await next_done for next_done in asyncio.as_completed(jobs)]
""",
        # Shared state: the order kept between calls, so the second run of a case returns too much.
        """
ORDER = []
async def finish_order(delays):
    async def run(i, d):
        ORDER.append(await job(i, d))
    await asyncio.gather(*(run(i, d) for i, d in enumerate(delays)))
    return ORDER
""",
        # The indexes as strings: the wrong type.
        """
async def finish_order(delays):
    jobs = [job(i, d) for i, d in enumerate(delays)]
    return [str(await next_done) for next_done in asyncio.as_completed(jobs)]
""",
    ],
]

# Right answers written differently from the solutions; each must get "Correct".
RIGHT_ANSWERS = [
    [  # Exercise 1
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    responses = await asyncio.gather(*(loop.run_in_executor(None, get, url) for _ in range(n)))
    return [response.status_code for response in responses]
""",
        """
async def fixed_async_code(n):
    loop = asyncio.get_running_loop()
    statuses = []
    for next_done in asyncio.as_completed([get_response(loop) for _ in range(n)]):
        status_code, _ = await next_done
        statuses.append(status_code)
    return statuses
""",
        """
async def fixed_async_code(n):
    results = await asyncio.gather(*(asyncio.to_thread(get, url) for _ in range(n)))
    return [result.status_code for result in results]
""",
    ],
    [  # Exercise 2
        """
async def finish_order(delays):
    order = []
    async def run(i, d):
        order.append(await job(i, d))
    await asyncio.gather(*(run(i, d) for i, d in enumerate(delays)))
    return order
""",
        """
async def finish_order(delays):
    pending = {asyncio.create_task(job(i, d)) for i, d in enumerate(delays)}
    order = []
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        order += sorted(task.result() for task in done)
    return order
""",
        """
async def finish_order(delays):
    order = []
    tasks = [asyncio.create_task(job(i, d)) for i, d in enumerate(delays)]
    for task in tasks:
        task.add_done_callback(lambda done: order.append(done.result()))
    await asyncio.gather(*tasks)
    return order
""",
        # A tuple of the indexes, in finishing order.
        """
async def finish_order(delays):
    return tuple([await next_done for next_done in asyncio.as_completed([job(i, d) for i, d in enumerate(delays)])])
""",
    ],
]


@pytest.fixture(scope="module")
def run03(tmp_path_factory):
    """The notebook executed with small parameters, and the temporary folder its kernel used.

    The kernel gets a temporary folder of its own ($TMPDIR), so that the folders other runs on
    this machine leave in /tmp are not mistaken for its own.
    """
    private = tmp_path_factory.mktemp("tmpdir03")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(private))
        notebook = execute(NOTEBOOKS / NAME, tmp_path_factory.mktemp("run03"))
    return notebook, private


@pytest.fixture(scope="module")
def few03(tmp_path_factory):
    """The notebook executed with fewer requests than the default pool has threads, a short latency
    and a short PATIENCE: the scripts' time limit must leave a fresh Python time to start."""
    return execute(NOTEBOOKS / NAME, tmp_path_factory.mktemp("few03"),
                   parameters={"N_REQUESTS": FEW, "LATENCY": 0.05, "PATIENCE": 1})


def cell_with(notebook: nbformat.NotebookNode, fragment: str) -> nbformat.NotebookNode:
    (cell,) = [cell for cell in notebook.cells if cell.cell_type == "code" and fragment in cell.source]
    return cell


def stderr_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs
                   if output.output_type == "stream" and output.name == "stderr")


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs
                   if output.output_type == "stream" and output.name == "stdout")


def rerun_error() -> str:
    """What cell (a) raises when it runs again after nest_asyncio2.apply()."""
    return WAIT_TYPE_ERROR.split(": ", 1)[1] if sys.version_info >= (3, 11) else "Cannot close a running event loop"


def test_03_shows_the_real_errors_and_the_fixes(run03):
    notebook, _ = run03
    text = text_of(notebook)
    errors = [output.evalue for output in errors_in(notebook)]
    assert errors == ["This event loop is already running", "Cannot close a running event loop", rerun_error()]
    assert "get_event_loop() returned the running loop: True" in text
    if sys.version_info >= (3, 11):
        assert f"Python {sys.version_info.major}.{sys.version_info.minor}: {WAIT_TYPE_ERROR}" in text
    else:
        assert "Python 3.10 still accepts bare coroutines (3 done), with DeprecationWarning: The explicit" in text
    twice = printed(cell_with(notebook, "post_twice = "))
    assert ("RuntimeError: Event loop is closed" in twice) == (sys.version_info < (3, 14))
    assert (NO_LOOP in twice) == (sys.version_info >= (3, 14))
    # The asyncio.run script and the probe succeed everywhere; the post's own script only before 3.11.
    assert text.count("--- exit code 0 ---") == (2 if sys.version_info >= (3, 11) else 3)
    assert "gather:       [0, 1, 2, 3, 4]" in text
    assert "as_completed: [1, 3, 2, 4, 0]" in text
    blocked = number(r"blocked: ([\d.]+) s", text)
    awaited = number(r"awaited: ([\d.]+) s", text)
    assert blocked >= N_REQUESTS * LATENCY * 0.95 and awaited < blocked / 4


def test_03_version_row_measured_now_is_the_tables_row_for_this_python(run03):
    notebook, _ = run03
    said = stdout_of(cell_with(notebook, 'run_script(probe_script'))
    version = ".".join(map(str, sys.version_info[:3]))
    lines = said.splitlines()
    assert lines[0] == f"Python {version}, measured now"
    measured = dict(line.split(": ", 1) for line in lines[1:] if ": " in line and not line.startswith("---"))
    assert measured == expected_row(sys.version_info[:3])
    # The markdown table's row for this minor version says the same, column by column.
    (table,) = [cell.source for cell in notebook.cells
                if cell.cell_type == "markdown" and cell.source.startswith("### Python 3.10 to 3.15, measured")]
    rows = {row[0].split(" ")[0]: row for row in (
        [column.strip().replace("`", "") for column in line.strip("|").split("|")]
        for line in table.splitlines() if re.match(r"\| 3\.1\d ", line))}
    assert list(rows) == ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
    row = rows[f"{sys.version_info.major}.{sys.version_info.minor}"]
    outside, after_run, policy, wait, script = (measured[key] for key in expected_row(sys.version_info[:3]))
    if sys.version_info[:3] >= (3, 10, 10) and not (3, 11) <= sys.version_info[:3] < (3, 11, 2):
        assert row[1].split(" (")[0] == outside
    assert row[2] == after_run
    assert row[3] == policy
    assert row[4].startswith(wait.split(":")[0])
    assert script.split(":")[0] in row[5] or script == row[5] == "runs to the end"
    if script.startswith("stops"):
        assert script.split(": ", 1)[1].split(":")[0] in row[5]


def test_03_orphaned_tasks_verdict_when_they_fill_the_pool(run03):
    notebook, _ = run03
    said = printed(cell_with(notebook, "alone, pool = "))
    took = number(r"one request took ([\d.]+) s after the error", said)
    alone = number(r", ([\d.]+) s alone", said)
    assert f"orphaned tasks: {N_REQUESTS}, threads in the default pool: {DEFAULT_WORKERS}" in said
    if N_REQUESTS >= DEFAULT_WORKERS:  # the pool is full: the request waits a wave at least
        assert took > 1.5 * alone and took > 1.5 * LATENCY
        assert "it waited for a thread: it queued behind the orphaned tasks" in said
    served = number(r"requests the server had served since the error, when it was timed: (\d+)", said)
    assert 1 <= served <= N_REQUESTS + 1
    if N_REQUESTS % DEFAULT_WORKERS == 0:  # the timed request ran in a wave of its own, after every orphan
        assert served == N_REQUESTS + 1


def test_03_orphaned_tasks_verdict_when_threads_are_free(few03):
    said = printed(cell_with(few03, "alone, pool = "))
    assert FEW < DEFAULT_WORKERS
    assert f"orphaned tasks: {FEW}, threads in the default pool: {DEFAULT_WORKERS}" in said
    # The verdict follows the times it printed; neither branch blames the orphans. (On a busy machine
    # the request can take longer than the one timed alone, and the cell says so.)
    took, alone = number(r"one request took ([\d.]+) s after the error", said), number(r", ([\d.]+) s alone", said)
    free, busy = "it did not wait for a thread: one was free", f"though {DEFAULT_WORKERS - FEW} threads were free"
    if abs(took - 1.5 * alone) < 0.015:  # too close to tell from times printed to 0.01 s
        assert free in said or busy in said
    else:
        assert (free if took < 1.5 * alone else busy) in said
    assert "queued behind" not in said
    # Every error is one the notebook teaches: no script stopped by its time limit (PATIENCE is short here).
    assert [output.evalue for output in errors_in(few03)] == [
        "This event loop is already running", "Cannot close a running event loop", rerun_error()]
    assert printed(cell_with(few03, "post_run = run_post(")).count("--- exit code") == 1


def test_03_as_completed_with_async_for_from_3_13(run03):
    notebook, _ = run03
    said = printed(cell_with(notebook, "async for task in asyncio.as_completed"))
    assert "for, await (3.10+):       [1, 3, 2, 4, 0]" in said
    if sys.version_info >= (3, 13):
        assert "async for (3.13+):        [1, 3, 2, 4, 0] (the tasks themselves" in said
    else:
        assert "says TypeError: 'async for' requires an object with __aiter__ method" in said


def test_03_cell_a_again_after_nest_asyncio2_fails_with_the_next_error(run03):
    notebook, _ = run03
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source == "async_code()"]
    assert len(cells) == 2
    (first,), (again,) = ([output for output in cell.outputs if output.output_type == "error"] for cell in cells)
    assert first.evalue == "This event loop is already running"
    assert again.evalue == rerun_error()
    explained = notebook.cells[notebook.cells.index(cells[1]) - 1].source
    assert f"`{WAIT_TYPE_ERROR}`" in explained and "`RuntimeError: Cannot close a running event" in explained


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
    runs = [cell for cell in notebook.cells if cell.cell_type == "code" and "run_post(" in cell.source
            and "def run_post" not in cell.source]
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
    blocking = printed(cell_with(notebook, "with trace_loop() as blocked:"))
    assert number(r"blocker's longest step on the loop: ([\d.]+) s", blocking) >= LATENCY * 0.99
    assert number(r"longest stretch the loop thread was busy: ([\d.]+) s", blocking) >= LATENCY * 0.99
    fixed = printed(cell_with(notebook, "with trace_loop() as fixed:"))
    assert number(r"longest stretch the loop thread was busy: ([\d.]+) s", fixed) < LATENCY / 2


def test_03_await_coro_does_not_switch_and_create_task_does(run03):
    notebook, _ = run03
    said = printed(cell_with(notebook, 'print("--- await coro_a() ---")'))
    a, b = "I am coro_a(). Hi!", "I am coro_b(). I sure hope no one hogs the event loop..."
    expected = ["--- await coro_a() ---", a, a, a, b, "--- await asyncio.create_task(coro_a()) ---", b, a, a, a]
    assert said.splitlines() == expected


def test_03_demonstrates_nest_asyncio2_which_the_kernel_requires(run03):
    notebook, _ = run03
    assert re.search(r"ipykernel [\d.]+ requires \['nest-asyncio2", text_of(notebook))
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "nest_asyncio2.apply()" in sources and not re.search(r"import nest_asyncio\b(?!2)", sources)
    (nested,) = [printed(cell) for cell in notebook.cells
                 if cell.cell_type == "code" and cell.source == "async_code_nested()"]
    assert nested.count("200 :  ") == N_REQUESTS and "total: " in nested


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_03_checks_accept_the_solution_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])


def test_03_checks_say_why_the_issues_wrong_answers_are_wrong(verdicts):
    said = {source.strip().splitlines()[1].strip(): verdict for source, verdict in verdicts[0]["wrong"]}
    assert "it set an event loop running" in said["loop = asyncio.new_event_loop()"]
    assert "returned None" in verdicts[0]["starter"]  # the starter is told what it returned, not more
    (own_pool,) = [verdict for source, verdict in verdicts[0]["wrong"] if "ThreadPoolExecutor" in source]
    assert "it held the loop's thread" in own_pool
    # One after another: the check counts the requests itself, as it must on a real site, where the
    # server counts nothing for us, and a fast site's times could pass for waves of the pool.
    (one_by_one,) = [verdict for source, verdict in verdicts[0]["wrong"] if "(await get_response(loop))[0]" in source]
    assert "at most 1 at once" in one_by_one
    said = [verdict for _, verdict in verdicts[1]["wrong"]]
    assert "raised TimeoutError" in said[3] and "Traceback" not in said[3]  # as_completed(timeout=max(delays))
    assert "the jobs finished in the order [1, 3, 4, 0, 2]" in said[2]  # gather, sorted by delay


def test_loop_turns_sees_a_held_loop_thread_and_refuses_a_bad_interval():
    import asyncio
    import time

    from helpers.loops import loop_turns

    async def turns_while_held_and_while_awaiting():
        async with loop_turns() as turns:
            before = len(turns)
            time.sleep(0.05)  # holds the loop's thread: its task cannot wake
            held = len(turns) - before
            before = len(turns)
            await asyncio.sleep(0.05)  # its task's earlier deadline comes first
            return held, len(turns) - before

    held, awaited = asyncio.run(turns_while_held_and_while_awaiting())
    assert held == 0 and awaited >= 1

    async def bad_interval():
        async with loop_turns(every=0):
            pass

    with pytest.raises(ValueError, match=r"every must be a number of seconds from 0 to 1, got 0"):
        asyncio.run(bad_interval())


def test_calls_counted_counts_calls_in_pool_threads_and_puts_the_function_back():
    import asyncio
    import time
    import types

    from helpers.loops import calls_counted

    owner = types.SimpleNamespace(wait=time.sleep)

    async def at_once_then_one_by_one():
        loop = asyncio.get_running_loop()
        with calls_counted(owner, "wait") as together:
            await asyncio.gather(*(loop.run_in_executor(None, owner.wait, 0.5) for _ in range(3)))
        with calls_counted(owner, "wait") as apart:
            for _ in range(3):
                await loop.run_in_executor(None, owner.wait, 0.01)
        return together, apart

    together, apart = asyncio.run(at_once_then_one_by_one())
    assert (together.made, together.peak, together.running) == (3, 3, 0)
    assert (apart.made, apart.peak) == (3, 1)
    assert owner.wait is time.sleep
    with pytest.raises(ValueError, match="name must name a function"):
        with calls_counted(owner, "missing"):
            pass
