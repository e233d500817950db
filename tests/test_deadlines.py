"""Every request in the notebooks gives up on a silent server, so no cell can hang (issue 13).

A classroom's shared server can stall: the teacher's laptop sleeps, the room's network drops.
Here each notebook runs against a shared server that answers ``/stats`` (so the set-up cell
gets going) and then holds every request without a byte in reply. With ``PATIENCE`` set low,
every request must fail within a few ``PATIENCE`` and every cell end: a request left without a
timeout would hold its cell until the cell limit below, and fail the test. Errors are expected
and allowed, as a student would see them; only a cell that does not end is a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from collections.abc import Iterator

import papermill
import pytest
from aiohttp import web

from helpers.app import RESET_PATH, STATS_PATH, ServerStats
from helpers.server import SHARED_SERVER_VARIABLE
from nbrun import NOTEBOOKS, errors_in, text_of
from tools.notebooks import client_for, prepare, small_parameters

PATIENCE = 0.5
# Far more than any cell needs when each request gives up after PATIENCE (the slowest, 05's
# thread pools, fail within a few waves of it); far less than aiohttp's default of 300 s.
CELL_LIMIT = 60
# Besides every name ending in "Timeout" (requests' Timeout, ReadTimeout, ConnectTimeout):
TIMEOUT_ERRORS = ("TimeoutError", "ServerTimeoutError", "ConnectionTimeoutError", "SocketTimeoutError",
                  "ReadTimeoutError", "TimeoutExpired")


class SilentServer:
    """A shared server, on 127.0.0.1 in a thread of the test, that never answers a request."""

    def __init__(self) -> None:
        self.held = 0  # requests received and never answered
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(ServerStats(0, 0, 0, 0)))

    async def _reset(self, request: web.Request) -> web.Response:
        return web.Response(text="reset\n")

    async def _hold(self, request: web.Request) -> web.Response:
        self.held += 1
        await self._stop.wait()  # until the test ends: the client must give up first
        return web.Response(status=503)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_get(STATS_PATH, self._stats)
        app.router.add_post(RESET_PATH, self._reset)
        app.router.add_get("/{tail:.*}", self._hold)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> SilentServer:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the silent server did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_patience_is_a_parameter_a_student_can_see(path):
    found = papermill.inspect_notebook(str(path))
    assert "PATIENCE" in found, f"{path.name}'s parameter cell has no PATIENCE"
    assert found["PATIENCE"]["default"] == "10"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_a_silent_server_cannot_hang_a_cell(path, tmp_path, silent_server, monkeypatch):
    monkeypatch.setenv(SHARED_SERVER_VARIABLE, silent_server.url)
    held_before = silent_server.held
    notebook = prepare(path, {**small_parameters(path.name), "PATIENCE": PATIENCE})
    client = client_for(notebook, tmp_path, timeout=CELL_LIMIT)
    client.allow_errors = True  # every request fails here; what matters is that every cell ends
    client.execute()  # a cell still waiting after CELL_LIMIT raises CellTimeoutError

    assert silent_server.held > held_before, "the notebook sent no request to the shared server"
    errors = [output.ename for output in errors_in(notebook)]
    # A notebook may show the error, or count it in a line it prints ("3 of them raised ReadTimeout").
    errors += re.findall(r"raised (\w+)", text_of(notebook))
    timeouts = [name for name in errors if name in TIMEOUT_ERRORS or name.endswith("Timeout")]
    assert timeouts, f"no request gave up with a timeout error; the errors were {errors}"
