"""The server a notebook times: ``course_server()``, and the objects it returns.

The notebooks time requests against a local latency server instead of a public site, so that a
class of thirty laptops never hammers anyone, and every run is repeatable offline::

    server = course_server(latency=0.3)
    requests.get(server.url)                      # answers 200 after 0.3 s
    requests.get(server.url_for(delay=1.0))       # this one waits 1 s
    server.stats().peak_in_flight                 # the most requests it answered at once

``course_server`` returns one of three objects with the same face (``url``, ``latency``,
``url_for``, ``stats``, ``reset_stats``, ``stop``, ``counted``), so a lesson needs no
``if server`` guards:

- ``LatencyServer``: a server of the notebook's own, in a child process on 127.0.0.1;
- ``SharedServer``: the room's server (``$ASYNC_BY_TIMING_SERVER``; see ``docs/classroom.md``),
  with this notebook's latency and a name of its own (``client=``) in every URL;
- ``RealSite``: a real site (``url="https://..."``): nothing to count, nothing to set.

The server itself is ``helpers.app``; a room's is ``python -m helpers.room``.
"""

from __future__ import annotations

import getpass
import inspect
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import weakref
from typing import Any

from helpers.app import (
    DEFAULT_LATENCY, RESET_PATH, SETTINGS, STATS_PATH, ServerStats, check_host, check_port, check_seconds,
    check_seed, query_for, settings_help,
)  # fmt: skip

__all__ = ["course_server", "start_server", "LatencyServer", "SharedServer", "RealSite", "ServerStats", "NOT_COUNTED"]

LOOPBACK = "127.0.0.1"
# Where a notebook finds a classroom's shared server: set for everyone, e.g. by a JupyterHub admin.
SHARED_SERVER_VARIABLE = "ASYNC_BY_TIMING_SERVER"


def course_server(
    latency: float = DEFAULT_LATENCY, url: str | None = None
) -> LatencyServer | SharedServer | RealSite:
    """The server a notebook times: a real site if ``url`` names one, else the room's, else its own.

    ``url=None`` (the notebooks' default): the room's server if ``$ASYNC_BY_TIMING_SERVER`` names
    one (a teacher, or a JupyterHub admin for everyone, sets it to the address the room's server
    prints), else a server of the notebook's own on 127.0.0.1. ``url="https://..."``: that site,
    as a ``RealSite``, which counts nothing and takes no settings but ``delay``.
    """
    latency = check_seconds("latency", latency)
    if url is not None:
        return RealSite(url, latency)
    shared = os.environ.get(SHARED_SERVER_VARIABLE, "").strip()
    return SharedServer(shared, latency) if shared else start_server(latency)


def start_server(latency: float = DEFAULT_LATENCY, *, host: str = LOOPBACK, port: int = 0) -> LatencyServer:
    """Start a latency server on a free port of 127.0.0.1 and return it; its URL is ``.url``.

    Pass ``host="0.0.0.0"`` only on purpose, to let other machines in a classroom reach it.
    """
    return LatencyServer(latency, host=host, port=port)


def _http_url(url: str) -> urllib.parse.SplitResult:
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as 'https://example.com', got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be an http:// or https:// address, got {url!r}")
    return parts


class _Endpoint:
    """What a notebook uses of a latency server, whether it runs here or is shared by a room.

    ``_base`` is the server's address; ``_defaults`` are query settings every URL carries.
    """

    counted = True  # stats() counts this server's requests
    latency: float
    _base: str
    _defaults: dict[str, object] = {}

    def url_for(self, **settings: Any) -> str:
        """The server's URL with per-request settings in its query string, checked here first."""
        query = {**self._defaults, **query_for(settings)}
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

    def stop(self) -> None:
        """Nothing to stop: the server is not ours (LatencyServer stops its own)."""

    def __enter__(self) -> _Endpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# url_for's signature and help list the settings of helpers.app.SETTINGS, whatever they are.
_Endpoint.url_for.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [
        inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=f"{s.kind.__name__} | None")
        for s in SETTINGS
        if s.per_request
    ],
    return_annotation="str",
)
if _Endpoint.url_for.__doc__:  # None under python -OO
    _Endpoint.url_for.__doc__ += "\n\nEach setting left as None is not sent:\n\n" + settings_help()


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


class LatencyServer(_Endpoint):
    """A running latency server in a child process; ``start_server`` is the usual way to get one.

    Use it as a long-lived object for a whole notebook, or as a context manager for a block::

        with LatencyServer(latency=0.1) as server:
            requests.get(server.url)

    The child runs in a process of its own (``python -m helpers.room --child``), so its work
    never competes with the notebook's threads for the GIL (it still shares the machine's CPUs:
    on a busy laptop its answers can come late, by as much as it waits for a core). It watches a pipe from this process and exits as soon as that pipe closes: when
    ``stop()`` is called, when the object is garbage-collected (so a cell that starts a new
    server and is run twice leaves one server, not two), and when the Python process that
    started it exits or is killed, even with SIGKILL.
    """

    def __init__(self, latency: float = DEFAULT_LATENCY, *, host: str = LOOPBACK, port: int = 0, seed: int = 0) -> None:
        self.latency = check_seconds("latency", latency)
        host, port, seed = check_host(host), check_port(port), check_seed(seed)
        command = [
            sys.executable, "-m", "helpers.room", "--child",
            "--latency", repr(self.latency), "--host", host, "--port", str(port), "--seed", str(seed),
        ]  # fmt: skip
        with tempfile.TemporaryFile() as errors:
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
            first_line = self._process.stdout.readline()
            if not first_line:
                self._process.wait()
                errors.seek(0)
                reason = errors.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError("the latency server did not start: " + (reason[-1] if reason else "no message"))
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

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LatencyServer {self.url} latency={self.latency:g}s {state}>"


