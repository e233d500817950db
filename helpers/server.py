"""A local HTTP server that answers every GET after a set latency.

The notebooks time requests against this server instead of a public site, so that a class of
thirty laptops never hammers anyone, and every run is repeatable offline.

The server runs in a child process of its own, so its work never competes with the notebook's
threads for the GIL and never distorts what the notebook measures. The child watches a pipe
from its parent and exits as soon as that pipe closes: when the parent stops, is restarted or is
killed (even with SIGKILL), the server goes with it.

Inside, it is itself an asyncio program (aiohttp): a thousand waiting requests are a thousand
``await asyncio.sleep(...)`` on one thread, which keeps its timing accurate where a thread per
connection would not be (see ``make bench``).

Start one from a notebook::

    server = start_server(latency=0.3)
    requests.get(server.url)                      # answers 200 after 0.3 s
    requests.get(server.url_for(delay=1.0))       # this one waits 1 s

or for a whole room from a shell: ``python -m helpers.server --latency 0.3 --host 0.0.0.0``
(see ``docs/classroom.md``).

Query parameters change one request: ``delay`` and ``jitter`` (seconds), ``seed`` (makes the
jitter repeatable), ``status`` (the status code to answer with), ``size`` (body bytes) and
``trickle`` (seconds between the body's bytes: ``size=10&trickle=0.3`` sends the headers and the
first byte after the delay, then one byte every 0.3 s, so that a client's read timeout, which
bounds each wait between bytes, never fires although the whole answer takes about 3 s).
A malformed value is answered with 400 and a one-line reason. ``GET /stats`` returns what the
server has served, as JSON; ``POST /stats/reset`` starts the counts again.

On a room's shared server each notebook names itself with ``client=`` in every query, and
``/stats?client=NAME`` counts only that client's requests: ``SharedServer`` does this, and
``course_server()`` returns one when ``$ASYNC_BY_TIMING_SERVER`` names the room's server.

A room full of students must not exhaust the server's open files, so the server:

- raises its own soft open-file limit to the hard limit at start, and says how many
  connections it can hold at once;
- accepts every connection itself, and answers one past that number with an immediate 503 that
  names the number, rather than leaving it to wait unseen in the backlog;
- closes idle keep-alive connections after ``KEEPALIVE_SECONDS``, so finished students release
  their descriptors;
- sums up repeated errors in at most one line a second instead of a traceback each.

Where one core is not enough (it answers some 5,000 requests a second; see ``make bench-class``),
gunicorn runs ``classroom_app`` in several worker processes; each worker then counts only its
own requests in ``/stats``, and says which it is in the ``X-Worker-Pid`` header.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import errno
import ipaddress
import json
import logging
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
import weakref
from collections.abc import Callable
from http import HTTPStatus

import psutil
from aiohttp import web

try:
    import resource
except ImportError:  # Windows: no open-file limit to raise, and socket handles are not small ints
    resource = None

DEFAULT_LATENCY = 0.3
MAX_DELAY = 60.0
MAX_BODY_SIZE = 100 * 1024 * 1024
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = ("0.0.0.0", "::")
STATS_PATH = "/stats"
RESET_PATH = "/stats/reset"
ANSWERABLE_STATUSES = frozenset(s.value for s in HTTPStatus if 200 <= s.value <= 599)
# The largest value of each whole-number query setting, for the server and url_for alike.
INTEGER_LIMITS = {"seed": 2**63 - 1, "status": 599, "size": MAX_BODY_SIZE}
QUERY_PARAMETERS = ("delay", "jitter", "seed", "status", "size", "trickle", "client")
# A client's name for its own counts on a shared server (see SharedServer), and how many it keeps.
CLIENT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_CLIENTS = 10_000
# Where a notebook finds a classroom's shared server: set for everyone, e.g. by a JupyterHub admin.
SHARED_SERVER_VARIABLE = "ASYNC_BY_TIMING_SERVER"
# A finished student's connections are closed this long after their last answer. Long enough
# for a loop of requests on one session to reuse its connection, short enough to free a room.
KEEPALIVE_SECONDS = 2.0
# Descriptors kept free above the last connection the server will hold: a connection accepted
# into them is answered 503 and closed at once, so they are never all in use.
SPARE_DESCRIPTORS = 32
# How many connections may wait to be accepted. The kernel caps it at net.core.somaxconn.
BACKLOG = 4096
WORKER_PID_HEADER = "X-Worker-Pid"

_BODY_PATTERN = b"ok" * 32768  # a body of size 2, the default, reads "ok"

if sys.argv[0] == "-m" and sys.orig_argv[-len(sys.argv)] == __name__:
    # ``python -m helpers.server`` imports the package, which imports this module, and only then
    # runs this file again as __main__; runpy warns about that on every start. Both copies are
    # the same code and only __main__'s runs the server, so the warning says nothing useful.
    # sys.argv[0] reads "-m" only while Python is finding the module to run, never on import.
    warnings.filterwarnings("ignore", message=f"'{__name__}' found in sys.modules", category=RuntimeWarning)


class BadRequest(ValueError):
    """A request parameter that the server will not accept; its message is the 400's reason."""


