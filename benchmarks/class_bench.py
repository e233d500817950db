"""`make bench-class`: a class of students against one teacher's server, as issue 13 tried it.

S student processes, each sending C GETs at once with aiohttp, are released at one instant
against one ``python -m helpers.room``, started as a teacher would start it, on 127.0.0.1.
The students run at a lower priority (nice 10), standing in for laptops of their own.
The server is started under three open-file limits:

- this machine's own;
- a soft limit of 1,024 (the usual Linux default), which the server raises to the hard limit;
- a hard limit of 1,024 too, which it cannot raise: the room overflows, and every request
  past what the server holds must be refused with a 503 within a second.

For each it prints the answers and failures, how far past the latency the answers came (p50
and p99), when the last answer came after the release, the slowest refusal, the server's peak
descriptors and CPU (during the load, and in the second after it: a server that spins shows
here), how soon it answers a fresh request after the load, and the bytes it wrote to stderr.
Targets at 30 x 200 under a soft limit of 1,024: every request answered, the last within 10 s,
under 10 kB logged.

The slowest refusal is timed twice. The students time it on their own clocks, which include
their wait for a core: thirty processes on this machine's cores, where a real room has a laptop
each (on Linux, the notes under the table say how long each student, and the server, waited).
A student alone, one more process at normal priority, sends one request at a time on a fresh
connection while the class runs, as a student with a laptop of their own would: its clock
shows what the server and the network take, the part the server controls.

``--workers N`` adds a row for gunicorn running the server in N processes, and shows what each
worker's ``/stats`` counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

import aiohttp
import psutil
import requests

from benchmarks.bench import percentile
from helpers.app import WORKER_PID_HEADER
from tests.teachers import answers_after, free_port, teacher_server

LATENCY = 0.3
STUDENTS = 30
REQUESTS = 200
STUDENT_TIMEOUT = 20.0  # a student gives up on a request after this long (issue 13 saw 60 s)
LONE_STUDENT_PAUSE = 0.02  # seconds between the lone student's requests
LOW_LIMIT = 1024
TARGET_LAST_ANSWER = 10.0
TARGET_LOG_BYTES = 10_000


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One student's request: status (None on error), seconds it took, and when it ended (epoch)."""

    status: int | None
    seconds: float
    ended: float
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class ClassRun:
    """What a class saw: when it was released (epoch), every request's outcome, the lone
    student's (see ``_lone_student``), and each student process's wait for a core in seconds
    (empty where the system does not say)."""

    released: float
    outcomes: list[Outcome]
    lone: list[Outcome]
    waits: list[float]


async def _ask(session: aiohttp.ClientSession, url: str) -> Outcome:
    start = time.perf_counter()
    error = status = None
    try:
        async with session.get(url) as response:
            await response.read()
        status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as failure:
        error = type(failure).__name__
    return Outcome(status, time.perf_counter() - start, time.time(), error)


async def _attend(url: str, n_requests: int, timeout: float) -> list[Outcome]:
    """One student's notebook: ``n_requests`` GETs at once, no connection limit."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        return await asyncio.gather(*(_ask(session, url) for _ in range(n_requests)))


def _waited_for_a_core(pid: int | str = "self") -> float | None:
    """Seconds a process has spent ready to run but waiting for a core (Linux), else None."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _student(url: str, n_requests: int, timeout: float, release: multiprocessing.Barrier, results) -> None:
    """A student process: wait for the whole class, then send every request at once.

    Students run at a lower priority: in a real room each has a laptop of its own, and thirty
    of them sharing this machine's cores should take as little as they can from the one server
    they measure (it still waits for a core; the notes under the table say how long). Each also
    reports how long it waited for a core, the part of its clock that a room would not have.
    """
    os.nice(10)
    release.wait(timeout=120)
    waited = _waited_for_a_core()
    outcomes = asyncio.run(_attend(url, n_requests, timeout))
    if waited is not None:
        waited = _waited_for_a_core() - waited
    results.put((outcomes, waited))


def _lone_student(url: str, stop: multiprocessing.Event, results) -> None:
    """A student with a laptop of their own: one GET at a time, each on a new connection, until ``stop``.

    It runs at normal priority and holds one connection at most, so its clock is what the
    server and the network take, not a crowded process's wait for a core. ``delay=0`` frees its
    seat at once when it gets one.
    """
    address = urllib.parse.urlsplit(url)
    outcomes = []
    while not stop.is_set():
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=STUDENT_TIMEOUT)
        start = time.perf_counter()
        status = error = None
        try:
            connection.request("GET", "/?delay=0")
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as failure:
            error = type(failure).__name__
        finally:
            connection.close()
        outcomes.append(Outcome(status, time.perf_counter() - start, time.time(), error))
        stop.wait(LONE_STUDENT_PAUSE)
    results.put(outcomes)


