"""Checks for a notebook's parameters: a mistyped value stops the set-up cell with one line.

Each notebook's set-up cell checks its parameter cell before anything runs::

    check_parameters(N_REQUESTS=N_REQUESTS, LATENCY=LATENCY, URL=URL, PATIENCE=PATIENCE)
    check_parameters(SWEEP=(SWEEP, counts(1, 10_000)))     # a notebook's own: (value, rule)
    expect_wait(N_REQUESTS * LATENCY, "the sync loop")      # says so when a run will take long

Why here and not where the value is used: a student who types ``N_REQUESTS = "20"`` should
read what to change at once, not a 30-line traceback from a chart twenty cells later. The
error shows as a single line in Jupyter (``ParameterError._render_traceback_``, which IPython
calls instead of printing a traceback) and stops *Run All* there.
"""

from __future__ import annotations

import math
import numbers
import urllib.parse
from collections.abc import Callable
from typing import Any

__all__ = ["ParameterError", "Rule", "check_parameters", "counts", "expect_wait", "seconds", "site_url", "whole"]

LONG_WAIT = 30.0  # seconds: a run longer than this is announced before it starts


class ParameterError(ValueError):
    """A parameter cell's value that the notebook cannot use, with what to change."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines in place of the traceback (InteractiveShell.showtraceback).
        return [f"\x1b[0;31mParameterError\x1b[0m: {self}"]


class Rule:
    """What one parameter may be: ``rule(name, value)`` returns the value or raises ParameterError."""

    def __init__(self, description: str, accepts: Callable[[Any], bool], *, whole: bool = False) -> None:
        self.description = description
        self._accepts = accepts
        self._whole = whole  # wants whole numbers: 20.0 gets the hint "write 20"

    def __call__(self, name: str, value: Any) -> Any:
        if not self._accepts(value):
            raise ParameterError(f"{name} must be {self.description}, got {value!r}{_hint(value, self._whole)}. "
                                 "Change it in the parameter cell and run the notebook again.")
        return value

    def __repr__(self) -> str:
        return f"<Rule: {self.description}>"


def _hint(value: Any, whole: bool) -> str:
    if isinstance(value, str):
        return " (a string: remove the quotes)"
    if isinstance(value, bool):
        return " (True or False, not a number)"
    if whole and isinstance(value, float) and value.is_integer():
        return f" (a float: write {int(value)})"
    return ""


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, e.g. 10**400: out of every range here
        return False


def _check_range(low: float, high: float) -> None:
    if not (_is_number(low) and _is_number(high) and low <= high):
        raise ValueError(f"low and high must be numbers with low <= high, got {low!r} and {high!r}")


def whole(low: int, high: int) -> Rule:
    """A whole number from ``low`` to ``high``."""
    _check_range(low, high)
    return Rule(f"a whole number from {low:,} to {high:,}", lambda v: _is_whole(v) and low <= v <= high, whole=True)


def seconds(low: float, high: float) -> Rule:
    """A number of seconds from ``low`` to ``high``."""
    _check_range(low, high)
    return Rule(f"a number of seconds from {low:g} to {high:g}", lambda v: _is_number(v) and low <= v <= high)


def counts(low: int, high: int) -> Rule:
    """A non-empty list of whole numbers, each from ``low`` to ``high``."""
    _check_range(low, high)
    return Rule(f"a list of whole numbers, each from {low:,} to {high:,}",
                lambda v: isinstance(v, list | tuple) and len(v) > 0 and all(_is_whole(n) and low <= n <= high for n in v))


def _is_site(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def site_url() -> Rule:
    """None (the local latency server) or a web address that starts with http:// or https://."""
    return Rule("None (the local server) or an address such as 'https://example.com'", _is_site)


# The parameters that most notebooks share, and what each may be.
KNOWN = {
    "N_REQUESTS": whole(1, 1000),
    "LATENCY": seconds(0.01, 10),
    "PATIENCE": seconds(0.1, 300),
    "URL": site_url(),
}


def check_parameters(**given: Any) -> None:
    """Check each parameter by the rule given with it, or else by its name's rule (``KNOWN``).

    A parameter the series does not know, or one a notebook narrows, is passed as
    ``NAME=(value, rule)``. The first value
    that breaks its rule raises ``ParameterError``, which names it and says what to change.
    """
    for name, value in given.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Rule):
            value[1](name, value[0])  # a notebook's own rule, which may be narrower than KNOWN's
        elif name in KNOWN:
            KNOWN[name](name, value)
        else:
            raise TypeError(f"{name} is not a parameter the series knows: pass {name}=(value, rule), "
                            "with a rule such as whole(1, 100)")


def _duration(seconds_: float) -> str:
    if seconds_ < 90:
        return f"{seconds_:.0f} s"
    if seconds_ < 90 * 60:
        return f"{seconds_ / 60:.0f} min"
    return f"{seconds_ / 3600:.1f} hours"


def expect_wait(estimate: float, what: str) -> None:
    """Print how long ``what`` will take, before it starts, if that is more than ``LONG_WAIT`` seconds."""
    if not _is_number(estimate) or estimate < 0:
        raise ValueError(f"estimate must be a number of seconds >= 0, got {estimate!r}")
    if not isinstance(what, str) or not what:
        raise TypeError(f"what must be a non-empty string, got {what!r}")
    if estimate > LONG_WAIT:
        print(f"This will take about {_duration(estimate)}: {what}. To go faster, lower the parameters "
              "and run the notebook again (Kernel > Restart Kernel and Run All Cells).")