def _name_part(text: str, length: int) -> str:
    """``text`` in the letters a client name allows (others become '-'), at most ``length`` long."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:length].strip("-_")


def client_name() -> str:
    """A name a teacher can read in ``/stats``: ``<user>-<notebook>-<4 hex digits>``.

    The user is ``$JUPYTERHUB_USER`` on a JupyterHub, else the login name
    (``getpass.getuser()``); the notebook is the file whose kernel this is
    (``$JPY_SESSION_NAME``, which jupyter_server puts in the environment of a kernel it starts
    for a notebook), left out where there is none, as under nbclient or papermill. The random ending keeps two notebooks (or two runs of
    one) apart. Every part keeps to the letters ``client=`` allows.
    """
    user = os.environ.get("JUPYTERHUB_USER", "")
    if not user:
        try:
            user = getpass.getuser()
        except (OSError, ImportError, KeyError):  # no login name: OSError from 3.13, before it
            # KeyError (no such user) or ImportError (Windows, where pwd does not exist)
            user = ""
    parts = [_name_part(user, 24) or "student"]
    notebook = os.path.basename(os.environ.get("JPY_SESSION_NAME", ""))
    notebook = _name_part(os.path.splitext(notebook)[0], 30)
    if notebook:
        parts.append(notebook)
    return "-".join([*parts, secrets.token_hex(2 if notebook else 4)])


class SharedServer(_Endpoint):
    """A latency server that somebody else runs for a room (a teacher's), used as one's own.

    Every URL carries this notebook's latency as ``delay`` (so the lesson's numbers hold, whatever
    latency the teacher chose) and a ``client`` name of its own (see ``client_name``), so that
    ``stats()`` counts this notebook's requests and not the whole room's.
    """

    def __init__(self, url: str, latency: float = DEFAULT_LATENCY) -> None:
        parts = _http_url(url)
        self.latency = check_seconds("latency", latency)
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._defaults = {"delay": self.latency, "client": client_name()}
        self.url: str = self.url_for()
        try:
            self.stats()
        except OSError as error:
            raise RuntimeError(f"the shared latency server at {self._base} did not answer: {error}") from None

    @property
    def client(self) -> str:
        """This notebook's name in the room's ``/stats?client=NAME``."""
        return self._defaults["client"]

    def __repr__(self) -> str:
        return f"<SharedServer {self._base} latency={self.latency:g}s client={self.client}>"


class _NotCounted:
    """A count that a real site does not give: it prints as "not counted", whatever the format."""

    def __format__(self, spec: str) -> str:
        return "not counted"

    def __repr__(self) -> str:
        return "not counted"


NOT_COUNTED = _NotCounted()


class RealSite(_Endpoint):
    """A real site, timed on purpose: the same face as a latency server, with nothing to count.

    ``latency`` is the notebook's LATENCY, an assumption here: a real site's latency is its own.
    ``url_for(delay=...)`` returns ``url`` for the same reason; any other setting needs the local
    server and raises ValueError. ``stats()`` counts print "not counted"; ``reset_stats()`` and
    ``stop()`` do nothing. Nothing here sends a request: only the notebook's own code does.
    """

    counted = False

    def __init__(self, url: str, latency: float = DEFAULT_LATENCY) -> None:
        _http_url(url)
        self.url: str = url
        self.latency = check_seconds("latency", latency)

    def url_for(self, **settings: Any) -> str:
        """``url`` itself: a real site's latency is its own, and it takes no other setting."""
        given = query_for(settings)
        unsupported = [name for name in given if name != "delay"]
        if unsupported:
            raise ValueError(
                f"{unsupported[0]}= needs the local latency server: a real site answers as it does. "
                "Set URL = None to see this demonstration."
            )
        return self.url

    def stats(self) -> ServerStats:
        """Counts that print as "not counted": a real site does not tell us what it served."""
        return ServerStats(NOT_COUNTED, NOT_COUNTED, NOT_COUNTED, NOT_COUNTED)

    def reset_stats(self) -> None:
        """Nothing to reset: a real site's counts are not ours."""

    def __repr__(self) -> str:
        return f"<RealSite {self.url} (latency assumed {self.latency:g}s, not counted)>"


RealSite.url_for.__signature__ = _Endpoint.url_for.__signature__


if __name__ == "__main__":  # the room's command before helpers.room had it: say where it went
    sys.exit("python -m helpers.server no longer serves a room: run make room, or python -m helpers.room")
