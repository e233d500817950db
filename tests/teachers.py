"""A room's server started as a teacher starts it, for the tests and ``make bench-class`` alike.

``teacher_server`` runs a server command (``python -m helpers.room ...`` or gunicorn) under the
open-file limits a teacher's shell might have, and always stops it; ``answers_after`` waits
until a URL answers.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import requests

try:
    import resource
except ImportError:  # Windows: no open-file limits to set
    resource = None


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers_after(url: str, deadline: float = 10.0) -> float | None:
    """Seconds until ``url`` answers a fresh GET with 200, or None if not within ``deadline``."""
    start = time.perf_counter()
    while time.perf_counter() - start < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - start
        time.sleep(0.05)
    return None


def _limit_open_files(soft: int, hard: int | None) -> Callable[[], None]:
    """A ``preexec_fn`` that sets the server's open-file limits, as a teacher's shell would have."""

    def limit() -> None:
        current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, current_hard if hard is None else hard))

    return limit


@contextlib.contextmanager
def teacher_server(command: list[str], log, limits: tuple[int, int | None] | None) -> Iterator[subprocess.Popen]:
    """Run a server command with its stderr in ``log``, under ``limits`` (soft, hard; None: the
    hard limit as it is) if given; stop it at the end, whatever happens."""
    if not command:
        raise ValueError("command must name the server to run, got an empty list")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True,
        preexec_fn=_limit_open_files(*limits) if limits else None,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
