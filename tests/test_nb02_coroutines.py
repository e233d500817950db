"""02 · the coroutine version: the default pool's waves, a sized pool, a live chart."""

import math
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

import helpers

from nbrun import (
    CPU_COUNT, DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, check_live_redraw, errors_in,
    execute, number, printed, run_code, slide_and_read, tagged, text_of,
)

NAME = "02_coroutines.ipynb"


def check_waves(text: str) -> None:
    """The default pool ran in waves, a sized pool in one, and the server's peak counts agree."""
    workers = DEFAULT_WORKERS
    waves = math.ceil(N_REQUESTS / workers)
    assert f"{N_REQUESTS} requests / {workers} threads = {waves} waves" in text
    assert f"{CPU_COUNT} = {workers - 4}, so the default pool has min(32, {workers - 4} + 4) = {workers} threads\n" in text
    assert f"the most requests the server held at once: {min(workers, N_REQUESTS)}" in text
    sync = number(r"sync: total +([\d.]+) s", text)
    default = number(r"default pool: total +([\d.]+) s", text)
    sized = number(r"pool of N_REQUESTS: total +([\d.]+) s", text)
    assert waves * LATENCY * 0.9 <= default < waves * LATENCY * 1.5 + 0.3
    assert LATENCY * 0.9 <= sized < LATENCY * 1.5 + 0.3
    assert sized < sync / 3 and default < sync / 2
    assert f"server peak: {N_REQUESTS}" in text
    assert "16 requests took about 0.3 s, 4 took about 0.5 s" in text
    assert "The server never held all" not in text  # twelve requests are sent well within a latency
    assert "One wave" not in text  # more requests than threads: the waves show


def test_02_default_pool_runs_in_waves_and_a_sized_pool_in_one(executed):
    check_waves(text_of(executed(NAME)))


def test_against_a_rooms_shared_server_the_lesson_holds(tmp_path, monkeypatch):
    # The room's server has a latency of its own, and other students' requests are in flight.
    with helpers.start_server(latency=0.5) as room, ThreadPoolExecutor(3) as others:
        monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", room.url)
        busy = [others.submit(requests.get, room.url_for(delay=15), timeout=30) for _ in range(3)]
        text = text_of(execute(NOTEBOOKS / NAME, tmp_path))
        assert all(answer.result().ok for answer in busy)
    assert f"requests go to {room.url}/?delay={LATENCY}&client=" in text
    check_waves(text)  # this notebook's latency, and this notebook's own peak counts


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read(NAME, tmp_path, "await live.wait()")
    check_live_redraw(notebook, seen, r"sized pool (?P<total>[\d.]+) s", ideal=LATENCY)


def test_the_trace_splits_each_request_into_a_wait_for_a_thread_and_one_for_the_server(executed):
    text = text_of(executed(NAME))
    workers = DEFAULT_WORKERS
    waited = number(rf"(\d+) of {N_REQUESTS} calls waited for a thread", text)
    assert waited == max(0, N_REQUESTS - workers)  # every wave after the first
    longest = number(r"waited for a thread, the longest ([\d.]+) s", text)
    assert longest >= (math.ceil(N_REQUESTS / workers) - 1) * LATENCY * 0.9
    low, high = number(r"in flight: ([\d.]+) to", text), number(r"in flight: [\d.]+ to ([\d.]+) s each", text)
    assert LATENCY * 0.9 <= low <= high < LATENCY * 1.5 + 0.2


