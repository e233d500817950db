"""The latency server's aiohttp application: what one GET may ask for, and how it is answered.

Every GET is answered after a set latency. Query parameters change one request
(``?delay=1.0&status=503``): each is one row of ``SETTINGS`` below, with its name, type, range,
default and meaning. The server reads a query string with that table and ``url_for`` writes one
with it, so a new parameter is a new row, plus the code in ``LatencyApp.answer`` that acts on it.
A malformed value is answered with 400 and a one-line reason. ``GET /stats`` returns what the
server has served, as JSON (``/stats?client=NAME``: one client's); ``POST /stats/reset`` starts
the counts again; ``GET /stats/clients`` lists every named client (up to 10,000, the most recently seen)
with the requests it has had answered since its first, for a teacher to see who is working.

It is itself an asyncio program: a thousand waiting requests are a thousand
``await asyncio.sleep(...)`` on one thread, with no thread per connection to start or switch
(``make bench`` measures how late its answers come at 20, 200 and 1,000 at once). ``helpers.server`` runs it for a notebook, in a child
process; ``helpers.room`` runs it for a classroom.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import os
import random
import re
import urllib.parse
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

DEFAULT_LATENCY = 0.3
MAX_DELAY = 60.0
MAX_BODY_SIZE = 100 * 1024 * 1024
STATS_PATH = "/stats"
RESET_PATH = "/stats/reset"
CLIENTS_PATH = "/stats/clients"  # every named client's requests, for a teacher
WORKER_PID_HEADER = "X-Worker-Pid"
ANSWERABLE_STATUSES = frozenset(s.value for s in HTTPStatus if 200 <= s.value <= 599)
# A client's name for its own counts on a shared server (see SharedServer), and how many it keeps.
CLIENT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_CLIENTS = 10_000

_BODY_PATTERN = b"ok" * 32768  # a body of size 2, the default, reads "ok"


class BadRequest(ValueError):
    """A request parameter that the server will not accept; its message is the 400's reason."""


def _known_status(status: int) -> str | None:
    if status not in ANSWERABLE_STATUSES:
        return f"status must be a known HTTP status from 200 to 599, got {status}"
    return None


def _client_name(name: str) -> str | None:
    if not CLIENT_PATTERN.fullmatch(name):
        return f"client must be 1 to 64 letters, digits, '-' or '_', got {name!r}"
    return None


@dataclasses.dataclass(frozen=True)
class Setting:
    """One query parameter: its name, its type, its range, its default, and what it means.

    ``kind`` is float (seconds), int or str. A number must be from 0 to ``high``. ``rule``, if
    given, is one more check: it returns why a value is refused, or None. ``per_request`` is
    False for a setting that ``url_for`` does not offer (a shared server sets ``client`` itself).
    """

    name: str
    kind: type
    high: float | None
    default: Any
    meaning: str
    rule: Callable[[Any], str | None] | None = None
    per_request: bool = True

    def _refusal(self, value: Any, shown: str) -> str | None:
        """Why ``value`` (written as ``shown``) is out of range or breaks the rule, or None."""
        if self.high is not None:
            finite = self.kind is int or math.isfinite(value)
            if not finite or not 0 <= value <= self.high:
                high = f"{self.high:g} seconds" if self.kind is float else f"{self.high}"
                return f"{self.name} must be from 0 to {high}, got {shown}"
        return self.rule(value) if self.rule else None

    def read(self, text: str) -> Any:
        """The value that ``text``, from a query string, asks for; ``BadRequest`` if refused."""
        value: Any = text
        if self.kind is not str:
            try:
                value = self.kind(text)
            except ValueError:
                kind = "a number" if self.kind is float else "a whole number"
                raise BadRequest(f"{self.name} must be {kind}, got {text!r}") from None
        reason = self._refusal(value, repr(text))
        if reason:
            raise BadRequest(reason)
        return value

    def check(self, value: Any) -> Any:
        """``value`` as a notebook passes it to ``url_for``; TypeError or ValueError if refused."""
        kinds = (int, float) if self.kind is float else self.kind
        if isinstance(value, bool) or not isinstance(value, kinds):
            kind = {float: "a number of seconds", int: "an int", str: "a string"}[self.kind]
            raise TypeError(f"{self.name} must be {kind}, got {type(value).__name__}")
        reason = self._refusal(value, repr(value))
        if reason:
            raise ValueError(reason)
        return value


