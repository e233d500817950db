"""05 · scaling: the sweep, politeness, threads against coroutines, open files, a live chart."""

import copy
import math
import re
import subprocess
import sys

import nbformat
import nbformat.v4
import pytest

from nbrun import (BIG_N, CPU_COUNT, DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, SWEEP, check_live_redraw,
                   number, printed, solution_after, slide_and_read, text_of)
from tools.notebooks import client_for, prepare, small_parameters

NOTEBOOK = NOTEBOOKS / "05_scaling.ipynb"
MAC_LIMIT = 256  # the soft open-file limit macOS starts processes with

# Plausible wrong answers to each exercise, named by the function the exercise asks for.
WRONG_ANSWERS = {
    "fetch_politely": {
        "a sequential loop that ignores k": """
async def fetch_politely(target, n_requests, k):
    async with aiohttp.ClientSession() as session:
        return [await get_status(session, target) for _ in range(n_requests)]
""",
        "all at once, no limit": """
async def fetch_politely(target, n_requests, k):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(get_status(session, target) for _ in range(n_requests)))
""",
        "a new Semaphore for each request": """
async def fetch_politely(target, n_requests, k):
    async def one(session):
        async with asyncio.Semaphore(k):
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        "a Semaphore one too small": """
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k - 1)

    async def one(session):
        async with limit:
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
    },
    "workers_for_deadline": {
        "deadline // latency (0.6 // 0.2 is 2.0)": """
def workers_for_deadline(n_requests, latency, deadline):
    waves = int(deadline // latency)
    return math.ceil(n_requests / waves)
""",
        "threads from the total work": """
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests * latency / deadline)
""",
        "waves rounded, not floored": """
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / round(deadline / latency))
""",
        "threads floored, not ceiled": """
def workers_for_deadline(n_requests, latency, deadline):
    return n_requests // math.floor(round(deadline / latency, 9))
""",
    },
}


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
    # The default pool grows in waves of its real size; the native client stays near one latency.
    waves = math.ceil(SWEEP[-1] / number(r"the default pool has (\d+) threads", text))
    assert default[-1] >= waves * LATENCY * 0.95
    assert native[-1] < LATENCY * 1.5 + 0.3
    assert native[-1] < sync[-1] / 3


