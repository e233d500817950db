"""See inside the event loop: when each task runs on the loop thread, and what it waits for.

A timeline of requests shows them only from outside. A trace shows the loop itself::

    with trace_loop() as trace:
        await asyncio.gather(*(asyncio.to_thread(requests.get, url, timeout=10) for _ in range(20)))
    plot_swimlanes(trace)        # from helpers.plots

Inside the block, and in seconds since the trace began, it records:

- for every task started in the block (by the block's own code, or by a task started there):
  its *run slices*, each step it runs on the loop thread between two awaits, and its *waits*,
  each with the kind of thing it waited for (``WAIT_KINDS``);
- for every call handed to a worker thread by ``loop.run_in_executor`` or ``asyncio.to_thread``:
  when it was queued, when a worker thread picked it up, and when it finished;
- when the loop thread was busy: all the time it was not waiting for events with nothing to run.
  Code that never yields, such as ``time.sleep`` inside a coroutine, keeps it busy throughout.

How it hooks in, and why that is safe in a running Jupyter kernel: it changes three things, on the
running loop *instance* and its selector, and nothing on any class or module. It installs a task
factory with the public ``loop.set_task_factory``, chained to the factory that was there; the
factory wraps the coroutine of each task started in the block in a thin proxy that times every
``send`` and ``throw`` the task makes on it, and leaves every other task (the kernel's own, say)
untouched. It shadows ``run_in_executor`` on that loop object, which ``asyncio.to_thread`` calls
too, to time the call in its worker thread. And it shadows ``select`` on the loop's selector
object to see when the loop waits idle. ``__exit__`` puts each one back, also when the block
raises or is interrupted. A proxy of a task that outlives the block stops recording and only
passes each step on, so the task's results, exceptions and cancellation are never changed.
Keyword arguments that ``create_task`` passes to a task factory (from Python 3.11, ``context``
when one is given; from 3.14 every one it is given, ``name`` and ``eager_start`` too) go on
unchanged to the factory that was there, or to ``asyncio.Task``. A task made by calling
``asyncio.Task(...)`` itself reaches no factory and is not traced: aiohttp makes its host-name
lookups that way on Python 3.12 and 3.13 (to start them eagerly), and with
``create_task(..., eager_start=True)`` from 3.14, where the trace sees them.

To look into another program's loop from outside (Python 3.14's ``python -m asyncio ps`` and
``pstree``), see ``helpers.introspect``.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import dataclasses
import functools
import threading
import time
import types
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

WaitKind = Literal["ready", "queued", "thread", "lock", "sleep", "other"]

WAIT_KINDS: dict[str, str] = {
    "ready": "ready to run, waiting for its turn on the loop thread",
    "queued": "its call waits in the executor's queue for a free worker thread",
    "thread": "its call runs in a worker thread (for requests.get: waiting for the server)",
    "lock": "waiting for an asyncio lock, semaphore, event or condition",
    "sleep": "asleep in asyncio.sleep",
    "other": "waiting for anything else: sockets (a native client waiting for the server), other tasks",
}

_SLEEP_CODE = asyncio.sleep.__code__
_LOCK_CODES = frozenset(
    method.__code__
    for method in (asyncio.Lock.acquire, asyncio.Semaphore.acquire, asyncio.Event.wait, asyncio.Condition.wait)
)


class Span(NamedTuple):
    """A stretch of time, in seconds since the trace began.

    A named tuple rather than a dataclass: a trace makes one per step, and tuples are quick to make.
    """

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class Wait(NamedTuple):
    """A stretch of time a task spent off the loop thread, and what it waited for (``WAIT_KINDS``)."""

    start: float
    end: float
    kind: WaitKind

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclasses.dataclass(frozen=True)
class TaskTrace:
    """One task: when it was created and ended, each step it ran on the loop, each wait between.

    ``name`` is the task's name (``Task-7`` unless it was given one); ``coroutine`` is the name of
    the function it runs. ``ended`` is None if the task was still running when the trace ended.
    """

    name: str
    coroutine: str
    created: float
    ended: float | None
    slices: tuple[Span, ...]
    waits: tuple[Wait, ...]


@dataclasses.dataclass(frozen=True)
class ThreadCall:
    """One call handed to a worker thread: queued, picked up by a thread, finished.

    ``started`` and ``finished`` are None if that had not happened when the trace ended.
    ``task`` names the traced task that awaited the call, in whose lane it is drawn; None if no
    traced task awaited it directly (the post's futures, handed straight to ``gather``).
    ``error`` names the exception the call raised, if it raised one.
    """

    name: str
    queued: float
    started: float | None
    finished: float | None
    thread: str | None
    task: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _TaskLane:
    """What one traced task did while its trace records, in raw ``perf_counter`` times.

    Each step is kept as (start, end, what the task then waited on): a kind of wait, a thread
    call, or None when the step was its last. The waits are worked out after the trace, from the
    gaps between steps, so that a step costs the task as little as possible.
    """

    __slots__ = ("trace", "task", "first_name", "coroutine", "created", "steps")

    def __init__(self, trace: LoopTrace, coroutine: str) -> None:
        self.trace = trace
        self.task: asyncio.Task | None = None
        self.first_name = ""
        self.coroutine = coroutine
        self.created = time.perf_counter()
        self.steps: list[tuple[float, float, str | _CallTimes | None]] = []

    def name(self) -> str:
        """The task's name; Python 3.13.0 to 3.13.2 rename every task made by a task factory and
        given no name to "None" (CPython issue 130033), so the one it was born with stands in."""
        name = self.task.get_name()
        return self.first_name if name == "None" else name

    def result(self, origin: float, end: float) -> TaskTrace:
        """The task's trace; a wait still open when the trace ended is cut there."""
        waits: list[tuple[float, float, str]] = []
        since, on = self.created, "ready"  # a new task waits for its first turn on the loop
        for start, stop, then_on in self.steps:
            waits += _wait_pieces(since, start, on)
            since, on = stop, then_on
        if on is not None:
            waits += _wait_pieces(since, end, on)
        return TaskTrace(
            name=self.name(),
            coroutine=self.coroutine,
            created=self.created - origin,
            ended=since - origin if on is None else None,
            slices=tuple(Span(start - origin, stop - origin) for start, stop, _ in self.steps),
            waits=tuple(Wait(start - origin, stop - origin, kind) for start, stop, kind in waits if stop > start),
        )


def _wait_pieces(since: float, until: float, on: str | _CallTimes) -> list[tuple[float, float, str]]:
    """A wait from ``since`` to ``until``: of one kind, or on a thread call, in that call's phases."""
    return [(since, until, on)] if isinstance(on, str) else on.phases(since, until)


def _wait_kind(coro: types.CoroutineType) -> WaitKind:
    """What a suspended coroutine waits for, read from the chain of awaits it is suspended in."""
    awaited: Any = coro
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "gi_code", None)
        if code is None:
            return "other"
        if code is _SLEEP_CODE:
            return "sleep"
        if code in _LOCK_CODES:
            return "lock"
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "other"


