"""The local latency server: what it answers, what it refuses, and that it never outlives its parent."""

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import warnings

import aiohttp
import psutil
import pytest
import requests

import helpers
from benchmarks import class_bench
from benchmarks.class_bench import _answers_after, _free_port, teacher_server
from benchmarks.load import run_get_many
from helpers.server import (
    KEEPALIVE_SECONDS, WORKER_PID_HEADER, LatencyServer, _banner, _local_url, _OpenFiles, classroom_app,
)


def _port(server: LatencyServer) -> int:
    return urllib.parse.urlsplit(server.url).port


def _alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _raw(server: LatencyServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=5) as connection:
        connection.sendall(data)
        return connection.recv(4096)


# --- what it answers ---------------------------------------------------------------------------


def test_server_answers_200_after_its_latency(server):
    start = time.perf_counter()
    response = requests.get(server.url, timeout=5)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert response.text == "ok"
    assert server.latency <= elapsed < server.latency * 3 + 0.2


def test_server_binds_loopback_on_a_free_port_by_default(server):
    parts = urllib.parse.urlsplit(server.url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port > 0
    if sys.platform.startswith("linux"):
        listening = open("/proc/net/tcp").read()
        assert f"0100007F:{parts.port:04X} 00000000:0000 0A" in listening  # 0A = LISTEN


def test_delay_parameter_replaces_the_latency_for_one_request(server):
    start = time.perf_counter()
    response = requests.get(server.url_for(delay=0.4), timeout=5)
    assert response.status_code == 200
    assert response.headers["X-Delay"] == "0.400000"
    assert time.perf_counter() - start >= 0.4


def test_jitter_with_a_seed_is_repeatable_and_within_its_range(server):
    def delay(seed: int) -> float:
        return float(requests.get(server.url_for(delay=0, jitter=0.05, seed=seed), timeout=5).headers["X-Delay"])

    delays = [delay(seed) for seed in range(8)]
    assert delays == [delay(seed) for seed in range(8)]
    assert all(0 <= d <= 0.05 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize("status", [201, 404, 500, 503])
def test_status_parameter_sets_the_answer(server, status):
    assert requests.get(server.url_for(delay=0, status=status), timeout=5).status_code == status


def test_no_content_status_has_no_body(server):
    response = requests.get(server.url_for(delay=0, status=204), timeout=5)
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("size", [0, 1, 2, 65536, 65537, 1_000_000])
def test_size_parameter_sets_the_body_length(server, size):
    response = requests.get(server.url_for(delay=0, size=size), timeout=5)
    assert len(response.content) == size == int(response.headers["Content-Length"])


def test_head_gets_headers_without_a_body(server):
    response = requests.head(server.url_for(delay=0, size=100), timeout=5)
    assert response.status_code == 200 and response.content == b""


def test_any_path_is_served(server):
    assert requests.get(server.url + "/some/page.html", timeout=5).status_code == 200


def test_trickle_sends_the_body_a_byte_at_a_time_and_a_read_timeout_never_fires(server):
    """requests' timeout bounds each wait between bytes: 0.5 s is enough for 0.3 s gaps."""
    start = time.perf_counter()
    response = requests.get(server.url_for(size=10, trickle=0.3), timeout=0.5)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert response.content == b"ok" * 5
    assert 9 * 0.3 <= elapsed < server.latency + 9 * 0.3 + 2.0  # nine gaps after the first byte


def test_trickle_gap_longer_than_the_read_timeout_times_out(server):
    with pytest.raises(requests.exceptions.ConnectionError, match="timed out"):
        requests.get(server.url_for(delay=0, size=3, trickle=1.0), timeout=0.3).content


# --- what it refuses, and keeps serving after -------------------------------------------------


@pytest.mark.parametrize(
    "query, reason",
    [
        ("delay=-1", "delay must be from 0 to 60"),
        ("delay=61", "delay must be from 0 to 60"),
        ("delay=1e9", "delay must be from 0 to 60"),
        ("delay=nan", "delay must be from 0 to 60"),
        ("delay=inf", "delay must be from 0 to 60"),
        ("delay=soon", "delay must be a number"),
        ("jitter=-0.1", "jitter must be from 0 to 60"),
        ("seed=x", "seed must be a whole number"),
        ("status=999", "status must be from 0 to 599"),
        ("status=299", "status must be a known HTTP status"),
        ("status=100", "status must be a known HTTP status"),
        ("status=ok", "status must be a whole number"),
        ("size=-5", "size must be from 0 to"),
        ("size=999999999999", "size must be from 0 to"),
        ("trickle=-0.3", "trickle must be from 0 to 60"),
        ("trickle=slowly", "trickle must be a number"),
        ("size=1000&trickle=1", "trickle * (size - 1) must be at most 60 seconds"),
        ("dealy=1", "unknown parameter 'dealy'"),
        ("&&=", "malformed query string"),
    ],
)
def test_malformed_parameter_gets_400_with_a_reason_and_server_keeps_serving(fresh_server, query, reason):
    response = requests.get(f"{fresh_server.url}/?{query}", timeout=5)
    assert response.status_code == 400
    assert reason in response.text
    assert response.text.count("\n") == 1  # one line
    assert fresh_server.stats().rejected == 1
    assert requests.get(fresh_server.url, timeout=5).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"],
)
def test_malformed_request_line_gets_4xx_and_server_keeps_serving(server, raw):
    status_line = _raw(server, raw).split(b"\r\n", 1)[0]
    assert status_line.split()[1].startswith(b"4"), status_line
    assert requests.get(server.url, timeout=5).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(server, method):
    response = requests.request(method, server.url, timeout=5)
    assert response.status_code == 405
    assert f"{method} is not served here" in response.text


def test_client_hanging_up_early_does_not_disturb_the_server(fresh_server):
    with pytest.raises(requests.ReadTimeout):
        requests.get(fresh_server.url_for(delay=0.3), timeout=0.05)
    time.sleep(0.4)
    assert requests.get(fresh_server.url, timeout=5).status_code == 200
    assert fresh_server.stats().served == 2  # the abandoned request still ran to its end


# --- counts ------------------------------------------------------------------------------------


def test_stats_count_served_requests_and_peak_concurrency(fresh_server):
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: requests.get(fresh_server.url, timeout=5).status_code, range(6)))
    assert statuses == [200] * 6
    stats = fresh_server.stats()
    assert stats.served == 6
    assert stats.peak_in_flight == 6
    assert stats.in_flight == 0