@dataclasses.dataclass(frozen=True)
class ServerStats:
    """What the server has done since it started or was last reset.

    ``peak_in_flight`` is the largest number of requests the server was answering at one time:
    the most direct evidence of how much concurrency a client really achieved.
    """

    served: int
    rejected: int
    in_flight: int
    peak_in_flight: int


@dataclasses.dataclass(frozen=True)
class _Answer:
    """How to answer one GET, decided from its query string before any waiting starts."""

    delay: float
    status: int
    size: int
    trickle: float
    client: str | None


class _Counts:
    """What was served to one set of clients: everyone's, or one named client's."""

    def __init__(self) -> None:
        self.served = self.rejected = self.in_flight = self.peak_in_flight = 0

    def start(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def finish(self) -> None:
        self.in_flight -= 1
        self.served += 1

    def reset(self) -> None:
        self.served = self.rejected = 0
        self.peak_in_flight = self.in_flight

    def stats(self) -> ServerStats:
        return ServerStats(self.served, self.rejected, self.in_flight, self.peak_in_flight)


def _number(query: dict[str, list[str]], name: str, default: float, high: float) -> float:
    """Read one finite number from 0 to ``high`` from the query, or raise ``BadRequest``."""
    if name not in query:
        return default
    text = query[name][-1]
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= high:
        raise BadRequest(f"{name} must be from 0 to {high:g}, got {text!r}")
    return value


def _integer(query: dict[str, list[str]], name: str, default: int | None, high: int) -> int | None:
    """Read one whole number from 0 to ``high`` from the query, or raise ``BadRequest``."""
    if name not in query:
        return default
    text = query[name][-1]
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {text!r}") from None
    if not 0 <= value <= high:
        raise BadRequest(f"{name} must be from 0 to {high}, got {text!r}")
    return value


def _client_name(text: str) -> str:
    """A client's name for its own counts, as given in ``client=``, or raise ``BadRequest``."""
    if not CLIENT_PATTERN.fullmatch(text):
        raise BadRequest(f"client must be 1 to 64 letters, digits, '-' or '_', got {text!r}")
    return text


def _status_reason(status: int) -> str | None:
    """Why the server cannot answer with ``status``, or None."""
    if status not in ANSWERABLE_STATUSES:
        return f"status must be a known HTTP status from 200 to 599, got {status}"
    return None


def _trickle_reason(trickle: float, size: int) -> str | None:
    """Why a trickled body would take too long, or None: one answer may take ``MAX_DELAY`` at most."""
    if trickle * max(size - 1, 0) > MAX_DELAY:
        return f"trickle * (size - 1) must be at most {MAX_DELAY:g} seconds, got {trickle:g} * {size - 1}"
    return None


class _Latency:
    """The server's state: its latency, its jitter source, and the counts behind ``/stats``.

    Besides everyone's counts, it keeps each named client's (``client=`` in the query), so that
    on a classroom's shared server each notebook can still read its own peak. Everything runs on
    one event loop in one thread, so the counts need no lock.
    """

    def __init__(self, latency: float, seed: int) -> None:
        self.latency = latency
        self._random = random.Random(seed)
        self.counts = _Counts()
        self.clients: collections.OrderedDict[str, _Counts] = collections.OrderedDict()

    def client_counts(self, client: str) -> _Counts:
        """The counts of one named client; the longest unused are forgotten past MAX_CLIENTS."""
        counts = self.clients.pop(client, None) or _Counts()
        self.clients[client] = counts
        if len(self.clients) > MAX_CLIENTS:
            self.clients.popitem(last=False)
        return counts

    def jitter(self, spread: float, seed: int | None) -> float:
        """A delay from 0 to ``spread``: fixed by ``seed`` if given, else the server's next draw."""
        source = random.Random(seed) if seed is not None else self._random
        return source.uniform(0, spread)

    def read_answer(self, query_string: str) -> _Answer:
        """Decide how to answer a GET from its query string, or raise ``BadRequest``."""
        try:
            query = urllib.parse.parse_qs(
                query_string, keep_blank_values=True, strict_parsing=bool(query_string)
            )
        except ValueError:
            raise BadRequest(f"malformed query string {query_string!r}") from None
        unknown = sorted(set(query) - set(QUERY_PARAMETERS))
        if unknown:
            raise BadRequest(f"unknown parameter {unknown[0]!r}; known: {', '.join(QUERY_PARAMETERS)}")
        delay = _number(query, "delay", self.latency, MAX_DELAY)
        spread = _number(query, "jitter", 0.0, MAX_DELAY)
        seed = _integer(query, "seed", None, INTEGER_LIMITS["seed"])
        status = _integer(query, "status", 200, INTEGER_LIMITS["status"])
        size = _integer(query, "size", 2, INTEGER_LIMITS["size"])
        trickle = _number(query, "trickle", 0.0, MAX_DELAY)
        reason = _status_reason(status) or _trickle_reason(trickle, size)
        if reason:
            raise BadRequest(reason)
        client = _client_name(query["client"][-1]) if "client" in query else None
        if spread:
            delay += self.jitter(spread, seed)
        return _Answer(delay=delay, status=status, size=size, trickle=trickle, client=client)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        """Wait the delay, then answer: the ``await`` lets one thread hold every waiting request."""
        try:
            answer = self.read_answer(request.query_string)
        except BadRequest as reason:
            return self.refuse(HTTPStatus.BAD_REQUEST, str(reason))
        counted = [self.counts] + ([self.client_counts(answer.client)] if answer.client else [])
        for counts in counted:
            counts.start()
        try:
            await asyncio.sleep(answer.delay)
            headers = {"X-Delay": f"{answer.delay:.6f}"}
            if answer.status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
                return web.Response(status=answer.status, headers=headers)
            if answer.size <= len(_BODY_PATTERN) and not answer.trickle:
                body = _BODY_PATTERN[: answer.size]
                return web.Response(status=answer.status, headers=headers, body=body, content_type="text/plain")
            return await self._stream(request, answer, headers)
        finally:
            for counts in counted:
                counts.finish()

    @staticmethod
    async def _stream(request: web.Request, answer: _Answer, headers: dict[str, str]) -> web.StreamResponse:
        """Send the body in pieces: a 100 MB answer never sits in memory whole, and a trickled
        one goes a byte at a time, ``trickle`` seconds apart, the first with the headers."""
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.content_type = "text/plain"
        response.content_length = answer.size
        await response.prepare(request)
        left = answer.size if request.method == "GET" else 0
        piece_size = 1 if answer.trickle else len(_BODY_PATTERN)
        try:
            while left:
                if left < answer.size:
                    await asyncio.sleep(answer.trickle)
                start = (answer.size - left) % 2  # where the body's "okok..." stands
                piece = _BODY_PATTERN[start : start + min(left, piece_size)]
                await response.write(piece)
                left -= len(piece)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client gave up first (timeouts are a lesson here): nothing to report
        return response

    def refuse(self, status: HTTPStatus, reason: str) -> web.Response:
        self.counts.rejected += 1
        return web.Response(status=status, reason=reason, text=f"{status.value} {reason}\n")

    def counts_for(self, request: web.Request) -> _Counts:
        """Everyone's counts, or with ``?client=NAME`` that client's; ``BadRequest`` for a bad name."""
        client = request.query.get("client")
        return self.counts if client is None else self.client_counts(_client_name(client))

    async def show_stats(self, request: web.Request) -> web.Response:
        """The counts as JSON, and which process counted them (each gunicorn worker counts its own)."""
        try:
            counts = self.counts_for(request)
        except BadRequest as reason:
            return self.refuse(HTTPStatus.BAD_REQUEST, str(reason))
        return web.json_response(dataclasses.asdict(counts.stats()), headers={WORKER_PID_HEADER: str(os.getpid())})

    async def reset_stats(self, request: web.Request) -> web.Response:
        try:
            self.counts_for(request).reset()
        except BadRequest as reason:
            return self.refuse(HTTPStatus.BAD_REQUEST, str(reason))
        return await self.show_stats(request)

    async def not_allowed(self, request: web.Request) -> web.Response:
        return self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} is not served here")

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get(STATS_PATH, self.show_stats)
        app.router.add_post(RESET_PATH, self.reset_stats)
        app.router.add_get("/{path:.*}", self.answer)  # add_get answers HEAD too
        app.router.add_route("*", "/{path:.*}", self.not_allowed)
        return app