# The query parameters, in the order a URL lists them. A new one is a row here (and the code in
# ``LatencyApp.answer`` that acts on it): the server's parsing, its 400s and url_for follow.
SETTINGS = (
    Setting("delay", float, MAX_DELAY, None, "seconds to wait before answering, instead of the server's latency"),
    Setting("jitter", float, MAX_DELAY, 0.0, "up to this many seconds more, at random"),
    Setting("seed", int, 2**63 - 1, None, "makes the jitter repeatable"),
    Setting("status", int, 599, 200, "the status code to answer with", rule=_known_status),
    Setting("size", int, MAX_BODY_SIZE, 2, "the number of body bytes"),
    Setting("trickle", float, MAX_DELAY, 0.0, "seconds between the body's bytes, the first sent with the headers "
            "(a client's read timeout bounds each gap, not the whole answer)"),
    Setting("client", str, None, None, "a name to count this request under too", rule=_client_name, per_request=False),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def _together(values: Mapping[str, Any]) -> str | None:
    """Why settings that are each fine cannot go together, or None: a trickled body takes
    MAX_DELAY at most (the wait before it, delay plus jitter, is bounded on its own)."""
    trickle, size = values["trickle"], values["size"]
    if trickle * max(size - 1, 0) > MAX_DELAY:
        return f"trickle * (size - 1) must be at most {MAX_DELAY:g} seconds, got {trickle:g} * {size - 1}"
    return None


def read_query(query_string: str, latency: float) -> dict[str, Any]:
    """Every setting for one GET, from its query string (defaults for the rest); ``BadRequest`` if refused."""
    try:
        query = urllib.parse.parse_qs(query_string, keep_blank_values=True, strict_parsing=bool(query_string))
    except ValueError:
        raise BadRequest(f"malformed query string {query_string!r}") from None
    unknown = sorted(set(query) - set(BY_NAME))
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}; known: {', '.join(BY_NAME)}")
    values = {setting.name: setting.default for setting in SETTINGS} | {"delay": latency}
    values |= {name: BY_NAME[name].read(texts[-1]) for name, texts in query.items()}
    reason = _together(values)
    if reason:
        raise BadRequest(reason)
    return values


def query_for(settings: Mapping[str, Any], caller: str = "url_for") -> dict[str, Any]:
    """The settings a notebook gave (None: not given), checked, in ``SETTINGS`` order, for a URL."""
    offered = [setting.name for setting in SETTINGS if setting.per_request]
    unknown = sorted(set(settings) - set(offered))
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}; known: {', '.join(offered)}")
    given = {name: BY_NAME[name].check(settings[name]) for name in offered if settings.get(name) is not None}
    reason = _together({setting.name: setting.default for setting in SETTINGS} | given)
    if reason:
        raise ValueError(reason)
    return given


def settings_help() -> str:
    """One line per setting that ``url_for`` offers, for its docstring."""
    return "\n".join(f"``{s.name}``: {s.meaning}." for s in SETTINGS if s.per_request)