def test_reset_starts_the_counts_again(fresh_server):
    requests.get(fresh_server.url, timeout=5)
    requests.get(f"{fresh_server.url}/?delay=-1", timeout=5)
    fresh_server.reset_stats()
    assert fresh_server.stats() == helpers.ServerStats(served=0, rejected=0, in_flight=0, peak_in_flight=0)


def test_stats_are_readable_as_json_over_http(fresh_server):
    assert requests.get(fresh_server.url + "/stats", timeout=5).json() == {
        "served": 0, "rejected": 0, "in_flight": 0, "peak_in_flight": 0,
    }


def test_serves_1000_concurrent_connections_without_refusing_any():
    with helpers.start_server(latency=1.0) as server:
        results = run_get_many(server.url, 1000, timeout=30)
        stats = server.stats()
    errors = [result.error for result in results if result.error]
    assert errors == []
    assert [result.status for result in results] == [200] * 1000
    # Each waited about one latency: they were held at once, not queued behind each other.
    assert max(result.seconds for result in results) < 3.0
    assert stats.peak_in_flight >= 900


# --- arguments at the public edge -----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"latency": -1}, ValueError, "latency must be from 0 to 60 seconds, got -1"),
        ({"latency": float("nan")}, ValueError, "latency must be from 0 to 60 seconds, got nan"),
        ({"latency": 600}, ValueError, "latency must be from 0 to 60 seconds, got 600"),
        ({"latency": "0.3"}, TypeError, "latency must be a number of seconds, got str"),
        ({"latency": True}, TypeError, "latency must be a number of seconds, got bool"),
        ({"port": 70000}, ValueError, "port must be from 0 (any free port) to 65535, got 70000"),
        ({"port": "80"}, TypeError, "port must be an int, got str"),
        ({"host": ""}, ValueError, "host must be a non-empty string"),
    ],
)
def test_start_server_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        helpers.start_server(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"delay": -0.5}, ValueError, "delay must be from 0 to 60 seconds"),
        ({"jitter": "a bit"}, TypeError, "jitter must be a number of seconds"),
        ({"status": 999}, ValueError, "status must be from 0 to 599, got 999"),
        ({"status": 299}, ValueError, "status must be a known HTTP status"),
        ({"size": -1}, ValueError, "size must be from 0 to"),
        ({"seed": 1.5}, TypeError, "seed must be an int, got float"),
        ({"trickle": -1}, ValueError, "trickle must be from 0 to 60 seconds"),
        ({"trickle": 1, "size": 1000}, ValueError, r"trickle \* \(size - 1\) must be at most 60"),
    ],
)
def test_url_for_rejects_bad_settings(server, kwargs, error, message):
    with pytest.raises(error, match=message):
        server.url_for(**kwargs)