def run_class(url: str, students: int, n_requests: int, *, timeout: float = STUDENT_TIMEOUT) -> ClassRun:
    """Release ``students`` processes of ``n_requests`` GETs each against ``url`` at one instant,
    with a lone student (``_lone_student``) asking alongside them until they are done."""
    if students < 1 or n_requests < 1:
        raise ValueError(f"students and n_requests must be >= 1, got {students} and {n_requests}")
    if not 0 < timeout <= 120:
        raise ValueError(f"timeout must be from 0 to 120 seconds, got {timeout}")
    # Not "fork": this process has threads (the sampler, a test runner's), and forking a process
    # with threads may deadlock the child (Python 3.12+ warns; 3.14 no longer forks by default).
    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "forkserver")
    release = context.Barrier(students + 1)
    results, lone_results, stop = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(target=_student, args=(url, n_requests, timeout, release, results), daemon=True)
        for _ in range(students)
    ]
    processes.append(context.Process(target=_lone_student, args=(url, stop, lone_results), daemon=True))
    for process in processes:
        process.start()
    try:
        release.wait(timeout=120)
        released = time.time()
        reports = [results.get(timeout=timeout + 60) for _ in range(students)]
        stop.set()
        lone = lone_results.get(timeout=timeout + 10)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    outcomes = [outcome for student_outcomes, _ in reports for outcome in student_outcomes]
    waits = [waited for _, waited in reports if waited is not None]
    return ClassRun(released, outcomes, lone, waits)


class _Watch:
    """Samples a server's descriptors and CPU (its worker processes included) every 50 ms."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak_fds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _family(self) -> list[psutil.Process]:
        return [self._process, *self._process.children(recursive=True)]

    def waited_for_a_core(self) -> float | None:
        """Seconds the server's processes have waited for a core, in all (Linux), else None."""
        waits = [_waited_for_a_core(process.pid) for process in self._family()]
        return None if None in waits else sum(waits)

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self._family():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            fds = 0
            for process in self._family():
                with contextlib.suppress(psutil.Error):
                    fds += process.num_fds()
            self.peak_fds = max(self.peak_fds, fds)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _fmt(seconds: float | None, unit: str = "s", scale: float = 1.0) -> str:
    return "-" if seconds is None else f"{seconds * scale:.{0 if unit == 'ms' else 2}f} {unit}"


def _measure(name: str, command: list[str], url: str | None, limits, students: int, n_requests: int) -> tuple[str, str]:
    """One row of the table, and a note under it: the server's own first words (its banner)
    and how long the students waited for a core."""
    with tempfile.TemporaryFile() as log:
        with teacher_server(command, log, limits) as server:
            banner = ""
            if url is None:  # our server says where it is and how many it holds
                banner = server.stdout.readline() + server.stdout.readline()
                url = banner.split()[1]
            elif answers_after(url, deadline=30) is None:
                raise RuntimeError(f"{name}: the server did not answer at {url}")
            with _Watch(server.pid) as watch:
                cpu_before, waited_before = watch.cpu_seconds(), watch.waited_for_a_core()
                run = run_class(url, students, n_requests)
                load_ended = time.time()
                cpu_during, waited_after = watch.cpu_seconds() - cpu_before, watch.waited_for_a_core()
                time.sleep(1.0)
                cpu_after = watch.cpu_seconds() - cpu_before - cpu_during
                again = answers_after(url + "/?delay=0")
                peak_fds = watch.peak_fds
            note = _per_worker_stats(url, run.outcomes) if "gunicorn" in command else banner.splitlines()[-1]
        logged = log.seek(0, os.SEEK_END)  # after the server has stopped, with all it wrote
    answered = [o for o in run.outcomes if o.status == 200]
    refused = [o for o in run.outcomes if o.status == 503]
    failed = len(run.outcomes) - len(answered) - len(refused)
    overshoot = [o.seconds - LATENCY for o in answered]
    lone_refused = [o.seconds for o in run.lone if o.status == 503]
    lone_failed = sum(o.status not in (200, 503) for o in run.lone)
    row = (
        f"| {name} | {len(answered):,} | {len(refused):,} | {failed:,} "
        f"| {_fmt(statistics.median(overshoot) if overshoot else None, 'ms', 1000)} "
        f"| {_fmt(percentile(overshoot, 0.99) if overshoot else None, 'ms', 1000)} "
        f"| {_fmt(max(o.ended for o in answered) - run.released if answered else None)} "
        f"| {_fmt(max(o.seconds for o in refused) if refused else None)} "
        f"| {_fmt(max(lone_refused) if lone_refused else None)} "
        f"| {peak_fds:,} | {cpu_during:.1f} s in {load_ended - run.released:.1f} s | {cpu_after:.2f} s "
        f"| {_fmt(again)} | {logged:,} B |"
    )
    note += (
        f"\n  the student alone: {len(run.lone):,} requests, {len(lone_refused):,} refused (503), {lone_failed:,} failed"
    )
    if run.waits:
        note += (
            f"\n  each of the {len(run.waits)} students waited {min(run.waits):.2f} to {max(run.waits):.2f} s "
            f"(mean {statistics.mean(run.waits):.2f} s) for a core, which a laptop of its own would not"
        )
    if waited_before is not None and waited_after is not None:
        note += f"; the server waited {waited_after - waited_before:.2f} s for one"
    return row, note


