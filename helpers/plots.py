"""Charts of timed runs: time per request, totals side by side, a timeline of every request,
totals as the work grows, and what the threads cost. Charts of loop traces (a swimlane per task
under the loop thread's own lane; each thread call's wait for a thread, then its time in flight),
and of notebook 06's toy event loop in the same lanes.

Each function draws on the ``ax`` it is given (or on a new figure), returns that Axes, and
never calls ``plt.show()`` or changes global settings. Colours come from the Okabe-Ito palette,
which stays distinguishable under the common forms of colour blindness; failed requests are
also hatched, so they show in greyscale too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, StrMethodFormatter

from helpers.resources import ResourceUsage
from helpers.timing import RequestRecord, Run
from helpers.trace import LoopTrace, ThreadCall

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
RUN_COLOURS = ("blue", "orange", "green", "purple", "sky_blue", "yellow")
OK_COLOUR = OKABE_ITO["blue"]
FAILED_COLOUR = OKABE_ITO["vermillion"]
FAILED_HATCH = "///"


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _run_colour(i: int) -> str:
    """The colour of the i-th run or method on a chart, cycling through the palette."""
    return OKABE_ITO[RUN_COLOURS[i % len(RUN_COLOURS)]]


def _noted_bars(ax: Axes, labels: Sequence[str], values: Sequence[float], notes: Sequence[str]) -> None:
    """A bar per label, each in its run's colour with its note written just above it."""
    positions = range(len(values))
    ax.bar(positions, values, color=[_run_colour(i) for i in positions], width=0.6)
    for position, value, note in zip(positions, values, notes):
        ax.annotate(
            note, (position, max(value, 0)), xytext=(0, 3), textcoords="offset points",
            ha="center", va="bottom", fontsize="small",
        )
    ax.set_xticks(list(positions), labels)


def _check_run(run: Run) -> list[RequestRecord]:
    """The run's records in request order, or a clear error if there is nothing to draw."""
    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run from timed_run(), got {type(run).__name__}")
    if not run.records:
        raise ValueError(f"run {run.label!r} has no requests to plot")
    if run.total is None:
        raise ValueError(f"run {run.label!r} has not finished; plot it after its with-block")
    return sorted(run.records, key=lambda record: record.index)


def _request_styles(records: Sequence[RequestRecord | ThreadCall]) -> dict:
    """Bar styles for requests: failed ones in vermillion and hatched, to read in greyscale too."""
    return {
        "color": [OK_COLOUR if record.ok else FAILED_COLOUR for record in records],
        "hatch": [None if record.ok else FAILED_HATCH for record in records],
        "linewidth": 0,
    }


def _failure_legend(
    ax: Axes, records: Sequence[RequestRecord | ThreadCall], *handles, **placement: object
) -> None:
    """A legend of ``handles``, and of the failures among ``records`` if any; ``loc="best"`` unless placed."""
    failed = [record for record in records if not record.ok]
    patches = list(handles)
    if failed:
        names = ", ".join(sorted({record.error for record in failed}))
        patches.append(
            Patch(facecolor=FAILED_COLOUR, hatch=FAILED_HATCH, label=f"failed ({len(failed)}): {names}")
        )
    if patches:
        placement.setdefault("loc", "best")
        ax.legend(handles=patches, fontsize="small", **placement)


def _bar_size(n_bars: int) -> float:
    """How much of its row a bar fills: all of it from 200 bars on, where gaps would hide the bars."""
    return 0.8 if n_bars < 200 else 1.0


def _timeline_size(n_rows: int) -> tuple[float, float]:
    """A timeline's figure size: taller with more rows, up to a limit."""
    return (8, min(2 + 0.18 * n_rows, 8))


def _timeline_frame(ax: Axes, end: float, name: str, rows: tuple[int, int], **labels: str) -> Line2D:
    """What timelines share: a dotted line where they end, time from 0, the first row at the top."""
    line = ax.axvline(end, color=OKABE_ITO["black"], linestyle=":", linewidth=1.2, label=f"{name}: {end:.2f} s")
    ax.set(**labels)
    ax.set_xlim(0, end * 1.05)
    first, last = rows
    ax.set_ylim(last + 0.6, first - 0.6)  # row 0 at the top, read like a page
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    return line