class _TracedCoroutine(collections.abc.Coroutine):
    """A task's coroutine, timed: each ``send`` or ``throw`` is a run slice, the gap between a wait.

    Everything else (``close``, ``cr_frame``, the name in the task's repr) goes to the real one.
    """

    __slots__ = ("_coro", "_lane")

    def __init__(self, coro: types.CoroutineType, lane: _TaskLane) -> None:
        self._coro = coro
        self._lane = lane

    def send(self, value: Any) -> Any:
        return self._step(self._coro.send, value)

    def throw(self, *exception: Any) -> Any:
        return self._step(self._coro.throw, *exception)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coro, name)

    def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        lane = self._lane
        trace = lane.trace
        if not trace._recording:
            return step(*args)
        start = time.perf_counter()
        try:
            awaited = step(*args)
        except BaseException:  # StopIteration included: the coroutine has returned or raised
            lane.steps.append((start, time.perf_counter(), None))
            raise
        end = time.perf_counter()
        call = trace._calls_by_future.get(awaited) if isinstance(awaited, asyncio.Future) else None
        if call is not None:
            call.lane = lane
        lane.steps.append((start, end, call or _wait_kind(self._coro)))
        return awaited


class _CallTimes:
    """One call in a worker thread, timed there: the thread writes ``started`` and ``finished``."""

    __slots__ = ("name", "queued", "started", "finished", "thread", "error", "lane")

    def __init__(self, name: str) -> None:
        self.name = name
        self.queued = time.perf_counter()
        self.started: float | None = None
        self.finished: float | None = None
        self.thread: str | None = None
        self.error: str | None = None
        self.lane: _TaskLane | None = None

    def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs in the worker thread, around the real call."""
        self.started = time.perf_counter()
        self.thread = threading.current_thread().name
        try:
            return func(*args)
        except BaseException as error:
            self.error = type(error).__name__
            raise
        finally:
            self.finished = time.perf_counter()

    def phases(self, since: float, until: float) -> list[tuple[float, float, str]]:
        """A task's wait on this call, from ``since`` to ``until``, cut into queued, thread, ready."""

        def within(moment: float | None) -> float:
            return until if moment is None else min(max(moment, since), until)

        started, finished = within(self.started), within(self.finished)
        return [(since, started, "queued"), (started, finished, "thread"), (finished, until, "ready")]

    def result(self, origin: float) -> ThreadCall:
        def relative(moment: float | None) -> float | None:
            return None if moment is None else moment - origin

        return ThreadCall(
            name=self.name,
            queued=self.queued - origin,
            started=relative(self.started),
            finished=relative(self.finished),
            thread=self.thread,
            task=None if self.lane is None else self.lane.name(),
            error=self.error,
        )


