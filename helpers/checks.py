"""One way for every exercise to judge an answer: cases, run in order, and one verdict.

A check cell names its cases and what a right answer means::

    check(
        returns(expected_total, (20, 6, 0.3), 1.2),
        returns(expected_total, (7, 3, 0.5), 1.5),
        case("post_cpus", lambda: None if whole_number(post_cpus, "post_cpus") == 12 else "..."),
        correct="ceil(n / workers) waves of one latency each.",
    )

and prints one line: ``Correct: ...`` only when every case holds, otherwise ``Not yet: ...``
for the first case that does not, with what it got and what was expected. Whatever the
answer does (returns the wrong type, raises, changes the arguments ``returns`` gave it, or,
under ``check_async``, runs past ``seconds``), the student reads a sentence, never a traceback:
a check is the student's teacher when no teacher is there. (An answer that never returns and
never awaits hangs the cell, as such code hangs any cell: ``check_async`` can give up only on
a case that awaits, and ``check`` has no time limit.)

A case is a callable that returns ``None`` when the answer is right, or a non-empty string
saying what is wrong; it may also raise ``NotYet`` with that string. Anything else it returns
(``True``, ``False``, ``""``, a number) is a mistake in the check, not in the answer, and
raises ``TypeError`` for the check's author. ``check_async`` takes cases that are coroutine
functions too, and a case that takes longer than ``seconds`` is not right yet, whether it is
still running then or held the event loop all that time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import math
import numbers
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["Case", "NotYet", "case", "check", "check_async", "number", "returns", "whole_number"]

Judge = Callable[[], "str | None | Awaitable[str | None]"]


class NotYet(Exception):
    """Raised by a case, or by ``number``/``whole_number``, to say what is wrong with an answer."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One thing a right answer does: ``what`` names it in the verdict, ``judge`` tests it."""

    what: str
    judge: Judge


def case(what: str, judge: Judge) -> Case:
    """A case named ``what`` (e.g. ``"make_call(0.2)"``), judged by calling ``judge()``."""
    if not isinstance(what, str) or not what:
        raise TypeError(f"what must be a non-empty string naming the case, got {what!r}")
    if not callable(judge):
        raise TypeError(f"judge must be a callable returning None or a reason, got {judge!r}")
    return Case(what, judge)


def _kind(value: object) -> str:
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def number(value: Any, name: str) -> float:
    """``value`` if it is a real number (not a bool), else ``NotYet`` naming what it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = ": remove the quotes" if isinstance(value, str) else ""
        raise NotYet(f"{name} must be a number, got {value!r} ({_kind(value)}{hint})")
    if not math.isfinite(value):
        raise NotYet(f"{name} must be a finite number, got {value!r}")
    return value


def whole_number(value: Any, name: str) -> int:
    """``value`` if it is a whole number (an int, not a bool), else ``NotYet`` naming what it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ": remove the quotes" if isinstance(value, str) else ""
        raise NotYet(f"{name} must be a whole number, got {value!r} ({_kind(value)}{hint})")
    return int(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same_kind(got: Any, want: Any) -> bool:
    """A number for a number (never a bool), a list or tuple for either, any dict for a dict, a
    set or frozenset for either; anything else of ``want``'s own type."""
    for kinds in ((tuple, list), (dict,), (set, frozenset)):
        if isinstance(want, kinds):
            return isinstance(got, kinds)
    return _is_number(got) if _is_number(want) else type(got) is type(want)


def _same(got: Any, want: Any, tolerance: float) -> bool:
    """``got`` equals ``want`` at every depth: numbers within ``tolerance`` (NaN never equal, a
    bool never a number), lists and tuples item by item, dicts key by key, the rest by ``==``;
    each of the kind ``_same_kind`` allows."""
    if not _same_kind(got, want):
        return False
    if _is_number(want):
        return math.isclose(got, want, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(want, tuple | list):
        return len(got) == len(want) and all(_same(g, w, tolerance) for g, w in zip(got, want))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[key], want[key], tolerance) for key in want)
    return bool(got == want)


def _fresh(value: Any) -> Any:
    """A copy of ``value``'s plain lists, tuples, dicts and sets, at every depth (other objects shared):
    an answer that sorts or empties its argument in place cannot change the next case's, or the
    expected value."""
    if type(value) is list:
        return [_fresh(item) for item in value]
    if type(value) is tuple:
        return tuple(_fresh(item) for item in value)
    if type(value) is dict:
        return {key: _fresh(item) for key, item in value.items()}
    if type(value) is set:
        return set(value)
    return value


