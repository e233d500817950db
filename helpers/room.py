"""The latency server for a whole room: ``python -m helpers.room``, run by a teacher.

    python -m helpers.room --latency 0.3 --host 0.0.0.0 --port 8000

It serves ``helpers.app`` to every student at once (see ``docs/classroom.md``). A room full of
students must not exhaust the server's open files, so the server:

- raises its own soft open-file limit as far as it may at start (``raise_open_file_limit``),
  and says how many connections it can hold at once (the banner);
- accepts every connection itself (the doorkeeper), and answers one past that number with an
  immediate 503 that names the number, rather than leaving it to wait unseen in the backlog;
- closes idle keep-alive connections after ``KEEPALIVE_SECONDS``, so finished students release
  their descriptors;
- sums up repeated errors in at most one line a second instead of a traceback each (the tally).

Where one core is not enough (about 0.2 ms of CPU per request in ``make bench-class``: at most
some 5,000 requests a second), gunicorn runs ``classroom_app`` in several worker processes;
each worker then counts only its own requests in ``/stats``, and says which it is in the
``X-Worker-Pid`` header.

A notebook's own server (``helpers.server.LatencyServer``) is this command too, run as a child
process with ``--child``: it prints its URL as one line of JSON and serves until the notebook's
end of its stdin closes. ``import helpers`` never imports this module, so ``python -m`` runs it
without a warning from runpy.
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
import signal
import socket
import sys
import time
from collections.abc import Callable

import psutil
from aiohttp import web

from helpers.app import DEFAULT_LATENCY, LatencyApp, check_host, check_port, check_seconds, check_seed
from helpers.resources import raise_open_file_limit

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = ("0.0.0.0", "::")
# A finished student's connections are closed this long after their last answer. Long enough
# for a loop of requests on one session to reuse its connection, short enough to free a room.
KEEPALIVE_SECONDS = 2.0
# Descriptors kept free above the last connection the server will hold: a connection accepted
# into them is answered 503 and closed at once, so they are never all in use.
SPARE_DESCRIPTORS = 32
# How many connections may wait to be accepted. The kernel caps it at net.core.somaxconn.
BACKLOG = 4096


class Tally:
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


class Doorkeeper:
    """Accepts connections itself, so that a full room gets a fast 503, never a silent wait.

    asyncio's own accept loop, out of descriptors, leaves connections queued unseen in the
    backlog until the client gives up; worse, it retries the failed accept up to ``backlog``
    times on each wake and logs a traceback for each (python/cpython#151615; its fix is not in
    3.10 to 3.15.2): hundreds of megabytes a minute and a busy core. Here every waiting
    connection is accepted at once. The kernel gives each the lowest free descriptor number, so
    a number at or past ``ceiling`` means every descriptor below it is in use: that connection
    is answered 503 and closed on the spot, and the spare descriptors above the ceiling are
    never all taken.
    """

    def __init__(
        self,
        listener: socket.socket,
        serve: Callable[[], asyncio.Protocol],
        ceiling: int,
        capacity: int,
        tally: Tally,
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
class OpenFiles:
    """The server's open-file limit, as found and as raised, and the connections it allows.

    ``capacity`` is None where descriptors are not small numbers to count (Windows).
    """

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


def open_files_for_a_room() -> OpenFiles:
    """Raise this process's open-file limit, then count the connections it leaves room for."""
    raised = raise_open_file_limit()
    if raised.limit is None or raised.unlimited:
        return OpenFiles(found=raised.found or 0, limit=raised.limit or 0, capacity=None)
    with socket.socket() as probe:  # takes the lowest free descriptor: all below it are in use
        in_use = probe.fileno()
    return OpenFiles(found=raised.found, limit=raised.limit, capacity=max(0, raised.limit - SPARE_DESCRIPTORS - in_use))


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen, or raise ``OSError`` (a busy port, an address this machine does not have)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
    listener.setblocking(False)
    return listener