def _callable_name(func: Callable[..., Any]) -> str:
    """The name of what a worker thread will call, seen through partials and to_thread's wrapper."""
    while isinstance(func, functools.partial):
        if isinstance(getattr(func.func, "__self__", None), contextvars.Context) and func.args:
            func = func.args[0]  # asyncio.to_thread runs partial(context.run, func, ...)
        else:
            func = func.func
    return getattr(func, "__name__", None) or type(func).__name__


_MISSING = object()


class _InstanceAttribute:
    """Shadows one attribute of one object, never of its class, until ``restore``.

    If something else has replaced the attribute since, it is left alone: its owner chained to
    ours, and ours only passes calls on once the trace has ended.
    """

    def __init__(self, owner: object, name: str, replacement: Callable[..., Any]) -> None:
        self._owner, self._name, self._replacement = owner, name, replacement
        self._before = vars(owner).get(name, _MISSING)
        self.original: Callable[..., Any] = getattr(owner, name)
        setattr(owner, name, replacement)

    def restore(self) -> None:
        if vars(self._owner).get(self._name) is not self._replacement:
            return
        if self._before is _MISSING:
            delattr(self._owner, self._name)
        else:
            setattr(self._owner, self._name, self._before)


class LoopTrace:
    """A trace of one event loop over a ``with`` block; make one with ``trace_loop()``.

    After the block: ``tasks`` (a ``TaskTrace`` per traced task, in the order they were created),
    ``calls`` (a ``ThreadCall`` per call handed to a worker thread, in the order they were queued),
    ``loop_busy`` (the spans when the loop thread was busy) and ``duration`` (seconds), all in
    seconds since the trace began. While the block runs, they are empty and ``duration`` is None.
    """

    def __init__(self) -> None:
        self.tasks: list[TaskTrace] = []
        self.calls: list[ThreadCall] = []
        self.loop_busy: list[Span] = []
        self.duration: float | None = None
        self._recording = False
        self._origin: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._root: asyncio.Task | None = None
        self._previous_factory: Callable[..., asyncio.Future] | None = None
        self._executor_patch: _InstanceAttribute | None = None
        self._select_patch: _InstanceAttribute | None = None
        self._lanes: list[_TaskLane] = []
        self._calls: list[_CallTimes] = []
        self._calls_by_future: dict[asyncio.Future, _CallTimes] = {}
        self._idle: list[tuple[float, float]] = []

    # --- recording ------------------------------------------------------------------------------

    def __enter__(self) -> LoopTrace:
        if self._origin is not None:
            raise RuntimeError("this trace has already recorded its block; start a new trace_loop()")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "trace_loop() needs a running event loop: use it in a notebook cell or inside an "
                "async function run by asyncio.run()"
            ) from None
        root = asyncio.current_task()
        if root is None:
            raise RuntimeError("trace_loop() must be entered inside a task: a notebook cell or an async function")
        if not isinstance(loop, asyncio.BaseEventLoop):
            raise RuntimeError(f"trace_loop() traces asyncio's own event loops, not {type(loop).__name__}")
        if isinstance(getattr(loop.get_task_factory(), "__self__", None), LoopTrace):
            raise RuntimeError("this event loop is already being traced; end the other trace_loop() block first")
        self._loop, self._root = loop, root
        self._previous_factory = loop.get_task_factory()
        self._origin = time.perf_counter()
        self._recording = True
        loop.set_task_factory(self._create_task)
        try:
            self._executor_patch = _InstanceAttribute(loop, "run_in_executor", self._run_in_executor)
            self._select_patch = _InstanceAttribute(loop._selector, "select", self._select)
        except BaseException:  # a loop of an unusual kind: leave it as it was
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        end = self._stop()
        origin = self._origin
        self.duration = end - origin
        self.tasks = [lane.result(origin, end) for lane in self._lanes]
        self.calls = [call.result(origin) for call in self._calls]
        self.loop_busy = self._busy_spans(end)
        self._lanes, self._calls, self._calls_by_future, self._idle = [], [], {}, []
        self._loop = self._root = None

    def _stop(self) -> float:
        """Stop recording and put back all that was changed on the loop; returns the end time."""
        end = time.perf_counter()
        self._recording = False
        for patch in (self._select_patch, self._executor_patch):
            if patch is not None:
                patch.restore()
        if self._loop.get_task_factory() == self._create_task:
            self._loop.set_task_factory(self._previous_factory)
        return end

    def _traces_current_task(self) -> bool:
        """True inside the task that entered the trace and inside tasks traced since."""
        task = asyncio.current_task(self._loop)
        if task is self._root:
            return True
        coro = task.get_coro() if task is not None else None
        return isinstance(coro, _TracedCoroutine) and coro._lane.trace is self

    def _create_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Future:
        """The task factory: wraps the coroutine of a task started in the block, then chains on."""
        lane = None
        if self._recording and type(coro) is types.CoroutineType and self._traces_current_task():
            lane = _TaskLane(self, coro.__name__)
            coro = _TracedCoroutine(coro, lane)
            self._lanes.append(lane)  # before the task exists: an eager task may start others at once
        try:
            if self._previous_factory is None:
                task = asyncio.Task(coro, loop=loop, **options)
            else:
                task = self._previous_factory(loop, coro, **options)
        except BaseException:
            if lane is not None:
                self._lanes.remove(lane)
            raise
        if lane is not None:
            lane.task, lane.first_name = task, task.get_name()
        return task

    def _run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future:
        """The loop's run_in_executor, timing calls made from traced code in a thread pool."""
        original = self._executor_patch.original
        traced_pool = executor is None or isinstance(executor, ThreadPoolExecutor)
        if not (self._recording and traced_pool and self._traces_current_task()):
            return original(executor, func, *args)
        call = _CallTimes(_callable_name(func))
        future = original(executor, call.run, func, *args)
        self._calls.append(call)
        self._calls_by_future[future] = call
        return future

    def _select(self, timeout: float | None = None) -> Any:
        """The selector's select, timing the waits in which the loop had nothing to run."""
        original = self._select_patch.original
        if timeout is not None and timeout <= 0:
            return original(timeout)  # callbacks are ready: the loop only polls, it is busy
        start = time.perf_counter()
        try:
            return original(timeout)
        finally:
            self._idle.append((start, time.perf_counter()))

    def _busy_spans(self, end: float) -> list[Span]:
        origin, busy, cursor = self._origin, [], self._origin
        for idle_start, idle_end in self._idle:
            if idle_start > cursor:
                busy.append(Span(cursor - origin, idle_start - origin))
            cursor = idle_end
        if end > cursor:
            busy.append(Span(cursor - origin, end - origin))
        return busy

    def __repr__(self) -> str:
        if self.duration is None:
            return "<LoopTrace recording>" if self._recording else "<LoopTrace not started>"
        busy = sum(span.duration for span in self.loop_busy)
        return (
            f"<LoopTrace {len(self.tasks)} tasks, {len(self.calls)} thread calls over {self.duration:.3f} s; "
            f"loop busy {busy:.3f} s>"
        )


def trace_loop() -> LoopTrace:
    """A trace of the running event loop, to use as ``with trace_loop() as trace:`` in a coroutine.

    Works in a notebook cell (the kernel's running loop) and in code run by ``asyncio.run``.
    Raises RuntimeError when entered with no running loop, or on a loop already being traced.
    """
    return LoopTrace()
