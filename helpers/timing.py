"""Timing records: one per request, gathered into a run with its total and its context.

The notebooks time the post's code with two context managers, which stand where the post had
``start = time.time()`` and ``time.time() - start``, and work the same in sync and async code::

    with timed_run("sync") as run:
        for _ in range(20):
            with run.request() as req:
                res = requests.get(url)
                req.status = res.status_code
    print(run)        # the post's output: "200 :  0.31..." per request, then "total: ..."

Times come from ``time.perf_counter``, a monotonic clock meant for measuring intervals; the
post's ``time.time`` is wall-clock time, which can jump when the system clock is adjusted.

``observing_runs(observer)`` lets code that waits on runs follow them as requests end, with
nothing added to the code being timed: ``LiveChart`` counts requests done this way.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import platform
import time
from collections.abc import Callable, Iterator
from types import TracebackType


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request: when it started and ended (seconds since its run began) and how it ended.

    ``status`` is the HTTP status code if the code being timed set one; ``error`` names the
    exception (e.g. ``"ReadTimeout"``) if the request raised instead.
    """

    index: int
    start: float
    end: float
    status: int | None = None
    error: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome(self) -> str:
        """What the post printed before each time: the status code, or the error's name."""
        return self.error or str(self.status)


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a run's numbers depend on: the post's 0.575 s was a fact about its machine."""

    python: str
    cpus: int | None
    workers: int | None = None

    @classmethod
    def here(cls, workers: int | None = None) -> RunContext:
        return cls(python=platform.python_version(), cpus=os.cpu_count(), workers=workers)

    def __str__(self) -> str:
        parts = [f"Python {self.python}", f"{self.cpus} CPUs"]
        if self.workers is not None:
            parts.append(f"{self.workers} worker threads")
        return ", ".join(parts)


class RequestTimer:
    """Times one request between ``with run.request() as req:`` and the end of its block.

    Set ``req.status`` inside the block; read ``req.duration`` after it. An exception in the
    block is recorded by name and then raised again, never swallowed.
    """

    def __init__(self, run: Run, index: int) -> None:
        self._run = run
        self.index = index
        self.status: int | None = None
        self.record: RequestRecord | None = None
        self._start = 0.0

    def __enter__(self) -> RequestTimer:
        self._start = self._run.clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        error = exc_type.__name__ if exc_type is not None else None
        self.record = RequestRecord(self.index, self._start, self._run.clock(), self.status, error)
        self._run.records.append(self.record)
        self._run._tell_observer()

    @property
    def duration(self) -> float:
        if self.record is None:
            raise RuntimeError("duration is known only after the request's with-block has ended")
        return self.record.duration


class Run:
    """A labelled run of requests: its records, in the order they finished, and its total.

    Make one with ``timed_run``. Printing it gives the post's output shape, so that it can be
    compared with the post line by line; the context (Python, CPUs, workers) follows the total.
    """

    def __init__(self, label: str, context: RunContext, observer: Callable[[Run], None] | None = None) -> None:
        self.label = label
        self.context = context
        self._observer = observer
        self.records: list[RequestRecord] = []
        self.total: float | None = None
        self._origin: float | None = None
        self._next_index = 0

    def clock(self) -> float:
        """Seconds since the run began."""
        if self._origin is None:
            raise RuntimeError("this run has not started: use it as `with timed_run(...) as run:`")
        return time.perf_counter() - self._origin

    def request(self, index: int | None = None) -> RequestTimer:
        """Time one request; requests are numbered 0, 1, 2... in the order they start."""
        if index is None:
            index = self._next_index
        elif isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"index must be an int >= 0, got {index!r}")
        self._next_index = max(self._next_index, index + 1)
        return RequestTimer(self, index)

    @property
    def n_requests(self) -> int:
        return len(self.records)

    @property
    def failures(self) -> list[RequestRecord]:
        return [record for record in self.records if not record.ok]

    def __enter__(self) -> Run:
        if self._origin is not None:
            raise RuntimeError(f"run {self.label!r} has already been timed; start a new timed_run")
        self._origin = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.total = self.clock()
        self._tell_observer()

    def _tell_observer(self) -> None:
        if self._observer is not None:
            self._observer(self)

    def __str__(self) -> str:
        lines = [f"{record.outcome} :  {record.duration}" for record in self.records]
        total = "not finished" if self.total is None else self.total
        lines.append(f"total: {total}    ({self.label}; {self.context})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        total = "running" if self.total is None else f"total {self.total:.3f} s"
        return f"<Run {self.label!r}: {self.n_requests} requests, {total}>"


_observer: contextvars.ContextVar[Callable[[Run], None] | None] = contextvars.ContextVar("observer", default=None)


@contextlib.contextmanager
def observing_runs(observer: Callable[[Run], None]) -> Iterator[None]:
    """Call ``observer(run)`` as each run started in the block (or in a task started there, which
    copies the setting) gets a request done, in the thread where it ended, and as the run ends."""
    if not callable(observer):
        raise TypeError(f"observer must be callable, got {observer!r}")
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def timed_run(label: str, *, workers: int | None = None) -> Run:
    """A new run to use in a ``with`` block; its total is the time the block took.

    ``label`` names the run on charts. ``workers`` is the size of the thread pool the run used,
    if it used one: it decides how many requests can wait at once, so it belongs with the total.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
    return Run(label, RunContext.here(workers), _observer.get())