def local_url(host: str, port: int) -> str:
    """The URL at which this machine reaches a server bound to ``host``: where the server is
    bound to every interface, the loopback."""
    if host in ALL_INTERFACES:
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def urls(host: str, port: int) -> list[tuple[str, str]]:
    """(who can use it, URL) for every address that reaches a server bound to ``host``.

    Bound to every interface, the server is reached at each of this machine's addresses on
    the room's network; the loopback only from this machine.
    """
    if host not in ALL_INTERFACES:
        return [("", local_url(host, port))]
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


def banner(latency: float, host: str, port: int, open_files: OpenFiles) -> str:
    """What the teacher reads at start: where students connect, and how many the room holds."""
    found = urls(host, port)
    if len(found) == 1:
        lines = [f"Serving {found[0][1]} with a latency of {latency:g} s. Press Ctrl-C to stop."]
    else:
        lines = [f"Serving every interface with a latency of {latency:g} s. Press Ctrl-C to stop."]
        if not any(who == "students" for who, _ in found):
            lines.append("  students: none (this machine has no network address but its own)")
        lines += [f"  {who + ':':<13} {url}" for who, url in found]
    return "\n".join([*lines, open_files.describe()])


def classroom_app(latency: float = DEFAULT_LATENCY, seed: int = 0) -> web.Application:
    """The server as an aiohttp application, for gunicorn to run on several cores.

    One process spends about 0.2 ms of CPU per request (``make bench-class``), so it answers at
    most some 5,000 a second; a lecture hall may need more::

        gunicorn 'helpers.room:classroom_app(latency=0.3)' --bind 0.0.0.0:8000 \\
            --worker-class aiohttp.GunicornWebWorker --workers 2

    Each worker raises its own open-file limit and keeps its own counts: ``/stats`` shows the
    worker that happened to answer it, named by its ``X-Worker-Pid`` header. gunicorn's accept
    loop is asyncio's, so a worker out of descriptors leaves connections waiting rather than
    answering 503; the single-process server is the one that refuses a full room at once.
    """
    latency = check_seconds("latency", latency)
    raise_open_file_limit()
    return LatencyApp(latency, check_seed(seed)).application()


def _wait_for_parent_to_exit() -> None:
    """Block until the parent's end of the stdin pipe closes.

    The operating system closes that pipe however the parent ends, SIGKILL included, which is
    what makes this more reliable than signals or an ``atexit`` hook in the parent.
    """
    sys.stdin.buffer.read()


async def _serve(latency: float, host: str, listener: socket.socket, seed: int, verbose: bool, child: bool) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally(loop)
    loop.set_exception_handler(tally.loop_exception)
    runner = web.AppRunner(
        LatencyApp(latency, seed).application(),
        access_log=logging.getLogger("aiohttp.access") if verbose else None,
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    await runner.setup()
    open_files = open_files_for_a_room()  # after the loop's own descriptors are open, to count them
    port = listener.getsockname()[1]
    doorkeeper = None
    if open_files.capacity is None:
        # Windows: no descriptor numbers to count, and its event loop cannot watch a listener.
        await web.SockSite(runner, listener, backlog=BACKLOG).start()
    else:
        doorkeeper = Doorkeeper(listener, runner.server, open_files.ceiling, open_files.capacity, tally)
        doorkeeper.open()
    try:
        if child:
            print(json.dumps({"url": local_url(host, port)}), flush=True)
            await asyncio.to_thread(_wait_for_parent_to_exit)
        else:
            print(banner(latency, host, port, open_files), flush=True)
            await asyncio.Event().wait()
    finally:
        if doorkeeper is not None:
            doorkeeper.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.room",
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
        latency = check_seconds("latency", args.latency)
        host, port = check_host(args.host), check_port(args.port)
    except ValueError as error:
        parser.error(str(error))
    try:
        listener = listen(host, port)
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
