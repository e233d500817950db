"""The latency server's app: what it answers, what it refuses, what it counts, and the one
table of query settings that the server and ``url_for`` share."""

import concurrent.futures
import inspect
import socket
import sys
import time
import urllib.parse

import pytest
import requests

import helpers
from helpers.app import BY_NAME, SETTINGS, BadRequest, read_query
from helpers.server import LatencyServer
from load import run_get_many


def _port(server: LatencyServer) -> int:
    return urllib.parse.urlsplit(server.url).port


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


@pytest.mark.parametrize("path", ["/?client=no%20spaces", "/stats?client=" + "x" * 65])
def test_a_malformed_client_name_gets_a_400_that_says_why(server, path):
    answer = requests.get(server.url + path, timeout=5)
    assert answer.status_code == 400 and "client must be 1 to 64 letters" in answer.reason


# --- one table of settings -----------------------------------------------------------------------


def test_every_setting_is_read_from_a_query_and_offered_by_url_for_from_one_table(server):
    offered = [setting.name for setting in SETTINGS if setting.per_request]
    assert list(inspect.signature(server.url_for).parameters) == offered
    for name in offered:
        assert f"``{name}``" in server.url_for.__doc__
    assert list(read_query("", latency=0.3)) == [setting.name for setting in SETTINGS]


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.high is not None], ids=lambda setting: setting.name)
def test_each_settings_range_is_refused_alike_by_the_server_and_url_for(setting):
    too_high = setting.high * 2 + 1
    with pytest.raises(BadRequest) as on_the_server:
        read_query(f"{setting.name}={too_high}", latency=0.3)
    with pytest.raises(ValueError) as in_url_for:
        BY_NAME[setting.name].check(setting.kind(too_high))
    prefix = f"{setting.name} must be from 0 to "
    assert str(on_the_server.value).startswith(prefix) and str(in_url_for.value).startswith(prefix)
    assert str(on_the_server.value).split(", got")[0] == str(in_url_for.value).split(", got")[0]


def test_url_for_names_an_unknown_setting_and_lists_the_known_ones(server):
    with pytest.raises(TypeError, match="url_for\\(\\) got an unexpected keyword argument 'dealy'; known: delay, jitter"):
        server.url_for(dealy=1)


def test_a_teacher_sees_every_named_client_with_all_it_sent_whatever_its_resets(fresh_server):
    base = fresh_server.url.split("?")[0].rstrip("/")
    for name, count in (("alice-02_coroutines-ab12", 3), ("bob-05_scaling-cd34", 2)):
        for _ in range(count):
            assert requests.get(f"{base}/?delay=0&client={name}", timeout=10).status_code == 200
    requests.post(f"{base}/stats/reset?client=alice-02_coroutines-ab12", timeout=10)
    clients = requests.get(f"{base}/stats/clients", timeout=10).json()
    assert clients["alice-02_coroutines-ab12"] == {"served": 3, "in_flight": 0}
    assert clients["bob-05_scaling-cd34"] == {"served": 2, "in_flight": 0}
    assert requests.get(f"{base}/stats?client=alice-02_coroutines-ab12", timeout=10).json()["served"] == 0