def returns(function: Any, args: tuple, want: Any, *, kwargs: dict | None = None,
            tolerance: float = 1e-9) -> Case:
    """A case: ``function(*args, **kwargs)`` returns ``want``.

    A number must come back as a number (a string such as ``'1.20 s'`` is wrong, not an error;
    so is ``True`` for 1) and equal ``want`` within ``tolerance``, relative or absolute: tight
    enough that rounding to one decimal is caught. A list or tuple may come back as either, and
    is compared item by item the same way, as are a dict's values (any dict will do for a dict,
    a set or frozenset for a set); anything else must be of ``want``'s type and ``==`` to it. Each call gets fresh copies of the arguments' lists, dicts
    and sets, so an answer that changes its arguments in place cannot change the next call's.
    """
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of arguments, got {args!r}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict of keyword arguments, got {kwargs!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a number from 0 to less than 1, got {tolerance!r}")
    kwargs = dict(kwargs or {})
    want = _fresh(want)
    name = getattr(function, "__name__", "the answer")
    shown = ", ".join([*map(repr, args), *(f"{key}={value!r}" for key, value in kwargs.items())])
    what = f"{name}({shown})"

    def judge() -> str | None:
        if not callable(function):
            return f"{name} is {function!r}, not a function yet"
        got = function(*_fresh(args), **_fresh(kwargs))
        if inspect.isawaitable(got):
            if inspect.iscoroutine(got):
                got.close()  # never awaited: closing it avoids a 'never awaited' warning
            return "returned an awaitable: write a plain def here, not async def"
        if not _same_kind(got, want):
            if _is_number(want):
                return f"returned {got!r} ({_kind(got)}); expected a number, {want!r}"
            return f"returned {got!r} ({_kind(got)}); expected {want!r} ({_kind(want)})"
        if not _same(got, want, tolerance):
            return f"returned {got!r}; expected {want!r}"
        return None

    return Case(what, judge)


def _checked_correct(correct: str) -> None:
    if not isinstance(correct, str) or not correct:
        raise TypeError(f"correct must be a non-empty string saying what a right answer does, got {correct!r}")


def _cases(cases: Iterable[Case]) -> list[Case]:
    cases = list(cases)
    if not cases:
        raise ValueError("a check needs at least one case")
    for item in cases:
        if not isinstance(item, Case):
            raise TypeError(f"every case must be made with case() or returns(), got {item!r}")
    return cases


def _reason(error: BaseException) -> str:
    if isinstance(error, NotYet):
        return str(error)
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - an exception that cannot say what it is still has a name
        message = ""
    return f"raised {type(error).__name__}" + (f": {message}" if message else "")


def _judged(item: Case) -> object:
    """What the case's judge said: None, a reason, an awaitable (async cases), or the reason
    an exception gives (a CancelledError raised by the answer's own code included)."""
    try:
        return item.judge()
    except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 - the answer's error is the student's news
        return _reason(error)


def _checked(item: Case, reason: object) -> str | None:
    """``reason`` if it is what a judge may say (None, or a non-empty string), else TypeError."""
    if reason is None or (isinstance(reason, str) and reason):
        return reason
    raise TypeError(f"case {item.what!r} returned {reason!r}: a case returns None when the answer is right, "
                    "or a non-empty string saying what is wrong")


def _verdict(failures: list[tuple[Case, str]], total: int, correct: str) -> str:
    if not failures:
        return f"Correct: {correct}"
    first, reason = failures[0]
    more = f" ({len(failures)} of {total} cases are not right yet)" if len(failures) > 1 else ""
    return f"Not yet: {first.what}: {reason}{more}"


def check(*cases: Case, correct: str) -> None:
    """Judge an answer by ``cases`` and print one verdict (see the module's docstring)."""
    _checked_correct(correct)
    cases = _cases(cases)
    failures = []
    for item in cases:
        reason = _judged(item)
        if inspect.isawaitable(reason):
            if inspect.iscoroutine(reason):
                reason.close()
            raise TypeError(f"case {item.what!r} is async: judge it with check_async")
        if _checked(item, reason) is not None:
            failures.append((item, reason))
    print(_verdict(failures, len(cases), correct))


async def _awaited(item: Case, seconds: float) -> object:
    """An async case's reason, or why it has none: it raised, was cancelled or ran too long."""
    started = time.perf_counter()
    reason = _judged(item)
    if inspect.isawaitable(reason):
        task = asyncio.ensure_future(reason)
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()  # and give it a moment to end, so that it cannot run into the next case
            await asyncio.wait({task}, timeout=1)
            return f"still running after {seconds:g} s"
        if task.cancelled():
            return "was cancelled before it finished"
        try:
            reason = task.result()
        except Exception as error:  # noqa: BLE001 - the answer's own error is the student's news
            return _reason(error)
    took = time.perf_counter() - started
    if took > seconds:  # it held the loop (time.sleep, a blocking call), so the timeout could not fire
        return f"took {took:.1f} s, more than the {seconds:g} s allowed (did something block the event loop?)"
    return reason


async def check_async(*cases: Case, correct: str, seconds: float = 30) -> None:
    """``check`` for cases that may be coroutine functions; each gets at most ``seconds``.

    A case still running after ``seconds`` is cancelled and counts as not right yet; so does
    one that finished but took longer, because it blocked the event loop and the timeout with it.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not 0 < seconds <= 600:
        raise ValueError(f"seconds must be a number from 0 to 600, got {seconds!r}")
    _checked_correct(correct)
    cases = _cases(cases)
    failures = []
    for item in cases:
        reason = await _awaited(item, seconds)
        if _checked(item, reason) is not None:
            failures.append((item, reason))
    print(_verdict(failures, len(cases), correct))