def test_its_the_threads_io_overlaps_without_asyncio_and_cpu_work_does_not_in_threads(executed):
    text = text_of(executed(NAME))
    plain = number(r"no asyncio: ([\d.]+) s", text)
    assert LATENCY * 0.9 <= plain < LATENCY * 1.5 + 0.3  # the sized pool's wall, with no event loop
    with_asyncio = number(r"with asyncio and the same pool: ([\d.]+) s", text)
    close = abs(plain - with_asyncio) <= 0.25 * max(plain, with_asyncio) + 0.05 + 0.01  # printed to 0.01 s
    assert ("The two runs on threads took about the same time." in text) == close or abs(
        abs(plain - with_asyncio) - 0.25 * max(plain, with_asyncio) - 0.05) < 0.02  # a verdict true to its numbers
    in_turn = number(r"four sums one after another: ([\d.]+) s", text)
    in_threads = number(r"in four threads: ([\d.]+) s", text)
    assert in_threads >= 0.6 * in_turn  # four sums that take turns for the GIL gain nothing
    if in_threads >= 0.81 * in_turn:  # the verdict tests its own condition (times printed to 0.01 s)
        assert "The threads took turns: four sums in threads took about as long" in text
    elif in_threads <= 0.79 * in_turn:
        assert "The threads were faster this time: another program probably slowed" in text


def test_to_thread_copies_the_coroutines_context_and_run_in_executor_does_not(executed):
    text = text_of(executed(NAME))
    assert "asyncio.to_thread's function saw: 'set in the coroutine'" in text
    assert "run_in_executor's function saw:   '(not set)'" in text


LIMIT_LINE = re.compile(r"^ *(kernel\.[\w-]+|vm\.max_map_count|ulimit -u|cgroup pids\.max): ([\d,]+) threads more$",
                        re.MULTILINE)


def limits_printed(text: str) -> dict[str, int]:
    return {name: int(more.replace(",", "")) for name, more in LIMIT_LINE.findall(text)}


def test_a_waiting_thread_costs_little_memory_and_the_smallest_limit_is_named(executed):
    text = text_of(executed(NAME))
    per_thread = number(r"1,000 waiting threads: memory \+([\d.]+) KiB each", text)
    reserved = number(r"address space reserved: ([\d.]+) MiB each", text)
    assert 0 < per_thread < 1024 <= reserved * 1024  # a thread touches far less than it reserves
    if not Path("/proc/self/maps").exists():
        assert "no thread limit to read on this system" in text
        return
    maps = number(r"memory maps: ([\d.]+) each", text)
    assert 0 <= maps < 10
    assert ("vm.max_map_count does not limit threads here" in text) == (maps < 0.5)  # as the C library has it
    printed_limits = limits_printed(text)
    running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    for name in ("threads-max", "pid_max"):  # what is left of each, after every program's threads
        total = int((Path("/proc/sys/kernel") / name).read_text())
        assert total - running - 2000 < printed_limits[f"kernel.{name}"] < total
    if maps >= 0.5:
        assert 0 < printed_limits["vm.max_map_count"] < int(Path("/proc/sys/vm/max_map_count").read_text())
    assert ("ulimit -u" in printed_limits) == (os.getuid() != 0 and psutil.Process().rlimit(psutil.RLIMIT_NPROC)[0]
                                                != psutil.RLIM_INFINITY)
    first = min(printed_limits, key=printed_limits.get)
    assert f"the first limit met here: {first}, after {printed_limits[first]:,} more threads" in text


LIMITS_CELL = "left = threads_left(maps_per_thread)"


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0 or not Path("/proc/self/maps").exists(),
                    reason="root on Linux: the case where ulimit -u is not enforced")
def test_for_root_a_small_ulimit_u_is_never_named_the_first_limit(tmp_path):
    """Linux does not enforce RLIMIT_NPROC for root: as root, 800 threads start under `ulimit -u 300`
    (measured), so a small one must not be printed as the limit a program meets first."""
    seen = {}

    def lower_then_rerun(client, notebook):
        cell = next(cell for cell in notebook.cells if cell.source.startswith(LIMITS_CELL))
        run_code(client, notebook, "_soft, _hard = process.rlimit(psutil.RLIMIT_NPROC)\n"
                                   "process.rlimit(psutil.RLIMIT_NPROC, (100, _hard))")
        seen["text"] = run_code(client, notebook, cell.source)
        run_code(client, notebook, "process.rlimit(psutil.RLIMIT_NPROC, (_soft, _hard))")

    execute(NOTEBOOKS / NAME, tmp_path, then=lower_then_rerun)
    assert "ulimit -u does not limit threads here: Linux does not enforce it for root" in seen["text"]
    assert "ulimit -u" not in limits_printed(seen["text"])
    assert "the first limit met here: ulimit -u" not in seen["text"]


