"""The post's loop lines, where they can run and where they must not (notebook 03).

The post drives its coroutines with ``asyncio.get_event_loop()``, ``run_until_complete`` and
``loop.close()``, lines written for a script, where no loop is running yet. Inside Jupyter a
loop is always running, so 03 runs the post's script where it was meant to run, in a fresh
Python, and prints what that Python printed::

    result = run_script(post_script, url, 20, timeout=30)   # prints its output and exit code
    result.returncode                                       # 1 on Python 3.11+: it stopped

Exercise 1 asks for the post's function without a loop of its own, and ``nest_asyncio2``
(applied earlier in 03) lets ``run_until_complete`` and even a new loop run inside the
notebook's. ``loops_started`` sees any of them start, whichever spelling started it::

    with loops_started() as started:
        await answer()
    started  # [] when the answer only awaited, else the loops that were set running

An answer can also wait without awaiting: ``time.sleep``, ``requests.get`` called directly or
``executor.map`` hold the loop's thread, and no other task runs until they return.
``loop_turns`` sees that::

    async with loop_turns() as turns:
        before = len(turns)
        await answer()
        len(turns) == before  # True when no other task ran while the answer ran

``calls_counted`` counts an answer's requests and how many ran at once, without the
server's help (a real site counts nothing for us)::

    with calls_counted(requests, "get") as calls:
        await answer()
    calls.made, calls.peak  # requests.get calls, and the most running at once
"""

from __future__ import annotations

import asyncio
import asyncio.events
import contextlib
import functools
import numbers
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

__all__ = ["CallCount", "calls_counted", "loop_turns", "loops_started", "run_script", "show_lines"]


def show_lines(text: str, keep: int = 22) -> None:
    """Print ``text`` in whole lines: all of them, or the first and last ``keep`` around a
    count of the lines left out."""
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise ValueError(f"keep must be a whole number of lines >= 1, got {keep!r}")
    lines = text.strip().splitlines()
    if len(lines) > 2 * keep:
        lines = [*lines[:keep], f"[... {len(lines) - 2 * keep} lines left out ...]", *lines[-keep:]]
    print("\n".join(lines) or "(no output)")


def run_script(source: str, *args: object, timeout: float, name: str = "post.py") -> subprocess.CompletedProcess:
    """Run ``source`` as a script with this kernel's Python; print what it printed; return the result.

    The script is written into a temporary folder (prefix ``async-post-``, deleted when the run
    ends) and run as ``python -W default NAME ARGS...``, so that its warnings show as a student
    running it would see them. ``args`` reach it as strings in ``sys.argv[1:]``. Its standard
    output, then its standard error (tracebacks, warnings) and its exit code are printed, each
    in whole lines (``show_lines``). A script still running after ``timeout`` seconds is stopped
    and ``subprocess.TimeoutExpired`` is raised, so that a silent server cannot hold the cell.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a script's text, got {source!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not 0 < timeout <= 3600:
        raise ValueError(f"timeout must be a number of seconds from 0 to 3,600, got {timeout!r}")
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".py"):
        raise ValueError(f"name must be a file name ending in .py, got {name!r}")
    with tempfile.TemporaryDirectory(prefix="async-post-") as folder:
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as script:
            script.write(source)
        result = subprocess.run(
            [sys.executable, "-W", "default", path, *map(str, args)],
            capture_output=True, text=True, timeout=timeout,
            # The kernel sets FORCE_COLOR=1, so Python 3.13+ would colour its tracebacks with
            # escape codes; PYTHON_COLORS=0 asks for plain text.
            env={**os.environ, "PYTHON_COLORS": "0"},
        )
    show_lines(result.stdout)
    if result.stderr:
        print("--- stderr ---")
        show_lines(result.stderr)
    print(f"--- exit code {result.returncode} ---")
    return result


@contextlib.contextmanager
def loops_started() -> Iterator[list[asyncio.AbstractEventLoop]]:
    """Record every event loop set running, in any thread, while the block runs.

    Every way of running a loop (``run_until_complete``, ``run_forever``, ``asyncio.run``,
    ``asyncio.Runner``, and ``nest_asyncio2``'s patched versions of them) tells asyncio which
    loop now runs, through ``asyncio.events._set_running_loop``; while the block runs, each loop
    it is told of is added to the list this yields. Awaiting in the notebook's own loop starts
    none, so the list stays empty. The function is put back when the block ends.
    """
    started: list[asyncio.AbstractEventLoop] = []
    original = asyncio.events._set_running_loop

    def recording(loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None:
            started.append(loop)
        original(loop)

    asyncio.events._set_running_loop = recording
    try:
        yield started
    finally:
        asyncio.events._set_running_loop = original


@contextlib.asynccontextmanager
async def loop_turns(every: float = 0.005) -> AsyncIterator[list[float]]:
    """Record each time the running loop let another task run, while the block runs.

    A task of its own wakes every ``every`` seconds and appends the time
    (``time.perf_counter()``) to the list this yields. Code that awaits something that really
    waits lets it run; code that holds the loop's thread while it waits (``time.sleep``, a
    blocking call, ``executor.map``) does not, so the list does not grow while it runs. The
    task is cancelled when the block ends.
    """
    if isinstance(every, bool) or not isinstance(every, numbers.Real) or not 0 < every <= 1:
        raise ValueError(f"every must be a number of seconds from 0 to 1, got {every!r}")
    turns: list[float] = []

    async def wake() -> None:
        while True:
            await asyncio.sleep(every)
            turns.append(time.perf_counter())

    task = asyncio.create_task(wake())
    await asyncio.sleep(0)  # let it start
    try:
        yield turns
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class CallCount:
    """The calls made to a function ``calls_counted`` wraps: ``made`` in all, ``running`` now,
    and ``peak``, the most that ran at once, in any thread."""

    def __init__(self) -> None:
        self.made = self.running = self.peak = 0
        self.lock = threading.Lock()


@contextlib.contextmanager
def calls_counted(owner: object, name: str) -> Iterator[CallCount]:
    """Count the calls to ``owner.name`` (``requests.get``, say) while the block runs.

    The attribute is replaced by a wrapper that counts each call as it starts and ends, in
    whatever thread it runs (a pool's, for ``run_in_executor``), and put back when the block
    ends. Code that looks the attribute up when it calls it (``requests.get(...)``, or a
    function that does) is counted; a reference taken before the block is not.
    """
    if not isinstance(name, str) or not callable(getattr(owner, name, None)):
        raise ValueError(f"name must name a function of {owner!r}, got {name!r}")
    original, count = getattr(owner, name), CallCount()

    @functools.wraps(original)
    def counting(*args: object, **kwargs: object) -> object:
        with count.lock:
            count.made += 1
            count.running += 1
            count.peak = max(count.peak, count.running)
        try:
            return original(*args, **kwargs)
        finally:
            with count.lock:
                count.running -= 1

    setattr(owner, name, counting)
    try:
        yield count
    finally:
        setattr(owner, name, original)
