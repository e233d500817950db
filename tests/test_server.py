"""The server a notebook times: start, stop and the URL of its own server, the room's shared
server, a real site through the same face, and that no server ever outlives its notebook."""

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

import helpers
from helpers.server import NOT_COUNTED, LatencyServer, RealSite, SharedServer, client_name, course_server


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




def test_course_server_counts_its_own_and_the_rooms_servers(server, monkeypatch):
    monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", server.url)
    assert course_server(latency=0.05).counted is True
    assert LatencyServer.counted is True and SharedServer.counted is True


# --- a notebook's name on the room's server -------------------------------------------------------


def test_a_notebook_on_a_hub_is_named_by_its_user_and_its_notebook(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada.lovelace@example.org")
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/jovyan/my-notebooks/02_coroutines.ipynb")
    first, second = client_name(), client_name()
    assert re.fullmatch(r"ada-lovelace-example-org-02_coroutines-[0-9a-f]{4}", first), first
    assert first != second  # two notebooks (or two runs of one) of the same student stay apart


def test_without_a_hub_or_a_notebook_the_login_name_and_a_short_id_name_a_notebook(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "Jöran Smith")
    assert re.fullmatch(r"J-ran-Smith-[0-9a-f]{8}", client_name())
    monkeypatch.setattr("getpass.getuser", lambda: "éé")  # nothing left once sanitised
    assert re.fullmatch(r"student-[0-9a-f]{8}", client_name())

    def no_login_name():
        raise OSError("No username set in the environment")

    monkeypatch.setattr("getpass.getuser", no_login_name)
    assert re.fullmatch(r"student-[0-9a-f]{8}", client_name())


def test_the_room_counts_a_notebook_under_its_readable_name(server, monkeypatch):
    monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", server.url)
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    monkeypatch.setenv("JPY_SESSION_NAME", "02_coroutines.ipynb")
    shared = course_server(latency=0.01)
    assert shared.client.startswith("grace-02_coroutines-") and len(shared.client) <= 64
    assert f"client={shared.client}" in shared.url
    requests.get(shared.url, timeout=5)
    assert requests.get(f"{server.url}/stats?client={shared.client}", timeout=5).json()["served"] == 1


# --- a real site, through the same face ----------------------------------------------------------
# No test here sends a request to the site: RealSite sends none itself, and these tests check that.


@pytest.fixture
def no_requests(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_a_real_site_is_used_as_given_and_counts_nothing(no_requests, monkeypatch):
    monkeypatch.setenv("ASYNC_BY_TIMING_SERVER", "http://127.0.0.1:1")  # a real URL wins over the room's
    site = course_server(latency=0.3, url="https://example.com/page")
    assert isinstance(site, RealSite)
    assert (site.url, site.latency, site.counted) == ("https://example.com/page", 0.3, False)
    assert site.url_for() == site.url_for(delay=2.0) == site.url
    site.reset_stats()
    site.stop()
    with site:
        pass


def test_a_real_sites_counts_print_not_counted_in_any_format(no_requests):
    stats = course_server(url="https://example.com").stats()
    assert stats.peak_in_flight is NOT_COUNTED
    assert f"{stats.served} served, peak {stats.peak_in_flight:,}, {stats.in_flight:>5}" == (
        "not counted served, peak not counted, not counted"
    )
    assert str(stats.rejected) == repr(stats.rejected) == "not counted"


@pytest.mark.parametrize("setting, value", [("status", 503), ("size", 10), ("trickle", 0.3), ("jitter", 0.1), ("seed", 1)])
def test_a_setting_only_the_local_server_has_is_refused_for_a_real_site(no_requests, setting, value):
    site = course_server(url="https://example.com")
    with pytest.raises(ValueError, match=rf"^{setting}= needs the local latency server: .*URL = None"):
        site.url_for(**{setting: value})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"url": "example.com"}, ValueError, "url must be an http:// or https:// address, got 'example.com'"),
        ({"url": 42}, TypeError, "url must be a string such as 'https://example.com', got int"),
        ({"url": "https://example.com", "latency": -1}, ValueError, "latency must be from 0 to 60 seconds, got -1"),
    ],
)
def test_course_server_checks_its_arguments(no_requests, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        course_server(**kwargs)


def test_a_real_site_checks_delay_like_the_local_server(no_requests):
    with pytest.raises(ValueError, match="delay must be from 0 to 60 seconds"):
        course_server(url="https://example.com").url_for(delay=-1)