def check_seconds(name: str, value: float) -> float:
    """``value`` as seconds from 0 to MAX_DELAY, or TypeError / ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
        raise ValueError(f"{name} must be from 0 to {MAX_DELAY:g} seconds, got {value!r}")
    return float(value)


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return seed


def check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be from 0 (any free port) to 65535, got {port}")
    return port


def check_host(host: str) -> str:
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty string such as '127.0.0.1', got {host!r}")
    return host


@dataclasses.dataclass(frozen=True)
class ServerStats:
    """What the server has done since it started or was last reset.

    ``peak_in_flight`` is the largest number of requests the server was answering at one time:
    the most direct evidence of how much concurrency a client really achieved. A real site's
    (``helpers.server.RealSite``) are ``NOT_COUNTED``, which prints as "not counted".
    """

    served: int
    rejected: int
    in_flight: int
    peak_in_flight: int


class _Counts:
    """What was served to one set of clients: everyone's, or one named client's."""

    def __init__(self) -> None:
        self.served = self.rejected = self.in_flight = self.peak_in_flight = 0
        self.served_ever = 0  # not reset: what a teacher's /stats/clients shows

    def start(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def finish(self) -> None:
        self.in_flight -= 1
        self.served += 1
        self.served_ever += 1

    def reset(self) -> None:
        self.served = self.rejected = 0
        self.peak_in_flight = self.in_flight

    def stats(self) -> ServerStats:
        return ServerStats(self.served, self.rejected, self.in_flight, self.peak_in_flight)


class LatencyApp:
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

    async def answer(self, request: web.Request) -> web.StreamResponse:
        """Wait the delay, then answer: the ``await`` lets one thread hold every waiting request."""
        try:
            asked = read_query(request.query_string, self.latency)
        except BadRequest as reason:
            return self.refuse(HTTPStatus.BAD_REQUEST, str(reason))
        delay = asked["delay"] + (self.jitter(asked["jitter"], asked["seed"]) if asked["jitter"] else 0.0)
        counted = [self.counts] + ([self.client_counts(asked["client"])] if asked["client"] else [])
        for counts in counted:
            counts.start()
        try:
            await asyncio.sleep(delay)
            status, size, trickle = asked["status"], asked["size"], asked["trickle"]
            headers = {"X-Delay": f"{delay:.6f}"}
            if status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
                return web.Response(status=status, headers=headers)
            if size <= len(_BODY_PATTERN) and not trickle:
                return web.Response(status=status, headers=headers, body=_BODY_PATTERN[:size], content_type="text/plain")
            return await self._stream(request, status, size, trickle, headers)
        finally:
            for counts in counted:
                counts.finish()

    @staticmethod
    async def _stream(
        request: web.Request, status: int, size: int, trickle: float, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Send the body in pieces: a 100 MB answer never sits in memory whole, and a trickled
        one goes a byte at a time, ``trickle`` seconds apart, the first with the headers."""
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = "text/plain"
        response.content_length = size
        await response.prepare(request)
        left = size if request.method == "GET" else 0
        piece_size = 1 if trickle else len(_BODY_PATTERN)
        try:
            while left:
                if left < size:
                    await asyncio.sleep(trickle)
                start = (size - left) % 2  # where the body's "okok..." stands
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
        return self.counts if client is None else self.client_counts(BY_NAME["client"].read(client))

    async def show_stats(self, request: web.Request) -> web.Response:
        """The counts as JSON, and which process counted them (each gunicorn worker counts its own)."""
        try:
            counts = self.counts_for(request)
        except BadRequest as reason:
            return self.refuse(HTTPStatus.BAD_REQUEST, str(reason))
        return web.json_response(dataclasses.asdict(counts.stats()), headers={WORKER_PID_HEADER: str(os.getpid())})

    async def show_clients(self, request: web.Request) -> web.Response:
        """Every named client, for a teacher: how many of its requests have been answered since its
        first (its own resets do not touch this) and how many it has waiting now."""
        clients = {name: {"served": counts.served_ever, "in_flight": counts.in_flight}
                   for name, counts in self.clients.items()}
        return web.json_response(clients, headers={WORKER_PID_HEADER: str(os.getpid())})

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
        app.router.add_get(CLIENTS_PATH, self.show_clients)
        app.router.add_post(RESET_PATH, self.reset_stats)
        app.router.add_get("/{path:.*}", self.answer)  # add_get answers HEAD too
        app.router.add_route("*", "/{path:.*}", self.not_allowed)
        return app