def _per_worker_stats(url: str, outcomes: list[Outcome]) -> str:
    """What ``/stats`` says under gunicorn: each answer comes from one worker, with its own counts."""
    counts: dict[str, int] = {}
    for _ in range(20):  # a fresh connection each time, so that different workers answer
        response = requests.get(url + "/stats", timeout=5, headers={"Connection": "close"})
        counts[response.headers[WORKER_PID_HEADER]] = response.json()["served"]
    shown = ", ".join(f"worker {pid}: {served:,}" for pid, served in sorted(counts.items()))
    return (
        f"/stats under gunicorn, asked 20 times: {shown}; sum {sum(counts.values()):,} "
        f"(the class got {sum(o.status == 200 for o in outcomes):,} answers, the student alone and the bench's probes more; each /stats counts one worker only)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.class_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=STUDENTS, help=f"student processes (default {STUDENTS})")
    parser.add_argument("--requests", type=int, default=REQUESTS, help=f"GETs each sends at once (default {REQUESTS})")
    parser.add_argument("--workers", type=int, default=0, help="also run gunicorn with this many workers")
    args = parser.parse_args(argv)
    if not 1 <= args.students <= 200 or not 1 <= args.requests <= 2000 or not 0 <= args.workers <= 16:
        parser.error("students must be 1 to 200, requests 1 to 2,000, workers 0 to 16")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    server = [sys.executable, "-m", "helpers.room", "--latency", str(LATENCY), "--port", "0"]
    cases = [
        (f"this machine's limit (hard {hard:,})", server, None, None),
        (f"soft {LOW_LIMIT:,}, hard {hard:,}", server, None, (LOW_LIMIT, None)),
        (f"soft and hard {LOW_LIMIT:,}", server, None, (LOW_LIMIT, LOW_LIMIT)),
    ]
    if args.workers:
        port = free_port()
        gunicorn = [
            sys.executable, "-m", "gunicorn", f"helpers.room:classroom_app(latency={LATENCY})",
            "--worker-class", "aiohttp.GunicornWebWorker", "--workers", str(args.workers),
            "--bind", f"127.0.0.1:{port}",
        ]  # fmt: skip
        cases.append((f"gunicorn, {args.workers} workers, soft {LOW_LIMIT:,}", gunicorn, f"http://127.0.0.1:{port}", (LOW_LIMIT, None)))
    print(
        f"Python {platform.python_version()} on {os.cpu_count()} CPUs; {args.students} students x "
        f"{args.requests} requests at once (aiohttp), server latency {LATENCY} s\n"
    )
    print(
        "| server's open-file limit | answered | refused (503) | failed | overshoot p50 | overshoot p99 "
        "| last answer | slowest 503, class | slowest 503, student alone | peak fds | server CPU | CPU in the next 1 s | answers again after | logged |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for name, command, url, limits in cases:
        row, note = _measure(name, command, url, limits, args.students, args.requests)
        print(row, flush=True)
        notes.append(f"- {name}: {note}")
    print("\n" + "\n".join(notes))
    print(
        f"\nTargets at 30 x 200, soft {LOW_LIMIT:,}: all answered, the last within {TARGET_LAST_ANSWER:g} s, "
        f"under {TARGET_LOG_BYTES:,} B logged. Hard {LOW_LIMIT:,}: each refusal within 1 s "
        "(on the student alone's clock: the server's part), the log quiet."
    )


if __name__ == "__main__":
    main()