PIDS_CGROUP = Path("/sys/fs/cgroup/pids")  # cgroup v1's pids controller, as on this machine


@pytest.mark.skipif(not (PIDS_CGROUP / "cgroup.procs").exists() or os.getuid() != 0,
                    reason="needs root and cgroup v1's pids controller to make a small group")
def test_a_cgroups_pids_max_is_read_and_named_when_it_comes_first(tmp_path):
    """A container's or a login's cgroup can cap threads below every kernel setting; put the
    kernel in a group of its own with room for 50 more threads, and the cell must say so."""
    group = PIDS_CGROUP / f"test-nb02-{os.getpid()}"
    seen = {}

    def confine_then_rerun(client, notebook):
        cell = next(cell for cell in notebook.cells if cell.source.startswith(LIMITS_CELL))
        kernel = psutil.Process(int(run_code(client, notebook, "print(os.getpid())")))
        group.mkdir()
        try:
            (group / "pids.max").write_text(str(kernel.num_threads() + 50))
            (group / "cgroup.procs").write_text(str(kernel.pid))
            seen["text"] = run_code(client, notebook, cell.source)
        finally:
            (PIDS_CGROUP / "cgroup.procs").write_text(str(kernel.pid))
            group.rmdir()

    execute(NOTEBOOKS / NAME, tmp_path, then=confine_then_rerun)
    more = limits_printed(seen["text"])["cgroup pids.max"]
    assert 40 <= more <= 50  # the kernel's own threads come and go a little
    assert f"the first limit met here: cgroup pids.max, after {more:,} more threads" in seen["text"]


def test_cancelling_a_run_stops_the_queued_requests_not_those_in_threads(executed):
    text = text_of(executed(NAME))
    match = re.search(rf"at the cancel the server held (\d+) requests; in the end it answered (\d+) of the {N_REQUESTS}\n",
                      text)
    assert match, text
    running, answered = int(match[1]), int(match[2])
    assert running <= answered <= DEFAULT_WORKERS  # what was in a thread ran to its end; no more
    assert answered < N_REQUESTS  # the requests still queued for a thread were never sent
    assert (f"Never sent, still queued for a thread at the cancel: {N_REQUESTS - answered}; "
            f"run to their end, already in threads: {answered}." in text)