def test_05_reads_the_default_pool_size_from_a_pool(executed):
    text = text_of(executed("05_scaling.ipynb"))
    workers = number(r"the default pool has (\d+) threads", text)
    assert workers == DEFAULT_WORKERS  # this interpreter, this machine
    assert f"min(32, ({CPU_COUNT} or 1) + 4)" in text


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
    # Threads against coroutines: the pool adds threads and memory, the coroutines no threads.
    line = r"{} {}: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s, 0 failed"
    coroutines = re.search(line.format(BIG_N, "coroutines"), text)
    threads = re.search(line.format(BIG_N, "threads"), text)
    assert coroutines and threads, text
    # A pool reuses a thread whose answer is in before the next call is queued, and on a busy
    # machine starting threads is slow, so fewer than BIG_N start (92 of 200 seen under load).
    assert int(coroutines[1]) - int(coroutines[2]) <= 2
    assert int(threads[1]) - int(threads[2]) >= 20
    assert re.search(r"the pool started \d+ threads, \d+ KiB of memory each", text)
    # The native client stays near one latency at the largest count tested.
    assert float(coroutines[4]) < LATENCY * 3 + 0.5
    # Measured beside it, httpx is slower at the largest count, and slows as the count grows.
    counts = [BIG_N // 8, BIG_N // 4, BIG_N // 2]
    timings = {n: re.search(rf"^ +{n} requests: aiohttp +([\d.]+) s, httpx +([\d.]+) s", text, re.MULTILINE)
               for n in counts}
    assert all(timings.values()), text
    assert float(timings[counts[-1]][2]) > float(timings[counts[-1]][1])
    assert float(timings[counts[-1]][2]) > float(timings[counts[0]][2])
    assert number(rf"at {counts[-1]} requests, httpx took ([\d.]+) times as long as aiohttp", text) > 1
    assert re.search(r"Python [\d.]+: 12 requests, statuses \[200\]", text)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no open-file limit of this kind")
def test_05_open_files_are_the_coroutines_ceiling(executed):
    text = text_of(executed("05_scaling.ipynb"))
    free = number(rf"soft limit {MAC_LIMIT}, \d+ files already open, so (\d+) free", text)
    over = number(r"free; (\d+) requests at once, no cap", text)  # under 1,000: no comma
    assert over > MAC_LIMIT  # more requests than the limit has files
    # Without a cap, about the requests beyond the free files fail, with the system's message.
    failed = number(r"no cap: (\d+) failed", text)
    assert (over - free) * 0.5 <= failed <= over - free + 64
    assert "ClientConnectorError: Cannot connect to host" in text and "[Too many open files]" in text
    # With the connector capped below the limit, none fails; they go in waves instead.
    cap = number(r"the same with TCPConnector\(limit=(\d+)\): 0 failed", text)
    assert 1 <= cap < free
    assert f"{math.ceil(over / cap)} waves of at most {int(cap)} connections" in text


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no open-file limit of this kind")
def test_05_runs_clean_under_a_macs_open_file_limit(tmp_path):
    """The kernel starts with the macOS default soft limit: the set-up raises it, says so, and
    no request of the notebook fails, the BIG_N coroutines and threads included."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 4 * BIG_N:
        pytest.skip(f"the hard open-file limit here, {hard}, leaves nothing to raise the soft one to")

    def lower_the_limit():  # in the child only: the runner, and the kernel it starts, inherit it
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAC_LIMIT, hard))

    command = [sys.executable, "-m", "tools.notebooks", str(tmp_path), str(NOTEBOOK)]
    for name, value in small_parameters(NOTEBOOK.name).items():
        command += ["-p", name, repr(value)]
    done = subprocess.run(command, cwd=NOTEBOOKS.parent, preexec_fn=lower_the_limit,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]  # a failed request fails its cell, and the run
    text = text_of(nbformat.read(tmp_path / NOTEBOOK.name, as_version=4))
    assert re.search(rf"open-file limit [\d,]+ \(raised from {MAC_LIMIT}, as far as this process may\)", text)
    for kind in ("coroutines", "threads"):
        assert re.search(rf"{BIG_N} {kind}: peak .*, 0 failed", text), text
    assert re.search(r"TCPConnector\(limit=\d+\): 0 failed", text)


def test_05_checks_reject_plausible_wrong_answers(tmp_path):
    """Each wrong answer, swapped into its exercise cell and run with the check after it, gets
    "Not yet"; the solution, run the same way, gets "Correct"."""
    notebook = prepare(NOTEBOOK, small_parameters(NOTEBOOK.name))
    cells = notebook.cells
    # Everything the exercises rely on: the set-up, up to the cell that defines get_status.
    (defines,) = [i for i, cell in enumerate(cells) if "async def get_status(" in cell.source]
    trial = copy.deepcopy(notebook)
    trial.cells = copy.deepcopy(cells[:defines + 1])
    checks = []
    for index, cell in enumerate(cells):
        if "exercise" not in cell.metadata.get("tags", []):
            continue
        name = re.search(r"def (\w+)\(", cell.source)[1]
        solution = solution_after(notebook, index)
        check = next(later for later in cells[index:] if "check" in later.metadata.get("tags", []))
        answers = {**WRONG_ANSWERS[name], "the solution": solution}
        assert len(WRONG_ANSWERS[name]) >= 2
        for label, source in answers.items():
            trial.cells.append(nbformat.v4.new_code_cell(source.strip()))
            trial.cells.append(copy.deepcopy(check))
            checks.append((name, label, trial.cells[-1]))
    assert {name for name, _, _ in checks} == set(WRONG_ANSWERS)
    client_for(trial, tmp_path, timeout=300).execute()
    for name, label, check in checks:
        said = printed(check)
        expected = "Correct" if label == "the solution" else "Not yet"
        assert said.startswith(expected), f"{name}, {label}: {said!r}"


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read("05_scaling.ipynb", tmp_path, "await asyncio.wrap_future(drawing)")
    check_live_redraw(notebook, seen, r"aiohttp (?P<total>[\d.]+) s", ideal=LATENCY)


def test_the_trace_shows_the_semaphores_waits(executed):
    text = text_of(executed("05_scaling.ipynb"))
    waited = number(r"(\d+) of \d+ tasks waited for a slot", text)
    assert waited == N_REQUESTS - 5  # POLITE_K = 5: all but the first wave
    longest = number(r"waited for a slot, the longest ([\d.]+) s", text)
    assert longest >= (math.ceil(N_REQUESTS / 5) - 1) * LATENCY * 0.9
