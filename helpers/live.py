"""A chart that sliders redraw in place, in JupyterLab, Notebook 7 and a headless run alike.

A slider cell is a few lines::

    live = LiveChart(count, delay)               # the sliders, a chart under them, a caption
    def draw(n_requests, latency): ...           # draws with live.figure(), then live.show(...)
    live.follow(draw)                            # draws now, and again on each release
    display(live)

For a coroutine function, ``await live.follow_async(redraw)`` in the cell instead. Either way
``LiveChart`` observes every control, calls the function with the controls' values in order,
and keeps a line of progress under the chart while it runs: at once "Redrawing for requests
40, latency (s) 0.30", then the requests done so far, counted from the records of every
``timed_run`` the function starts (``helpers.timing.observing_runs``), at most ten times a
second and always when a run ends.

Where the function runs. In JupyterLab 4.6 with ipykernel 7, widget messages go to a kernel
*subshell* when the front end's ``commsOverSubshells`` setting allows it (its default,
``perCommTarget``): the callback then runs on that subshell's thread, not on the loop that
runs the notebook's cells (measured in JupyterLab 4.6.6 from the second release on; the first
was handled on the main thread). In a headless run (nbclient, ``make run``) it runs on the
notebook's own loop. ``follow`` calls a plain function right there, so it holds that thread until it
returns: a release during a long redraw is handled after it, or alongside it where the two
releases were handled on different threads. Either way the newest choice is the chart left in
place: ``show`` ignores a redraw that a newer one has replaced. ``follow_async`` hands each
redraw to the loop of the cell that awaited it, with ``asyncio.run_coroutine_threadsafe``,
which is right from any thread; a release while a redraw runs cancels it first. Cancelling
stops the waiting coroutine, and the futures it awaits (directly or through ``gather``) are
cancelled with it: a request still queued in a thread pool is dropped, while one already
running in a thread runs on to its end and holds its thread for that long.

Why an image and not ``with output_widget: display(fig)``. Output printed or displayed by the
callback, or by a task it started, is parented to the widget's ``comm_msg`` (ipykernel 7
keeps the parent in context variables, which a task copies). The front end stops listening
for that message once it is done, about 0.06 s after it was sent, so later output never
shows: measured in JupyterLab 4.6 and Notebook 7 (see the project's notes).
ipython/ipykernel#1564 describes front ends discarding output parented to a ``comm_msg``
(there, from a ``post_execute`` hook); jupyter-widgets/ipywidgets#4012 reports a related
symptom, an ``Output`` widget updated by a task that a button's callback fed with
``Queue.put_nowait`` showing nothing until another cell ran. Widget state is also sent as
``comm_msg`` messages on IOPub, the channel that carries cell output, but the front end
applies them to the widget by its comm id whenever they arrive. So the chart here is an
``Image`` widget whose value is set to PNG bytes, with an ``HTML`` widget for the caption.

The figures are plain ``matplotlib.figure.Figure`` objects, not pyplot figures: pyplot keeps
global state and Jupyter's inline backend shows every pyplot figure at the end of a cell, so a
pyplot figure drawn by a callback could appear twice or leak. A ``Figure`` is drawn, turned
into bytes and dropped.

Displayed, a ``LiveChart`` also carries its current chart as a plain PNG and its caption as
text, so a page rendered without a kernel (``make run``'s book, GitHub's viewer) shows the
last chart drawn instead of an empty box.

This module imports ipywidgets, so ``import helpers`` does not import it: use
``from helpers.live import LiveChart``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextvars
import html
import inspect
import io
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from helpers.timing import Run, observing_runs

PROGRESS_EVERY = 0.1  # seconds: the fewest between two progress lines, so a fast run floods nothing
# The chart and the number of the redraw running in this thread or task, so that a redraw that a
# newer one has replaced cannot put its chart in place.
_redraw: contextvars.ContextVar[tuple[LiveChart, int] | None] = contextvars.ContextVar("live_redraw", default=None)


class LiveChart:
    """Sliders, a chart under them, and a caption under the chart.

    Draw with ``figure()``, then hand the figure and a caption to ``show()``; the chart in
    the page changes in place. ``follow`` or ``follow_async`` redraws on every release of a
    control. ``caption`` holds the last caption shown, so code (and tests) can read what the
    chart is of; ``progress`` holds the last line of progress or error shown in its place.
    """

    def __init__(self, *controls: widgets.Widget, width: float = 12, height: float = 4) -> None:
        if not all(isinstance(control, widgets.Widget) for control in controls):
            raise TypeError("controls must be ipywidgets widgets, such as IntSlider")
        if not (0 < width <= 40 and 0 < height <= 40):
            raise ValueError(f"width and height must be from 0 to 40 inches, got {width} and {height}")
        self.size = (width, height)
        self.controls = controls
        for control in controls:  # wide enough to pick any of 200 values with a mouse
            control.layout.width = "36em"
            control.style.description_width = "7em"
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.widget = widgets.VBox([*controls, self.image, self.text])
        self.caption = ""
        self.progress = ""
        self.drawing: concurrent.futures.Future | None = None  # follow_async's latest redraw
        self._lock = threading.Lock()
        self._generation = 0  # one more for each redraw started; older ones show nothing
        self._following: Callable | None = None

    def figure(self, ncols: int = 1) -> tuple[Figure, list]:
        """A fresh figure of the chart's size with ``ncols`` axes side by side, and those axes."""
        if ncols < 1:
            raise ValueError(f"ncols must be >= 1, got {ncols}")
        figure = Figure(figsize=self.size, layout="constrained")
        return figure, list(figure.subplots(1, ncols, squeeze=False)[0])

    def show(self, figure: Figure, caption: str) -> None:
        """Put ``figure`` in place of the chart and ``caption`` under it.

        Called by a redraw that a newer release has replaced, it does nothing: the newest
        choice is the one shown, even where two redraws overlap, as they can when two releases
        are handled on different threads (in JupyterLab 4.6 the first release was handled on
        the main thread and the next ones on a subshell's).
        """
        if not isinstance(figure, Figure):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        with self._lock:
            running = _redraw.get()
            if running is not None and running[0] is self and running[1] != self._generation:
                return  # called by a redraw that a newer release has replaced: its chart is stale
            self.image.value = buffer.getvalue()
            self.caption = caption
            self.text.value = f"<p>{html.escape(caption)}</p>"

    def values(self) -> tuple:
        """The controls' values, in the order the controls were given."""
        return tuple(control.value for control in self.controls)

    def follow(self, draw: Callable[..., Any], *, now: bool = True) -> Any:
        """Call ``draw(*values)`` now and again each time a control is released.

        ``draw`` is a plain function; it runs where the widget's callback runs and holds that
        thread until it returns. Returns what the first call returned; an error in it is
        raised here. An error in a later call is shown under the chart instead. With
        ``now=False`` the first call waits for the first release (for a chart already shown
        with ``show``, whose run would only be repeated), and None is returned.
        """
        if inspect.iscoroutinefunction(draw) or not callable(draw):
            raise TypeError(f"draw must be a plain function (for an async def, await follow_async), "
                            f"got {draw!r}")
        self._start_following(draw, lambda _change: self._draw(draw, first=False))
        return self._draw(draw, first=True) if now else None

    async def follow_async(self, redraw: Callable[..., Coroutine]) -> Any:
        """Run ``redraw(*values)`` now and again each time a control is released.

        ``redraw`` is an ``async def`` function. Each release cancels the redraw still running,
        if any, and hands a new one to the loop this is awaited on, from whatever thread the
        callback runs in. Cancelling stops the waiting coroutine: a request it awaits that is
        still queued in a thread pool is dropped, one already running in a thread runs on to
        its end.
        Returns what the first redraw returned (None if a release replaced it first); an error
        in it is raised here, and an error in a later redraw is shown under the chart instead.
        """
        if not inspect.iscoroutinefunction(redraw):
            raise TypeError(f"redraw must be an async def function (for a plain one, use follow), "
                            f"got {redraw!r}")
        loop = asyncio.get_running_loop()
        self._start_following(redraw, lambda _change: self._schedule(redraw, loop, first=False))
        first = asyncio.wrap_future(self._schedule(redraw, loop, first=True))
        await asyncio.wait([first])  # unlike awaiting it, not an error if a release cancelled it
        return None if first.cancelled() else first.result()

    async def wait(self) -> None:
        """Wait until the latest redraw of ``follow_async`` has finished, or was replaced and its
        replacement has finished."""
        while self.drawing is not None:
            drawing = self.drawing
            await asyncio.wait([asyncio.wrap_future(drawing)])
            if drawing is self.drawing:
                return

    def _start_following(self, function: Callable, on_change: Callable) -> None:
        if self._following is not None:
            raise RuntimeError(f"this LiveChart already follows {self._following!r}: make a new one")
        for control in self.controls:
            if not control.has_trait("value"):
                raise TypeError(f"every control must have a value to follow, got {type(control).__name__}")
        self._following = function
        for control in self.controls:
            control.observe(on_change, names="value")

    def _begin(self) -> tuple[int, tuple, Callable[[Run], None]]:
        """A new redraw: its number, the values it is for, and the observer of its runs."""
        with self._lock:
            self._generation += 1
            generation, values = self._generation, self.values()
        runs: list[Run] = []
        last_shown = 0.0

        def observe(run: Run) -> None:
            nonlocal last_shown
            if not any(seen is run for seen in runs):
                runs.append(run)
            now = time.monotonic()
            if run.total is not None or now - last_shown >= PROGRESS_EVERY:
                last_shown = now
                self._say(generation, f"Redrawing for {self._describe(values)}: {_done(runs)}")

        self._say(generation, f"Redrawing for {self._describe(values)}…")
        return generation, values, observe

    def _draw(self, draw: Callable, first: bool) -> Any:
        generation, values, observe = self._begin()
        token = _redraw.set((self, generation))
        try:
            with observing_runs(observe):
                return draw(*values)
        except Exception as error:
            if first:
                raise
            self._failed(generation, values, error)
        finally:
            _redraw.reset(token)

    def _schedule(self, redraw: Callable, loop: asyncio.AbstractEventLoop, first: bool) -> concurrent.futures.Future:
        """Cancel the redraw still running, and hand ``redraw(*values)`` to ``loop``."""
        if self.drawing is not None:
            self.drawing.cancel()  # stops the coroutine and its queued requests, not running threads
        generation, values, observe = self._begin()

        async def run() -> Any:
            _redraw.set((self, generation))  # in this task's own context
            try:
                with observing_runs(observe):  # this task's context, and the tasks it starts
                    return await redraw(*values)
            except Exception as error:
                if first:
                    raise
                self._failed(generation, values, error)

        coroutine = run()
        try:
            self.drawing = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError as error:  # the loop has closed, e.g. after asyncio.run returned
            coroutine.close()
            self._failed(generation, values, error)
        return self.drawing

    def _failed(self, generation: int, values: tuple, error: Exception) -> None:
        self._say(generation, f"Could not redraw for {self._describe(values)}: {type(error).__name__}: {error}")

    def _say(self, generation: int, line: str) -> None:
        """Show ``line`` in place of the caption, unless a newer redraw has started."""
        with self._lock:
            if generation == self._generation:
                self.progress = line
                self.text.value = f"<p><i>{html.escape(line)}</i></p>"

    def _describe(self, values: tuple) -> str:
        """'requests 40, latency (s) 0.30': each control's name and value as its readout shows it."""
        parts = []
        for control, value in zip(self.controls, values):
            shown = format(value, control.readout_format) if hasattr(control, "readout_format") else str(value)
            parts.append(f"{control.description} {shown}" if getattr(control, "description", "") else shown)
        return ", ".join(parts) or "the chart"

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget, with the last chart and caption as a stand-in where widgets cannot run."""
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.caption or "(a live chart: it needs a running kernel)"
        if self.image.value:
            data["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return data


def _done(runs: list[Run]) -> str:
    """'12 requests done', with each run's count when there are several, and failures if any."""
    done = sum(run.n_requests for run in runs)
    line = f"{done} request{'' if done == 1 else 's'} done"
    if len(runs) > 1:
        line += " (" + ", ".join(f"{run.label} {run.n_requests}" for run in runs) + ")"
    failed = sum(len(run.failures) for run in runs)
    return line + (f", {failed} failed" if failed else "")