def table_row(python: str) -> list[str]:
    """The cells of the version table's row for ``python`` (e.g. '3.15.2')."""
    notebook = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    (line,) = [line for cell in notebook.cells if cell.cell_type == "markdown"
               for line in cell.source.splitlines() if line.startswith(f"| {python} |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_version_table_holds_for_this_python():
    """The row for this minor version names the function the pool counts CPUs with, and on one
    CPU (``taskset -c 0``) the pool's size is the table's."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}."
    notebook = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    (python,) = {match for cell in notebook.cells if cell.cell_type == "markdown"
                 for match in re.findall(rf"^\| ({re.escape(minor)}\d+) \|", cell.source, re.MULTILINE)}
    _, counts_with, two_cpus, one_cpu = table_row(python)
    assert counts_with == f"`{CPU_COUNT}`"
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) == 2:
        assert two_cpus.split()[0] == str(DEFAULT_WORKERS)
    if shutil.which("taskset") is None or psutil.cpu_count() != 2:
        pytest.skip("the table was measured with taskset on a 2-CPU machine")
    probe = "from concurrent.futures import ThreadPoolExecutor as P\nwith P() as p: print(p._max_workers)"
    on_one = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert one_cpu.split()[0] == on_one


@pytest.mark.parametrize("n_requests", [1, DEFAULT_WORKERS])
def test_with_no_more_requests_than_threads_the_notebook_says_one_wave_and_changes_nothing(tmp_path, n_requests):
    seen = {}

    def read_back(client, notebook):
        seen["values"] = run_code(client, notebook, "print(N_REQUESTS, LATENCY, count.value, delay.value)")

    notebook = execute(NOTEBOOKS / NAME, tmp_path, solved=True, then=read_back,
                       parameters={"N_REQUESTS": n_requests, "LATENCY": 0.02})
    assert errors_in(notebook) == []
    four = printed(tagged(notebook, "check")[-1])  # exercise 3, solved: a pool of 4
    assert four.startswith(f"Correct: {math.ceil(n_requests / 4)} wave(s) of up to 4 requests"), four
    # at most 4 requests, a pool of 4 and the default pool send them all at once: the check says it cannot tell
    assert ("this check cannot see your pool's size: set N_REQUESTS above 4 to see it." in four) == (n_requests <= 4)
    text = text_of(notebook)
    assert f"{n_requests} requests / {DEFAULT_WORKERS} threads = 1 wave: " in text
    assert f"One wave: every request had a thread at once, so no waves show. Set N_REQUESTS above {DEFAULT_WORKERS}" in text
    assert seen["values"].split() == [str(n_requests), "0.02", str(n_requests), "0.02"]  # sliders included
    # at a latency of 0.02 s the cancel comes 0.007 s in: a request no thread had picked up yet is dropped
    answered = int(number(rf"in the end it answered (\d+) of the {n_requests}\n", text))
    assert answered <= n_requests
    if answered < n_requests:
        assert f"Never sent, still queued for a thread at the cancel: {n_requests - answered};" in text
    else:  # nothing was left queued: the line says so, and how to see some dropped
        assert (f"so all {n_requests} ran to their end: none was left queued to drop "
                f"(set N_REQUESTS above {DEFAULT_WORKERS} to see some)." in text)


def test_a_real_site_runs_every_cell_and_its_counts_say_not_counted(tmp_path, server):
    site = server.url.replace("127.0.0.1", "localhost")  # a host name, as a real site has
    seen = {}

    def read_back(client, notebook):
        seen["slider"] = run_code(client, notebook, "print(delay.disabled)")

    notebook = execute(NOTEBOOKS / NAME, tmp_path, then=read_back, parameters={"URL": site})
    assert errors_in(notebook) == []
    text = text_of(notebook)
    assert f"requests go to {site}" in text
    assert "requests served so far: not counted" in text
    assert "the most requests the server held at once: not counted" in text
    assert seen["slider"].strip() == "True"  # a real site's latency is its own
    for cell in tagged(notebook, "check"):
        assert printed(cell).startswith("Not yet"), printed(cell)


def test_each_check_says_the_same_when_run_a_second_time(tmp_path):
    said = []

    def again(client, notebook):
        for cell in tagged(notebook, "check"):
            said.append((printed(cell), run_code(client, notebook, cell.source)))

    execute(NOTEBOOKS / NAME, tmp_path, solved=True, then=again)
    assert len(said) == 3
    for first, second in said:
        assert first.startswith("Correct") and second.startswith("Correct"), (first, second)


# Exercise 3's starter begins with this line: it starts the server's counts again for its check.
RESET = "server.reset_stats()  # the check reads how many requests the server held at once\n"
POOL = "with ThreadPoolExecutor(max_workers={}) as pool:\n"
# Plausible wrong answers for each exercise, in order: each must get "Not yet" from its check.
WRONG_ANSWERS = [
    [  # expected_total: whole waves of one latency, a number, from the arguments alone
        "def expected_total(n_requests, workers, latency):\n    return f'{math.ceil(n_requests / workers) * latency:.2f} s'\n",
        "def expected_total(n_requests, workers, latency):\n    return n_requests / workers * latency\n",
        "def expected_total(n_requests, workers, latency):\n    return n_requests // workers * latency\n",
        "def expected_total(n_requests, workers, latency):\n    return math.ceil(n_requests / workers * latency)\n",
        "def expected_total(n_requests, workers, latency):\n    return latency\n",
        "def expected_total(n_requests, workers, latency):\n    return math.ceil(n_requests / workers)\n",
        # rounded to one decimal: right wherever the latency has one decimal
        "def expected_total(n_requests, workers, latency):\n    return round(math.ceil(n_requests / workers) * latency, 1)\n",
        # one wave too many when n is a multiple of the pool's size
        "def expected_total(n_requests, workers, latency):\n    return (n_requests // workers + 1) * latency\n",
        # the notebook's globals instead of the arguments
        "def expected_total(n_requests, workers, latency):\n    return math.ceil(N_REQUESTS / workers) * LATENCY\n",
        "def expected_total(n_requests, workers, latency):\n    return math.ceil(n_requests / default_workers()) * latency\n",
        "async def expected_total(n_requests, workers, latency):\n    return math.ceil(n_requests / workers) * latency\n",
    ],
    [  # post_cpus: CPUs, not threads, as a whole number
        'post_cpus = "12"\n',
        "post_cpus = 16\n",
        "post_cpus = 20\n",
        "post_cpus = 8\n",
        "post_cpus = 28\n",
        "post_cpus = 12.5\n",
        "post_cpus = 12 + 4\n",
    ],
    [  # four_run: the notebook's requests on a pool of four, really used
        RESET + 'four_run = await async_code("pool of 4", workers=4)\n',
        RESET + POOL.format(4) + '    four_run = await async_code("pool of 4", workers=4)\n',
        RESET + POOL.format("N_REQUESTS") + '    four_run = await async_code("pool of 4", executor=pool, workers=4)\n',
        RESET + POOL.format(2) + '    four_run = await async_code("pool of 4", executor=pool, workers=4)\n',
        # the post's twenty requests typed in, through the slider's function
        RESET + POOL.format(4) + '    four_run = await timed_pool("pool of 4", 20, url, pool, 4)\n',
        # an old run, not a new one
        RESET + "four_run = default_run\n",
        # a pool of four against a slower server: the time is checked too
        RESET + POOL.format(4) + '    four_run = await timed_pool("pool of 4", N_REQUESTS, '
        "server.url_for(delay=3 * LATENCY), pool, 4)\n",
        # one request at a time, labelled as a pool of four
        RESET + 'with timed_run("pool of 4", workers=4) as four_run:\n    for _ in range(N_REQUESTS):\n'
        "        with four_run.request() as req:\n            req.status = get(url).status_code\n",
    ],
]
# Right answers written differently from the solution: each must get "Correct".
RIGHT_ANSWERS = [
    [
        "def expected_total(n_requests, workers, latency):\n    return -(-n_requests // workers) * latency\n",
        "def expected_total(n_requests, workers, latency):\n    return (n_requests + workers - 1) // workers * latency\n",
        "def expected_total(n_requests, workers, latency):\n    waves, rest = divmod(n_requests, workers)\n"
        "    return (waves + (rest > 0)) * latency\n",
    ],
    [
        "post_cpus = 16 - 4\n",
        "post_cpus = int('12')\n",
    ],
    [
        RESET + "pool = ThreadPoolExecutor(max_workers=4)\n"
        'four_run = await async_code("four threads", executor=pool, workers=4)\npool.shutdown()\n',
        RESET + POOL.format(4) + '    four_run = await timed_pool("pool of 4", N_REQUESTS, url, pool, 4)\n',
        RESET + "with ThreadPoolExecutor(4) as four:\n    four_run = await async_code('4', four, 4)\n",
    ],
]


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_02_checks_accept_the_solution_and_right_answers_and_say_not_yet_to_each_wrong_one(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