class _Tally:
    """Counts repeated troubles and prints at most one line a second about them.

    A room that overruns the server repeats the same trouble thousands of times a second; a
    traceback for each would fill the teacher's terminal and cost the server its CPU.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float = 1.0) -> None:
        self._loop = loop
        self._every = every
        self._counts: collections.Counter[str] = collections.Counter()
        self._flush: asyncio.TimerHandle | None = None

    def add(self, trouble: str) -> None:
        self._counts[trouble] += 1
        if self._flush is None:
            self._flush = self._loop.call_later(self._every, self._print)

    def _print(self) -> None:
        summary = "; ".join(f"{trouble}: {count:,}" for trouble, count in self._counts.most_common())
        print(f"{time.strftime('%H:%M:%S')} in the last {self._every:g} s: {summary}", file=sys.stderr, flush=True)
        self._counts.clear()
        self._flush = None

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        """The event loop's exception handler: one counted line per kind of trouble, no traceback."""
        error = context.get("exception")
        self.add(f"{context['message']}: {error!r}" if error else str(context["message"]))


class _Doorkeeper:
    """Accepts connections itself, so that a full room gets a fast 503, never a silent wait.

    asyncio's own accept loop, out of descriptors, leaves connections queued unseen in the
    backlog until the client gives up; worse, it retries the failed accept up to ``backlog``
    times on each wake and logs a traceback for each (python/cpython#151615): hundreds of
    megabytes a minute and a busy core. Here every waiting connection is accepted at once. The
    kernel gives each the lowest free descriptor number, so a number at or past ``ceiling``
    means every descriptor below it is in use: that connection is answered 503 and closed on
    the spot, and the spare descriptors above the ceiling are never all taken.
    """

    def __init__(
        self,
        listener: socket.socket,
        serve: Callable[[], asyncio.Protocol],
        ceiling: int,
        capacity: int,
        tally: _Tally,
    ) -> None:
        self._listener = listener
        self._serve = serve
        self._ceiling = ceiling
        self._tally = tally
        self._loop = asyncio.get_running_loop()
        self._handovers: set[asyncio.Task] = set()
        self._reopen: asyncio.TimerHandle | None = None
        reason = f"the room is full: this server holds {capacity:,} connections at once; try again shortly"
        self._full = (
            f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
            f"Connection: close\r\nContent-Length: {len(reason) + 5}\r\n\r\n503 {reason}\n"
        ).encode()

    def open(self) -> None:
        self._reopen = None
        self._loop.add_reader(self._listener.fileno(), self._accept)

    def close(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        self._loop.remove_reader(self._listener.fileno())
        self._listener.close()

    def _accept(self) -> None:
        for _ in range(BACKLOG):
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # no one else is waiting
            except OSError as error:  # out of descriptors, buffers or memory all the same
                self._tally.add(f"could not accept a connection: {error.strerror}")
                # The listener stays readable; wait a little instead of spinning on it.
                self._loop.remove_reader(self._listener.fileno())
                self._reopen = self._loop.call_later(0.1, self.open)
                return
            connection.setblocking(False)
            if connection.fileno() >= self._ceiling:
                self._refuse(connection)
                continue
            handover = self._loop.create_task(self._loop.connect_accepted_socket(self._serve, connection))
            self._handovers.add(handover)
            handover.add_done_callback(self._handovers.discard)

    def _refuse(self, connection: socket.socket) -> None:
        """Answer 503 and close, all before the next connection is accepted."""
        try:
            connection.send(self._full)
            # Read the request if it has arrived: closing with unread data would reset the
            # connection, and the client might lose the 503 before reading it.
            connection.recv(65536)
        except OSError:
            pass  # the request has not arrived yet, or the client has already gone
        finally:
            connection.close()
        self._tally.add("refused (room full)")


@dataclasses.dataclass(frozen=True)
class _OpenFiles:
    """The server's open-file limit, as found and as raised, and the connections it allows."""

    found: int
    limit: int
    capacity: int | None

    @property
    def ceiling(self) -> int | None:
        return None if self.capacity is None else self.limit - SPARE_DESCRIPTORS

    def describe(self) -> str:
        if self.capacity is None:
            return "Holds as many connections as the system allows."
        raised = f", raised from {self.found:,}" if self.limit > self.found else ""
        line = (
            f"Holds {self.capacity:,} connections at once (open-file limit {self.limit:,}{raised}); "
            "past that, a student gets a 503 at once."
        )
        if self.capacity < 1000:
            line += " For a bigger room, raise the hard limit (ulimit -Hn, or LimitNOFILE in systemd)."
        return line


def _raise_open_file_limit() -> _OpenFiles:
    """Raise this process's soft open-file limit to its hard limit: every connection needs one.

    The usual soft limit (1,024 on Linux, 256 on macOS) is far below what a room needs, and an
    unprivileged process may raise it as far as the hard limit.
    """
    if resource is None:
        return _OpenFiles(found=0, limit=0, capacity=None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS reports an unlimited hard limit but refuses more than OPEN_MAX (10,240) at once.
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    for wanted in (target, 10240):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
            break
        except (ValueError, OSError):
            continue
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with socket.socket() as probe:  # takes the lowest free descriptor: all below it are in use
        in_use = probe.fileno()
    return _OpenFiles(found=soft, limit=limit, capacity=max(0, limit - SPARE_DESCRIPTORS - in_use))


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen, or raise ``OSError`` (a busy port, an address this machine does not have)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
    listener.setblocking(False)
    return listener


def _local_url(host: str, port: int) -> str:
    """The URL at which this machine reaches a server bound to ``host``: where the server is
    bound to every interface, the loopback."""
    if host in ALL_INTERFACES:
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _urls(host: str, port: int) -> list[tuple[str, str]]:
    """(who can use it, URL) for every address that reaches a server bound to ``host``.

    Bound to every interface, the server is reached at each of this machine's addresses on
    the room's network; the loopback only from this machine.
    """
    if host not in ALL_INTERFACES:
        return [("", _local_url(host, port))]
    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    students, this_machine = [], []
    for interface in psutil.net_if_addrs().values():
        for address in interface:
            if address.family != family:
                continue
            ip = ipaddress.ip_address(address.address.split("%")[0])
            url = f"http://{ip}:{port}" if ip.version == 4 else f"http://[{ip}]:{port}"
            if ip.is_loopback:
                this_machine.append(("this machine", url))
            elif not ip.is_link_local:
                students.append(("students", url))
    return students + this_machine


def _banner(latency: float, host: str, port: int, open_files: _OpenFiles) -> str:
    """What the teacher reads at start: where students connect, and how many the room holds."""
    urls = _urls(host, port)
    if len(urls) == 1:
        lines = [f"Serving {urls[0][1]} with a latency of {latency:g} s. Press Ctrl-C to stop."]
    else:
        lines = [f"Serving every interface with a latency of {latency:g} s. Press Ctrl-C to stop."]
        if not any(who == "students" for who, _ in urls):
            lines.append("  students: none (this machine has no network address but its own)")
        lines += [f"  {who + ':':<13} {url}" for who, url in urls]
    return "\n".join([*lines, open_files.describe()])


def _check_latency(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
        raise ValueError(f"{name} must be from 0 to {MAX_DELAY:g} seconds, got {value!r}")
    return float(value)


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be from 0 (any free port) to 65535, got {port}")
    return port


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return seed


def _check_host(host: str) -> str:
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty string such as '127.0.0.1', got {host!r}")
    return host


def _stop_process(process: subprocess.Popen) -> None:
    """Close the lifeline pipe, which tells the child to exit; insist if it does not."""
    if process.poll() is not None:
        return
    process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Endpoint:
    """What a notebook uses of a latency server, whether it runs here or is shared by a room.

    ``_base`` is the server's address; ``_defaults`` are query settings every URL carries.
    """

    _base: str
    _defaults: dict[str, object] = {}

    def url_for(
        self,
        *,
        delay: float | None = None,
        jitter: float | None = None,
        seed: int | None = None,
        status: int | None = None,
        size: int | None = None,
        trickle: float | None = None,
    ) -> str:
        """The server's URL with per-request settings in its query string, checked here first.

        ``delay`` replaces the server's latency for this request; ``jitter`` adds a random extra
        wait from 0 to that many seconds, fixed by ``seed`` when given; ``status`` is the status
        code to answer with; ``size`` the number of body bytes; ``trickle`` the seconds between
        them, to show that a client's read timeout bounds each wait, not the whole answer.
        """
        settings = {
            "delay": delay, "jitter": jitter, "seed": seed, "status": status, "size": size, "trickle": trickle,
        }  # fmt: skip
        query = {name: value for name, value in settings.items() if value is not None}
        for name in ("delay", "jitter", "trickle"):
            if name in query:
                _check_latency(name, query[name])
        for name, high in INTEGER_LIMITS.items():
            value = query.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not 0 <= value <= high:
                raise ValueError(f"{name} must be from 0 to {high}, got {value}")
        reason = _status_reason(query.get("status", 200)) or _trickle_reason(
            query.get("trickle", 0.0), query.get("size", 2)
        )
        if reason:
            raise ValueError(reason)
        query = {**self._defaults, **query}
        return f"{self._base}/?{urllib.parse.urlencode(query)}" if query else self._base

    def _stats_url(self, path: str) -> str:
        client = self._defaults.get("client")
        return self._base + path + (f"?client={client}" if client else "")

    def stats(self) -> ServerStats:
        """What the server has served so far, and its peak number of requests at once."""
        with urllib.request.urlopen(self._stats_url(STATS_PATH), timeout=5) as response:
            return ServerStats(**json.load(response))

    def reset_stats(self) -> None:
        """Start the counts again, e.g. before each experiment in a notebook."""
        request = urllib.request.Request(self._stats_url(RESET_PATH), method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass


class LatencyServer(_Endpoint):
    """A running latency server in a child process; ``start_server`` is the usual way to get one.

    Use it as a long-lived object for a whole notebook, or as a context manager for a block::

        with LatencyServer(latency=0.1) as server:
            requests.get(server.url)

    The process stops when ``stop()`` is called, when the object is garbage-collected (so a cell
    that starts a new server and is run twice leaves one server, not two), and when the Python
    process that started it exits or is killed.
    """

    def __init__(
        self,
        latency: float = DEFAULT_LATENCY,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.latency = _check_latency("latency", latency)
        host, port = _check_host(host), _check_port(port)
        seed = _check_seed(seed)
        command = [
            sys.executable, "-m", "helpers.server", "--child",
            "--latency", repr(self.latency), "--host", host, "--port", str(port), "--seed", str(seed),
        ]  # fmt: skip
        with tempfile.TemporaryFile() as errors:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
            )
            first_line = self._process.stdout.readline()
            if not first_line:
                self._process.wait()
                errors.seek(0)
                reason = errors.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(
                    "the latency server did not start: " + (reason[-1] if reason else "no message")
                )
        self._process.stdout.close()
        self.url: str = json.loads(first_line)["url"]
        self._base = self.url
        self._stopper = weakref.finalize(self, _stop_process, self._process)

    @property
    def pid(self) -> int:
        """The child process's id, for the curious and for tests."""
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Stop the server process; calling it again does nothing."""
        self._stopper()

    def __enter__(self) -> LatencyServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LatencyServer {self.url} latency={self.latency:g}s {state}>"


def start_server(latency: float = DEFAULT_LATENCY, *, host: str = LOOPBACK, port: int = 0) -> LatencyServer:
    """Start a latency server on a free port of 127.0.0.1 and return it; its URL is ``.url``.

    Pass ``host="0.0.0.0"`` only on purpose, to let other machines in a classroom reach it.
    """
    return LatencyServer(latency, host=host, port=port)


class SharedServer(_Endpoint):
    """A latency server that somebody else runs for a room (a teacher's), used as one's own.

    Every URL carries this notebook's latency as ``delay`` (so the lesson's numbers hold, whatever
    latency the teacher chose) and a ``client`` name of its own, so that ``stats()`` counts this
    notebook's requests and not the whole room's.
    """

    def __init__(self, url: str, latency: float = DEFAULT_LATENCY) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be an http:// or https:// address, got {url!r}")
        self.latency = _check_latency("latency", latency)
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._defaults = {"delay": self.latency, "client": secrets.token_hex(8)}
        self.url: str = self.url_for()
        try:
            self.stats()
        except OSError as error:
            raise RuntimeError(f"the shared latency server at {self._base} did not answer: {error}") from None

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""

    def __repr__(self) -> str:
        return f"<SharedServer {self._base} latency={self.latency:g}s>"


def course_server(latency: float = DEFAULT_LATENCY) -> LatencyServer | SharedServer:
    """The server a notebook times: the room's, if ``$ASYNC_BY_TIMING_SERVER`` names one, else its own.

    A teacher (or a JupyterHub admin, for everyone) sets that variable to the address the shared
    server prints, and every notebook of the series uses it with no edit; without it, each
    notebook starts a server of its own on 127.0.0.1.
    """
    shared = os.environ.get(SHARED_SERVER_VARIABLE, "").strip()
    return SharedServer(shared, latency) if shared else start_server(latency)


def classroom_app(latency: float = DEFAULT_LATENCY, seed: int = 0) -> web.Application:
    """The server as an aiohttp application, for gunicorn to run on several cores.

    One process answers some 5,000 requests a second; a lecture hall may need more::

        gunicorn 'helpers.server:classroom_app(latency=0.3)' --bind 0.0.0.0:8000 \\
            --worker-class aiohttp.GunicornWebWorker --workers 2

    Each worker raises its own open-file limit and keeps its own counts: ``/stats`` shows the
    worker that happened to answer it, named by its ``X-Worker-Pid`` header. gunicorn's accept
    loop is asyncio's, so a worker out of descriptors leaves connections waiting rather than
    answering 503; the single-process server is the one that refuses a full room at once.
    """
    latency = _check_latency("latency", latency)
    _raise_open_file_limit()
    return _Latency(latency, _check_seed(seed)).application()


def _wait_for_parent_to_exit() -> None:
    """Block until the parent's end of the stdin pipe closes.

    The operating system closes that pipe however the parent ends, SIGKILL included, which is
    what makes this more reliable than signals or an ``atexit`` hook in the parent.
    """
    sys.stdin.buffer.read()


async def _serve(latency: float, host: str, listener: socket.socket, seed: int, verbose: bool, child: bool) -> None:
    loop = asyncio.get_running_loop()
    tally = _Tally(loop)
    loop.set_exception_handler(tally.loop_exception)
    runner = web.AppRunner(
        _Latency(latency, seed).application(),
        access_log=logging.getLogger("aiohttp.access") if verbose else None,
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    await runner.setup()
    open_files = _raise_open_file_limit()  # after the loop's own descriptors are open, to count them
    port = listener.getsockname()[1]
    doorkeeper = None
    if open_files.capacity is None:
        # Windows: no descriptor numbers to count, and its event loop cannot watch a listener.
        await web.SockSite(runner, listener, backlog=BACKLOG).start()
    else:
        doorkeeper = _Doorkeeper(listener, runner.server, open_files.ceiling, open_files.capacity, tally)
        doorkeeper.open()
    try:
        if child:
            print(json.dumps({"url": _local_url(host, port)}), flush=True)
            await asyncio.to_thread(_wait_for_parent_to_exit)
        else:
            print(_banner(latency, host, port, open_files), flush=True)
            await asyncio.Event().wait()
    finally:
        if doorkeeper is not None:
            doorkeeper.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.server",
        description="Serve every GET after a set latency, for timing HTTP clients offline.",
    )
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY, help="seconds (default 0.3)")
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (default 127.0.0.1; 0.0.0.0 for a room)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 for any free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed for jitter without a seed (default 0)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        latency = _check_latency("latency", args.latency)
        host, port = _check_host(args.host), _check_port(args.port)
    except ValueError as error:
        parser.error(str(error))
    try:
        listener = _listen(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            parser.exit(1, f"{parser.prog}: port {port} is busy on {host} (address already in use); "
                           f"choose another with --port, e.g. --port {port + 1 if port < 65535 else 8000}\n")
        parser.exit(1, f"{parser.prog}: cannot listen on {host} port {port}: {error.strerror or error}\n")
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.child:
        # Jupyter interrupts a kernel by signalling its whole process group; the server must
        # survive that, and it has its own way to stop (the lifeline pipe).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(_serve(latency, host, listener, args.seed, args.verbose, args.child))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
