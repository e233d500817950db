"""The room's server, ``python -m helpers.room``: its command line, its banner, how it holds a
full room (open files, 503s, a quiet log), gunicorn, and the class benchmark that measures it."""

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import aiohttp
import psutil
import pytest
import requests

from benchmarks import class_bench
from helpers import room
from helpers.app import WORKER_PID_HEADER
from helpers.room import KEEPALIVE_SECONDS, OpenFiles, classroom_app, local_url
from load import run_get_many
from teachers import answers_after, free_port, teacher_server


# --- from a shell --------------------------------------------------------------------------


def test_command_line_serves_until_stopped():
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.room", "--latency", "0.05", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline()
        assert "with a latency of 0.05 s" in banner
        url = banner.split()[1]
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_old_command_says_where_the_room_went():
    result = subprocess.run([sys.executable, "-m", "helpers.server"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "python -m helpers.server no longer serves a room: run make room, or python -m helpers.room"
    )


def test_command_line_rejects_a_bad_latency():
    result = subprocess.run(
        [sys.executable, "-m", "helpers.room", "--latency", "-1"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "latency must be from 0 to 60 seconds, got -1.0" in result.stderr


# --- a classroom: a teacher's server for a room of students ------------------------------------


@contextlib.contextmanager
def _teachers_server(limits: tuple[int, int | None] | None = None, *options: str):
    """``python -m helpers.room`` started as a teacher would, on a free port of 127.0.0.1.

    Yields the process, its two-line banner, and a function that reads what it logged so far.
    """
    command = [sys.executable, "-m", "helpers.room", "--latency", "0.1", "--port", "0", *options]
    with tempfile.TemporaryFile() as log, teacher_server(command, log, limits) as process:
        banner = process.stdout.readline() + process.stdout.readline()

        def logged() -> str:
            log.seek(0)
            return log.read().decode()

        yield process, banner, logged


def _capacity(banner: str) -> int:
    return int(re.search(r"Holds ([\d,]+) connections at once", banner)[1].replace(",", ""))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/limits")
def test_server_raises_its_soft_open_file_limit_and_says_how_many_connections_it_holds():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 2048:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    with _teachers_server((256, None)) as (process, banner, _):
        limits = open(f"/proc/{process.pid}/limits").read()
        soft_now = int(re.search(r"Max open files\s+(\d+)", limits)[1])
    assert soft_now == hard
    assert f"open-file limit {hard:,}, raised from 256" in banner
    assert 256 < _capacity(banner) < hard


def test_past_its_capacity_a_student_gets_a_503_at_once_that_names_it():
    with _teachers_server((128, 128)) as (_, banner, logged):
        url = banner.split()[1]
        capacity = _capacity(banner)
        assert 40 < capacity < 128
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            room = pool.submit(run_get_many, url + "/?delay=2", capacity + 20, timeout=20)
            deadline = time.monotonic() + 10
            while True:  # until the room is full (connections take a moment to open)
                start = time.perf_counter()
                response = requests.get(url + "/?delay=0", timeout=5)
                if response.status_code == 503 or time.monotonic() > deadline:
                    break
            refused_in = time.perf_counter() - start
            seated = room.result()
        log = logged()
    assert response.status_code == 503
    assert f"this server holds {capacity:,} connections at once" in response.text
    assert refused_in < 1.0
    statuses = [result.status for result in seated]
    assert statuses.count(200) + statuses.count(503) == capacity + 20  # each seated or refused, none lost
    assert capacity - 2 <= statuses.count(200) <= capacity  # the checks above may hold a seat a moment
    assert "refused (room full)" in log


def test_a_room_overflowing_many_times_over_logs_one_line_a_second_and_answers_again_at_once():
    with _teachers_server((128, 128)) as (process, banner, logged):
        url = banner.split()[1]
        capacity = _capacity(banner)
        start = time.monotonic()
        results = run_get_many(url + "/?delay=0.5", 600, timeout=20) + run_get_many(url + "/?delay=0.5", 600, timeout=20)
        flood_seconds = time.monotonic() - start
        assert answers_after(url, deadline=2.0) is not None
        server = psutil.Process(process.pid)
        cpu_before = sum(server.cpu_times()[:2])
        time.sleep(1.0)
        idle_cpu = sum(server.cpu_times()[:2]) - cpu_before
        log = logged()
    statuses = [result.status for result in results]
    assert [result.error for result in results if result.error] == []
    assert statuses.count(200) >= capacity  # each wave seats a full room; the rest are refused
    assert statuses.count(503) >= 1200 - 2 * capacity
    assert max(result.seconds for result in results if result.status == 503) < 1.0
    assert idle_cpu < 0.2, "the server kept its core busy after the load"
    lines = log.splitlines()
    assert 1 <= len(lines) <= flood_seconds + 3
    assert all("in the last 1 s: refused (room full)" in line for line in lines)
    assert "Traceback" not in log


async def _students_in_turn(url: str, seats: int, pause: float) -> tuple[list[int], list[int]]:
    """A first group takes every seat and keeps its session open, idle; a second group comes later."""
    async def ask(session: aiohttp.ClientSession) -> int:
        async with session.get(url) as response:
            return response.status

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as first, aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as second:
        first_statuses = await asyncio.gather(*(ask(first) for _ in range(seats)))
        await asyncio.sleep(pause)  # the first group's connections sit idle, still open at its end
        second_statuses = await asyncio.gather(*(ask(second) for _ in range(seats)))
    return first_statuses, second_statuses


def test_idle_keep_alive_connections_release_their_seats_for_the_next_students():
    with _teachers_server((128, 128)) as (_, banner, _):
        url, capacity = banner.split()[1], _capacity(banner)
        first, second = asyncio.run(_students_in_turn(url, capacity, pause=KEEPALIVE_SECONDS + 1.5))
    assert first == [200] * capacity
    assert second == [200] * capacity


def test_banner_lists_every_address_students_can_use_when_bound_to_all_interfaces():
    open_files = OpenFiles(found=1024, limit=20000, capacity=19961)
    banner = room.banner(0.3, "0.0.0.0", 8000, open_files)
    ours = [
        ipaddress.ip_address(address.address)
        for interface in psutil.net_if_addrs().values()
        for address in interface
        if address.family == socket.AF_INET
    ]
    for ip in ours:
        who = "this machine" if ip.is_loopback else "students"
        assert re.search(rf"^  {who}: +http://{re.escape(str(ip))}:8000$", banner, re.MULTILINE), banner
    assert "0.0.0.0:8000" not in banner
    assert "Holds 19,961 connections at once (open-file limit 20,000, raised from 1,024)" in banner


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8000"), ("0.0.0.0", "http://127.0.0.1:8000"),
    ("::1", "http://[::1]:8000"), ("::", "http://[::1]:8000"), ("192.0.2.7", "http://192.0.2.7:8000"),
])
def test_a_notebooks_server_reports_the_url_this_machine_reaches_it_at(host, url):
    assert local_url(host, 8000) == url


def test_banner_for_one_address_is_one_url_then_the_capacity():
    banner = room.banner(0.05, "127.0.0.1", 8000, OpenFiles(found=20000, limit=20000, capacity=19961))
    assert banner.splitlines() == [
        "Serving http://127.0.0.1:8000 with a latency of 0.05 s. Press Ctrl-C to stop.",
        "Holds 19,961 connections at once (open-file limit 20,000); past that, a student gets a 503 at once.",
    ]


def test_busy_port_is_one_line_that_suggests_another_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "helpers.room", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"port {port} is busy on 127.0.0.1 (address already in use)" in result.stderr
    assert "--port" in result.stderr


def test_command_line_starts_without_a_warning():
    with _teachers_server() as (_, banner, logged):
        assert requests.get(banner.split()[1], timeout=5).status_code == 200
        assert logged() == ""


def test_importing_helpers_leaves_the_warning_filters_alone_and_the_room_unimported():
    """``python -m helpers.room`` runs without runpy's warning because ``import helpers`` never
    imports it: no filter hides the warning."""
    assert not any("helpers" in str(message) for _, message, *_ in warnings.filters)
    probe = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import sys, helpers; print('helpers.room' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip() == "False", probe.stderr


def test_gunicorn_runs_the_server_in_workers_that_each_count_their_own_stats():
    pytest.importorskip("gunicorn")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "helpers.room:classroom_app(latency=0.05)",
        "--worker-class", "aiohttp.GunicornWebWorker", "--workers", "2", "--bind", f"127.0.0.1:{port}",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log, teacher_server(command, log, None) as master:
        assert answers_after(url, deadline=30) is not None
        answered = [requests.get(url, timeout=5).status_code for _ in range(10)]
        workers = {child.pid for child in psutil.Process(master.pid).children()}
        asked = [requests.get(url + "/stats", timeout=5, headers={"Connection": "close"}) for _ in range(10)]
    assert answered == [200] * 10
    assert len(workers) == 2
    for response in asked:
        assert int(response.headers[WORKER_PID_HEADER]) in workers
        assert response.json()["served"] <= 11  # its own share of the 11 answers at most, never a sum


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"latency": -1}, ValueError, "latency must be from 0 to 60 seconds, got -1"),
        ({"seed": "x"}, TypeError, "seed must be an int, got str"),
    ],
)
def test_classroom_app_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        classroom_app(**kwargs)


def test_class_bench_releases_every_student_and_prints_a_row_per_limit(capsys):
    class_bench.main(["--students", "2", "--requests", "5"])
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "answered" not in line]
    assert len(rows) == 3
    assert all(row.split(" | ")[1:4] == ["10", "0", "0"] for row in rows), rows
    assert printed.count("Holds ") == 3
    assert printed.count("the student alone: ") == 3


def test_class_bench_times_a_full_rooms_refusals_on_a_lone_students_clock_too():
    with _teachers_server((128, 128)) as (_, banner, _):
        url, capacity = banner.split()[1], _capacity(banner)
        run = class_bench.run_class(url + "/?delay=2", students=2, n_requests=100)  # seats held 2 s
    statuses = [outcome.status for outcome in run.outcomes]
    assert statuses.count(200) + statuses.count(503) == 200
    assert statuses.count(503) >= 200 - capacity
    lone_refusals = [outcome.seconds for outcome in run.lone if outcome.status == 503]
    assert lone_refusals, "the student alone never found the room full in the 2 s it was full"
    assert max(lone_refusals) < 1.0
    if sys.platform.startswith("linux"):
        assert len(run.waits) == 2 and all(waited >= 0 for waited in run.waits)