def plot_requests(run: Run, ax: Axes | None = None) -> Axes:
    """A bar per request, its height the request's duration, with the run's total marked.

    When the total line stands far above the bars, the requests waited for each other; when it
    is barely above the tallest bar, they overlapped.
    """
    records = _check_run(run)
    ax = _axes(ax, (8, 3.5))
    ax.bar(
        [record.index for record in records],
        [record.duration for record in records],
        width=_bar_size(len(records)),
        **_request_styles(records),
    )
    total = ax.axhline(
        run.total, color=OKABE_ITO["black"], linestyle="--", linewidth=1.2,
        label=f"total: {run.total:.2f} s",
    )
    ax.set(
        xlabel="request", ylabel="seconds", ylim=(0, run.total * 1.15),
        title=f"{run.label}: time per request ({len(records)} requests)",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _failure_legend(ax, records, total)
    return ax


def plot_timeline(run: Run, ax: Axes | None = None) -> Axes:
    """A horizontal bar per request from its start to its end, request 0 at the top.

    Requests that ran one after another make a staircase; requests that ran all at once make a
    wall; a thread pool too small for the work makes waves.
    """
    records = _check_run(run)
    ax = _axes(ax, _timeline_size(len(records)))
    _bars(ax, [(record.index, record.start, record.end) for record in records], _bar_size(len(records)),
          **_request_styles(records))
    end = _timeline_frame(
        ax, run.total, "run ends", (records[0].index, records[-1].index),
        xlabel="seconds since the run began", ylabel="request",
        title=f"{run.label}: timeline of {len(records)} requests",
    )
    _failure_legend(ax, records, end, loc="upper left", bbox_to_anchor=(1.01, 1))  # a wall leaves no corner free
    return ax


def plot_totals(
    runs: Sequence[Run],
    ax: Axes | None = None,
    *,
    ideals: Sequence[float | None] | None = None,
) -> Axes:
    """The total of each run side by side, with each run's speed-up over the first written on it.

    ``ideals``, one per run (None to skip one), draws the total each run would take with no
    overhead at all, e.g. N x latency for a sync loop: the gap above it is the cost of the method.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs must hold at least one Run, got none")
    for run in runs:
        _check_run(run)
    ideals = list(ideals) if ideals is not None else [None] * len(runs)
    if len(ideals) != len(runs):
        raise ValueError(f"ideals must have one value per run ({len(runs)}), got {len(ideals)}")
    if any(ideal is not None and ideal < 0 for ideal in ideals):
        raise ValueError(f"ideals must be >= 0 seconds or None, got {ideals}")
    ax = _axes(ax, (max(4, 1.8 * len(runs)), 3.5))
    positions = range(len(runs))
    totals = [run.total for run in runs]
    baseline = totals[0]
    notes = [f"{total:.2f} s" if position == 0 else f"{total:.2f} s\n{baseline / total:.1f}x faster"
             for position, total in zip(positions, totals)]
    _noted_bars(ax, [run.label for run in runs], totals, notes)
    drawn = [ideal for ideal in ideals if ideal is not None]
    labelled = False
    for position, ideal in zip(positions, ideals):
        if ideal is None:
            continue
        ax.hlines(
            ideal, position - 0.4, position + 0.4, color=OKABE_ITO["black"],
            linestyle="--", linewidth=1.2, label=None if labelled else "ideal",
        )
        labelled = True
    ax.set(ylabel="total seconds", ylim=(0, max(totals + drawn) * 1.3), title="total time per run")
    if drawn:
        ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_sweep(
    totals: Mapping[str, Mapping[int, float]],
    ax: Axes | None = None,
    *,
    ideals: Mapping[str, Mapping[int, float]] | None = None,
) -> Axes:
    """Total time against the number of requests, one line per method, both axes logarithmic.

    ``totals`` maps a method's label to its totals by request count. ``ideals`` maps the same
    labels to the totals with no overhead, drawn dashed in the method's colour. On log-log axes
    a total that grows in proportion to N is a straight line that rises one decade of seconds
    per decade of requests, and one that does not grow at all is flat, so the methods part ways
    at a glance. How steep the straight line looks depends on the figure: it is drawn at 45
    degrees only where a decade is as long on both axes (``drawn_angle`` measures it).
    """
    if not totals:
        raise ValueError("totals must hold at least one method, got none")
    ideals = dict(ideals or {})
    unknown = sorted(set(ideals) - set(totals))
    if unknown:
        raise ValueError(f"ideals has methods that totals lacks: {unknown}")
    for label, points in [*totals.items(), *ideals.items()]:
        if not points:
            raise ValueError(f"{label!r} has no points to plot")
        bad = {n: seconds for n, seconds in points.items() if n < 1 or seconds <= 0}
        if bad:
            raise ValueError(f"{label!r}: request counts must be >= 1 and totals > 0 on log axes, got {bad}")
    ax = _axes(ax, (8, 5))
    for i, (label, points) in enumerate(totals.items()):
        colour = _run_colour(i)
        counts = sorted(points)
        ax.plot(counts, [points[n] for n in counts], marker="o", color=colour, label=label)
        if label in ideals:
            ideal = ideals[label]
            ideal_counts = sorted(ideal)
            ax.plot(ideal_counts, [ideal[n] for n in ideal_counts], linestyle="--", linewidth=1, color=colour)
    ax.plot([], [], linestyle="--", linewidth=1, color=OKABE_ITO["black"], label="ideal (same colour)")
    ax.set(
        xscale="log", yscale="log", xlabel="requests (N)", ylabel="total seconds",
        title="total time as the work grows",
    )
    # Plain numbers (0.3, 10, 200), not powers of ten: a tick at each request count measured,
    # and seconds labelled between the decades: at 2, 3 and 5 when the axis spans two decades
    # or fewer, at 3 alone when it spans more.
    plain = StrMethodFormatter("{x:g}")
    ax.set_xticks(sorted({n for points in totals.values() for n in points}))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    seconds = [value for points in [*totals.values(), *ideals.values()] for value in points.values()]
    ax.yaxis.set_major_formatter(plain)
    subs = (2.0, 3.0, 5.0) if max(seconds) / min(seconds) <= 100 else (3.0,)
    ax.yaxis.set_minor_locator(LogLocator(subs=subs))
    ax.yaxis.set_minor_formatter(plain)
    ax.grid(True, which="major", linewidth=0.5, alpha=0.5)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def drawn_angle(ax: Axes, label: str) -> float:
    """The angle, in degrees above the horizontal, of the line labelled ``label`` as drawn on ``ax``:
    measured on the page from its first point to its last (the first such line), once the figure is laid out."""
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    lines = [line for line in ax.get_lines() if line.get_label() == label and len(line.get_xdata()) >= 2]
    if not lines:
        raise ValueError(f"label must name a line of two points or more on ax, got {label!r}")
    ax.figure.canvas.draw()  # lay the figure out, so that the axes have their final size
    (x0, y0), *_, (x1, y1) = ax.transData.transform(lines[0].get_xydata())
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def plot_resources(usages: Sequence[ResourceUsage], axes: Sequence[Axes] | None = None) -> tuple[Axes, Axes]:
    """Two bar charts side by side: each block's peak thread count, and how much its memory grew."""
    usages = list(usages)
    if not usages:
        raise ValueError("usages must hold at least one ResourceUsage, got none")
    for usage in usages:
        if not isinstance(usage, ResourceUsage):
            raise TypeError(f"usages must be ResourceUsage from track_resources(), got {type(usage).__name__}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(max(6, 3.2 * len(usages)), 3.5), layout="constrained")
    if len(axes) != 2 or not all(isinstance(ax, Axes) for ax in axes):
        raise TypeError("axes must be two matplotlib Axes (threads, memory) or None")
    threads_ax, memory_ax = axes
    labels = [usage.label for usage in usages]
    for ax, values, unit, title in (
        (threads_ax, [usage.peak_threads for usage in usages], "{:,.0f}", "peak threads in the process"),
        (memory_ax, [usage.memory_growth_mib for usage in usages], "+{:.1f} MiB", "memory growth (RSS)"),
    ):
        _noted_bars(ax, labels, values, [unit.format(value) for value in values])
        ax.set(title=title, ylim=(0, max(max(values), 1) * 1.2))
    threads_ax.set_ylabel("threads")
    memory_ax.set_ylabel("MiB")
    return threads_ax, memory_ax


# --- loop traces -------------------------------------------------------------------------------

# What a lane shows, in the order of the legend: the task runs (black, like the loop thread's
# own lane when it is busy), or waits, in a colour for each kind of wait (see helpers.trace).
TRACE_STYLES = {
    "run": (OKABE_ITO["black"], "runs on the loop thread"),
    "ready": (OKABE_ITO["vermillion"], "ready, waiting for the loop thread"),
    "queued": (OKABE_ITO["orange"], "waiting for a free worker thread"),
    "thread": (OKABE_ITO["blue"], "in a worker thread (requests.get: the server)"),
    "lock": (OKABE_ITO["purple"], "waiting for a lock or semaphore"),
    "sleep": (OKABE_ITO["sky_blue"], "asleep (asyncio.sleep)"),
    "other": (OKABE_ITO["green"], "waiting for sockets or other tasks"),
}
NAMED_LANES = 20  # up to this many lanes, each is labelled with its name; beyond, by number

Segment = tuple[float, float, str]  # start, end, kind


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _check_trace(trace: LoopTrace) -> LoopTrace:
    if not isinstance(trace, LoopTrace):
        raise TypeError(f"trace must be a LoopTrace from trace_loop(), got {type(trace).__name__}")
    if trace.duration is None:
        raise ValueError("the trace has not finished; plot it after its with-block")
    return trace


def _bars(ax: Axes, bars: Sequence[tuple[float, float, float]], height: float, **style) -> None:
    """Horizontal bars from (row, start, end) triples, all in one style; none if there are none."""
    if not bars:
        return
    rows, starts, ends = zip(*bars)
    ax.barh(rows, [end - start for start, end in zip(starts, ends)], left=starts, height=height, **style)


def _call_segments(call: ThreadCall, end: float) -> list[Segment]:
    """A thread call's wait for a worker thread, then its time in one; cut at ``end`` if unfinished."""
    started = end if call.started is None else call.started
    segments = [(call.queued, started, "queued")]
    if call.started is not None:
        segments.append((started, end if call.finished is None else call.finished, "thread"))
    return segments


def _trace_lanes(trace: LoopTrace) -> list[tuple[str, list[Segment]]]:
    """A lane per task, and per thread call that no traced task awaited, in the order they began."""
    lanes = [
        (task.created, f"{task.name} {task.coroutine}",
         [(span.start, span.end, "run") for span in task.slices] + [(w.start, w.end, w.kind) for w in task.waits])
        for task in trace.tasks
    ]
    lanes += [
        (call.queued, f"{call.name} (thread call)", _call_segments(call, trace.duration))
        for call in trace.calls if call.task is None
    ]
    lanes.sort(key=lambda lane: lane[0])
    return [(label, segments) for _, label, segments in lanes]


def _lane_ticks(labels: Sequence[str]) -> tuple[list[int], list[str]]:
    """Every lane named when there are few; a few lanes numbered when there are many."""
    if len(labels) <= NAMED_LANES:
        return list(range(len(labels))), list(labels)
    last = len(labels) - 1
    rows = [int(row) for row in MaxNLocator(nbins=10, integer=True).tick_values(0, last) if 0 <= row <= last]
    return rows, [str(row) for row in rows]


def plot_swimlanes(trace: LoopTrace, ax: Axes | None = None) -> Axes:
    """A lane per task under a lane for the loop thread: who runs on the loop, and who waits for what.

    A task's lane is black while it runs on the loop thread and coloured while it waits, one
    colour per kind of wait; the loop's lane is black while the loop thread is busy. Only one
    task can be black at a time, and only while the loop is: a long black stretch is code that
    never yields, and every other lane stalls under it. Thread calls that no traced task awaited
    (the post's futures, handed straight to ``gather``) get a lane of their own. Steps too short
    to see at the chart's scale are drawn a hairline wide, so that each one shows.
    """
    trace = _check_trace(trace)
    lanes = _trace_lanes(trace)
    if not lanes:
        raise ValueError("the trace has no tasks or thread calls to plot: did the block start any?")
    n = len(lanes)
    ax = _axes(ax, (9, min(2.5 + 0.18 * n, 8)))
    height = 0.8 if n < 50 else 1.0
    for kind, (colour, label) in TRACE_STYLES.items():
        bars = [(row, start, end) for row, (_, segments) in enumerate(lanes)
                for start, end, segment_kind in segments if segment_kind == kind]
        if bars:
            hairline = kind == "run"
            _bars(ax, bars, height, color=colour, label=label, zorder=3 if hairline else 2,  # runs on top
                  edgecolor=colour if hairline else "none", linewidth=0.5 if hairline else 0)
    # The loop's lane sits above the tasks and grows with them, so that it stays readable at 200.
    loop_height = max(height, n / 12)
    loop_row = -0.5 - n / 40 - loop_height / 2 - 0.5
    busy_colour, _ = TRACE_STYLES["run"]
    if trace.loop_busy:
        _bars(ax, [(loop_row, span.start, span.end) for span in trace.loop_busy], loop_height,
              color=busy_colour, edgecolor=busy_colour, linewidth=0.5)
    rows, labels = _lane_ticks([label for label, _ in lanes])
    ax.set_yticks([loop_row, *rows], ["loop thread", *labels], fontsize="small")
    ax.set_ylim(n - 1 + 0.6, loop_row - loop_height / 2 - 0.3)  # the loop on top, then lane 0
    ax.set_xlim(0, trace.duration * 1.02)
    loose = n - len(trace.tasks)
    counts = [_count(len(trace.tasks), "task")] if trace.tasks else []
    counts += [_count(loose, "thread call")] if loose else []
    ax.set(xlabel="seconds since the trace began", title=f"inside the event loop: {', '.join(counts)}")
    if n > NAMED_LANES:
        ax.set_ylabel("lanes, in the order they began")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", title="a lane is")
    return ax


def plot_request_phases(trace: LoopTrace, ax: Axes | None = None) -> Axes:
    """A bar per thread call in two parts: queued for a worker thread, then in flight in one.

    Where ``plot_timeline`` draws one bar per request, this splits it where a thread picked the
    call up: with a pool smaller than the work, the first part grows wave by wave while the
    second stays the server's latency. Calls run in the order queued, call 0 at the top.
    """
    trace = _check_trace(trace)
    if not trace.calls:
        raise ValueError("the trace has no thread calls to plot: use run_in_executor or asyncio.to_thread in its block")
    calls = sorted(trace.calls, key=lambda call: call.queued)
    ax = _axes(ax, _timeline_size(len(calls)))
    height = _bar_size(len(calls))
    queued, in_flight, flown = [], [], []  # flown: the calls a thread picked up, for their styles
    for row, call in enumerate(calls):
        (start, end, _), *in_thread = _call_segments(call, trace.duration)
        queued.append((row, start, end))
        for start, end, _ in in_thread:
            in_flight.append((row, start, end))
            flown.append(call)
    queued_colour, _ = TRACE_STYLES["queued"]
    _bars(ax, queued, height, color=queued_colour, linewidth=0)
    if in_flight:
        _bars(ax, in_flight, height, **_request_styles(flown))
    end = _timeline_frame(
        ax, trace.duration, "trace ends", (0, len(calls) - 1),
        xlabel="seconds since the trace began", ylabel="call, in the order queued",
        title=f"{_count(len(calls), 'thread call')}: queued for a thread, then in flight",
    )
    _failure_legend(
        ax, calls, Patch(facecolor=queued_colour, label="queued for a worker thread"),
        Patch(facecolor=OK_COLOUR, label="in flight in the thread"), end,
        loc="upper left", bbox_to_anchor=(1.01, 1),  # beside the bars, which fill the width
    )
    return ax


def plot_toy_loop(
    steps: Sequence[tuple[str, float, float, float | None]], total: float, ax: Axes | None = None
) -> Axes:
    """A toy event loop's record (notebook 06) in lanes, drawn as ``plot_swimlanes`` draws asyncio.

    ``steps``: one ``(task name, start, end, seconds it then asked to sleep or None)`` per step,
    in seconds since the loop began; ``total``: how long the loop ran. A task's lane is black
    while it runs, sky blue while it sleeps, vermillion while it is ready (from its start, or
    from when its sleep fell due) until the loop runs it. The loop's lane is black during steps.
    """
    steps = list(steps)
    if not steps or not all(isinstance(step, tuple) and len(step) == 4 and isinstance(step[0], str) for step in steps):
        raise TypeError(f"steps must be one (name, start, end, seconds) tuple or more, got {steps[:2]!r}")
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not total > 0:
        raise ValueError(f"total must be a number of seconds above 0, got {total!r}")
    names = list(dict.fromkeys(name for name, *_ in steps))
    bars: dict[str, list] = {"ready": [], "sleep": [], "run": [(0, start, end) for _, start, end, _ in steps]}
    for row, name in enumerate(names, start=1):
        own = [step for step in steps if step[0] == name]
        bars["ready"].append((row, 0.0, own[0][1]))  # waiting for its first turn
        for (_, _, end, seconds), (_, next_start, _, _) in zip(own, own[1:]):
            due = min(end + (seconds or 0), next_start)  # asleep until due, then ready until it runs
            bars["sleep"].append((row, end, due))
            bars["ready"].append((row, due, next_start))
        bars["run"] += [(row, start, end) for _, start, end, _ in own]
    ax = _axes(ax, (7, min(2 + 0.4 * len(names), 8)))
    for kind, kind_bars in bars.items():
        colour, run = TRACE_STYLES[kind][0], kind == "run"  # runs on top, a hairline wide at least
        _bars(ax, kind_bars, 0.8, color=colour, edgecolor=colour if run else "none",
              linewidth=0.5 if run else 0, zorder=3 if run else 2)
    ax.set_yticks(range(len(names) + 1), ["loop thread", *names])
    ax.set(ylim=(len(names) + 0.6, -0.6), xlim=(0, total * 1.02), xlabel="seconds since run() began",
           title=f"the toy loop: {_count(len(names), 'task')}")
    return ax