def test_url_for_without_settings_is_the_plain_url(server):
    assert server.url_for() == server.url
    assert server.url_for(delay=1, status=404) == server.url + "/?delay=1&status=404"


def test_startup_failure_is_reported_with_the_reason():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match="did not start: .*address already in use"):
            helpers.start_server(port=taken.getsockname()[1])


# --- lifetime: no process is ever left behind ------------------------------------------------


def test_stop_ends_the_process_and_is_idempotent():
    server = helpers.start_server(latency=0.01)
    pid = server.pid
    server.stop()
    server.stop()
    assert not server.running
    assert _wait_until_gone(pid)
    assert "stopped" in repr(server)


def test_context_manager_stops_the_server():
    with LatencyServer(latency=0.01) as server:
        assert requests.get(server.url, timeout=5).status_code == 200
        pid = server.pid
    assert _wait_until_gone(pid)


def test_dropping_the_last_reference_stops_the_server():
    """A notebook cell `server = start_server()` run twice must leave one server, not two."""
    server = helpers.start_server(latency=0.01)
    pid = server.pid
    server = helpers.start_server(latency=0.01)
    assert _wait_until_gone(pid)
    assert server.running
    server.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and SIGINT are POSIX signals")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_server_stops_when_its_parent_is_killed(how):
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import time, helpers
            server = helpers.start_server(latency=0.01)
            print(server.pid, flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    os.kill(parent.pid, how)
    parent.wait(timeout=10)
    assert _wait_until_gone(child_pid), "the server outlived its parent"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process group is POSIX")
def test_server_survives_a_kernel_interrupt():
    """Jupyter's Interrupt sends SIGINT to the kernel's process group, the server included."""
    with helpers.start_server(latency=0.01) as server:
        os.kill(server.pid, signal.SIGINT)
        time.sleep(0.2)
        assert requests.get(server.url, timeout=5).status_code == 200


def test_server_stops_when_its_kernel_restarts():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        outputs = []
        reply = client.execute_interactive(
            "import helpers; server = helpers.start_server(); print(server.pid)",
            output_hook=outputs.append, timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        pid = int(next(m["content"]["text"] for m in outputs if m["msg_type"] == "stream"))
        assert _alive(pid)
        manager.restart_kernel(now=True)
        assert _wait_until_gone(pid), "the server outlived its kernel"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


# --- from a shell --------------------------------------------------------------------------


def test_command_line_serves_until_stopped():
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.server", "--latency", "0.05", "--port", "0"],
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


def test_command_line_rejects_a_bad_latency():
    result = subprocess.run(
        [sys.executable, "-m", "helpers.server", "--latency", "-1"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "latency must be from 0 to 60 seconds, got -1.0" in result.stderr


# --- a classroom: a teacher's server for a room of students ------------------------------------


@contextlib.contextmanager
def _teachers_server(limits: tuple[int, int | None] | None = None, *options: str):
    """``python -m helpers.server`` started as a teacher would, on a free port of 127.0.0.1.

    Yields the process, its two-line banner, and a function that reads what it logged so far.
    """
    command = [sys.executable, "-m", "helpers.server", "--latency", "0.1", "--port", "0", *options]
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
        assert _answers_after(url, deadline=2.0) is not None
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
    open_files = _OpenFiles(found=1024, limit=20000, capacity=19961)
    banner = _banner(0.3, "0.0.0.0", 8000, open_files)
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
    assert _local_url(host, 8000) == url


def test_banner_for_one_address_is_one_url_then_the_capacity():
    banner = _banner(0.05, "127.0.0.1", 8000, _OpenFiles(found=20000, limit=20000, capacity=19961))
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
            [sys.executable, "-m", "helpers.server", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"port {port} is busy on 127.0.0.1 (address already in use)" in result.stderr
    assert "--port" in result.stderr


def test_command_line_starts_without_a_warning():
    with _teachers_server() as (_, banner, logged):
        assert requests.get(banner.split()[1], timeout=5).status_code == 200
        assert logged() == ""


def test_importing_helpers_leaves_the_warning_filters_alone():
    assert not any("helpers" in str(message) for _, message, *_ in warnings.filters)


def test_gunicorn_runs_the_server_in_workers_that_each_count_their_own_stats():
    pytest.importorskip("gunicorn")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "helpers.server:classroom_app(latency=0.05)",
        "--worker-class", "aiohttp.GunicornWebWorker", "--workers", "2", "--bind", f"127.0.0.1:{port}",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log, teacher_server(command, log, None) as master:
        assert _answers_after(url, deadline=30) is not None
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


# --- a classroom's shared server, as each notebook sees it ---------------------------------------


def test_a_shared_server_carries_the_notebooks_latency_and_counts_each_notebook_apart(server, monkeypatch):
    monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", server.url)
    first, second = helpers.course_server(latency=0.2), helpers.course_server(latency=0.05)
    assert isinstance(first, helpers.SharedServer)
    start = time.perf_counter()
    assert requests.get(first.url, timeout=5).status_code == 200
    assert time.perf_counter() - start >= 0.2  # this notebook's latency, not the server's 0.1 s
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: requests.get(second.url, timeout=5), range(3)))
    assert first.stats().served == 1 and second.stats().served == 3
    assert second.stats().peak_in_flight == 3
    first.reset_stats()
    assert first.stats().served == 0 and second.stats().served == 3


def test_course_server_starts_a_local_server_when_no_shared_one_is_named(monkeypatch):
    monkeypatch.delenv("ASYNC_BY_TIMING_SERVER", raising=False)
    with helpers.course_server(latency=0.05) as local:
        assert isinstance(local, LatencyServer) and local.url.startswith("http://127.0.0.1:")


def test_a_shared_server_that_is_not_there_or_not_http_is_refused_clearly():
    with pytest.raises(ValueError, match="url must be an http:// or https:// address, got 'ftp://x'"):
        helpers.SharedServer("ftp://x")
    with pytest.raises(RuntimeError, match="the shared latency server at http://127.0.0.1:1 did not answer"):
        helpers.SharedServer("http://127.0.0.1:1")


@pytest.mark.parametrize("path", ["/?client=no%20spaces", "/stats?client=" + "x" * 65])
def test_a_malformed_client_name_gets_a_400_that_says_why(server, path):
    answer = requests.get(server.url + path, timeout=5)
    assert answer.status_code == 400 and "client must be 1 to 64 letters" in answer.reason
