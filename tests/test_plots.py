"""Charts: what each draws, for one request and for a thousand, and what it refuses."""

import asyncio
import dataclasses
import time

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

from helpers import LoopTrace, RequestRecord, ResourceUsage, Run, RunContext, TaskTrace, ThreadCall
from helpers.plots import (
    FAILED_COLOUR, OK_COLOUR, TRACE_STYLES, drawn_angle, plot_request_phases, plot_requests, plot_resources,
    plot_sweep, plot_swimlanes, plot_timeline, plot_toy_loop, plot_totals,
)
from helpers.trace import WAIT_KINDS, Span, Wait, trace_loop


def make_run(label: str, n: int, *, parallel: bool, failed: frozenset = frozenset()) -> Run:
    """A finished run with made-up times: n requests of 0.3 s, one after another or all at once."""
    run = Run(label, RunContext("3.12.1", 2))
    for i in range(n):
        start = 0.0 if parallel else 0.3 * i
        error = "ReadTimeout" if i in failed else None
        run.records.append(RequestRecord(i, start, start + 0.3, None if error else 200, error))
    run.total = 0.31 if parallel else 0.3 * n + 0.01
    return run


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("n", [1, 5, 1000])
def test_plot_requests_draws_a_bar_per_request_and_marks_the_total(n):
    run = make_run("sync", n, parallel=False)
    ax = plot_requests(run)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == n
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.3] * n)
    (total_line,) = ax.get_lines()
    assert total_line.get_ydata()[0] == pytest.approx(run.total)
    assert ax.get_xlabel() == "request" and ax.get_ylabel() == "seconds"
    assert "sync" in ax.get_title()


@pytest.mark.parametrize("n", [1, 5, 1000])
def test_plot_timeline_draws_a_bar_from_start_to_end_of_each_request(n):
    run = make_run("sync", n, parallel=False)
    ax = plot_timeline(run)
    assert len(ax.patches) == n
    lefts = sorted(bar.get_x() for bar in ax.patches)
    assert lefts == pytest.approx([0.3 * i for i in range(n)])  # a staircase
    assert ax.get_xlabel() == "seconds since the run began"
    bottom, top = ax.get_ylim()
    assert bottom > top  # request 0 at the top


@pytest.mark.parametrize("parallel", [False, True])
def test_the_timeline_legend_covers_no_bar(parallel):
    """A wall of requests leaves no free corner inside the axes: the legend goes beside them."""
    _, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")  # as 03 draws two
    for ax in (left, right):
        plot_timeline(make_run("async" if parallel else "sync", 20, parallel=parallel, failed=frozenset({1})), ax=ax)
    left.figure.canvas.draw()
    for ax in (left, right):
        legend = ax.get_legend().get_window_extent()
        assert not any(bar.get_window_extent().overlaps(legend) for bar in ax.patches)
        assert legend.x0 >= ax.get_window_extent().x1  # beside the axes, inside the figure
        assert legend.x1 <= ax.figure.bbox.x1


def test_failed_requests_are_coloured_hatched_and_named_in_the_legend():
    run = make_run("async", 5, parallel=True, failed=frozenset({1, 3}))
    for plot in (plot_requests, plot_timeline):
        ax = plot(run)
        colours = [to_hex(bar.get_facecolor()) for bar in ax.patches]
        assert colours.count(FAILED_COLOUR.lower()) == 2
        assert colours.count(OK_COLOUR.lower()) == 3
        assert sum(bool(bar.get_hatch()) for bar in ax.patches) == 2
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert "failed (2): ReadTimeout" in legend


def test_plot_totals_writes_the_speed_up_over_the_first_run():
    sync, fast = make_run("sync", 20, parallel=False), make_run("async", 20, parallel=True)
    ax = plot_totals([sync, fast], ideals=[6.0, 0.3])
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([sync.total, fast.total])
    notes = [text.get_text() for text in ax.texts]
    assert notes[0] == f"{sync.total:.2f} s"
    assert notes[1] == f"{fast.total:.2f} s\n{sync.total / fast.total:.1f}x faster"
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["sync", "async"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["ideal"]


def test_plots_draw_on_the_axes_they_are_given():
    _, (left, right) = plt.subplots(1, 2)
    run = make_run("sync", 3, parallel=False)
    assert plot_timeline(run, ax=left) is left
    assert plot_requests(run, ax=right) is right


def test_plots_refuse_a_run_with_nothing_to_draw():
    empty = Run("empty", RunContext("3.12.1", 2))
    empty.total = 0.0
    with pytest.raises(ValueError, match="run 'empty' has no requests to plot"):
        plot_timeline(empty)
    unfinished = make_run("unfinished", 2, parallel=True)
    unfinished.total = None
    with pytest.raises(ValueError, match="has not finished"):
        plot_requests(unfinished)


def test_plots_refuse_wrong_arguments():
    run = make_run("sync", 2, parallel=False)
    with pytest.raises(TypeError, match="run must be a Run from timed_run"):
        plot_timeline([run])
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None, got str"):
        plot_requests(run, ax="left")
    with pytest.raises(ValueError, match="runs must hold at least one Run"):
        plot_totals([])
    with pytest.raises(ValueError, match=r"ideals must have one value per run \(1\), got 2"):
        plot_totals([run], ideals=[1.0, 2.0])
    with pytest.raises(ValueError, match="ideals must be >= 0 seconds"):
        plot_totals([run], ideals=[-1.0])


# --- the sweep and the resource charts ---------------------------------------------------------

SWEEP = {
    "sync": {1: 0.3, 10: 3.0, 100: 30.0},
    "native async": {1: 0.3, 10: 0.31, 100: 0.33},
}


def test_plot_sweep_draws_a_line_per_method_and_dashed_ideals_on_log_axes():
    ideals = {"sync": {1: 0.3, 10: 3.0, 100: 30.0}}
    ax = plot_sweep(SWEEP, ideals=ideals)
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--" and len(line.get_xdata())]
    assert [list(line.get_ydata()) for line in solid] == [[0.3, 3.0, 30.0], [0.3, 0.31, 0.33]]
    assert len(dashed) == 1 and dashed[0].get_color() == solid[0].get_color()
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["sync", "native async", "ideal (same colour)"]


def test_drawn_angle_measures_the_line_on_the_page_not_in_data_units():
    ax = plot_sweep({"sync": {1: 0.3, 5: 1.5, 20: 6.0, 50: 15.0, 200: 60.0}, "async": {1: 0.3, 200: 0.31}})
    # Proportional to N: one decade per decade, yet at the default size not drawn at 45 degrees.
    assert 20 < drawn_angle(ax, "sync") < 40 and abs(drawn_angle(ax, "async")) < 1
    _, square = plt.subplots(figsize=(4, 4))
    square.plot([1, 10], [1, 10], label="x")
    square.set(xscale="log", yscale="log", xlim=(1, 10), ylim=(1, 10), aspect="equal")
    assert drawn_angle(square, "x") == pytest.approx(45, abs=0.5)
    with pytest.raises(ValueError, match=r"label must name a line of two points or more on ax, got 'pool'"):
        drawn_angle(square, "pool")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        drawn_angle(None, "x")


@pytest.mark.parametrize(
    "totals, ideals, message",
    [
        ({}, None, "at least one method"),
        ({"sync": {}}, None, "'sync' has no points"),
        ({"sync": {0: 0.3}}, None, "request counts must be >= 1"),
        ({"sync": {1: 0.0}}, None, "totals > 0 on log axes"),
        (SWEEP, {"pool": {1: 0.3}}, r"ideals has methods that totals lacks: \['pool'\]"),
    ],
)
def test_plot_sweep_refuses_what_it_cannot_draw(totals, ideals, message):
    with pytest.raises(ValueError, match=message):
        plot_sweep(totals, ideals=ideals)


def test_plot_resources_draws_threads_and_memory_for_each_usage():
    usages = [ResourceUsage("coroutines", 3, 3, 4.5), ResourceUsage("threads", 3, 1003, 38.0)]
    threads_ax, memory_ax = plot_resources(usages)
    assert [bar.get_height() for bar in threads_ax.patches] == [3, 1003]
    assert [bar.get_height() for bar in memory_ax.patches] == pytest.approx([4.5, 38.0])
    assert [label.get_text() for label in memory_ax.get_xticklabels()] == ["coroutines", "threads"]
    assert "+38.0 MiB" in [text.get_text() for text in memory_ax.texts]


def test_plot_resources_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="at least one ResourceUsage"):
        plot_resources([])
    with pytest.raises(TypeError, match="got dict"):
        plot_resources([{"threads": 3}])
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match="two matplotlib Axes"):
        plot_resources([ResourceUsage("x", 1, 1, 0.0)], axes=[ax])


# --- loop traces -------------------------------------------------------------------------------

def make_trace(n: int, *, workers: int = 6, failed: frozenset = frozenset()) -> LoopTrace:
    """A finished trace with made-up times: n tasks, each a call of 0.1 s on a pool of ``workers``.

    Each task runs 1 ms, waits for a thread (1 ms, then wave by wave), 0.1 s in it, then runs 1 ms.
    """
    trace = LoopTrace()
    for i in range(n):
        started = 0.002 + 0.1 * (i // workers)
        finished = started + 0.1
        name = f"Task-{i}"
        trace.tasks.append(TaskTrace(
            name, "fetch", 0.0, finished + 0.001,
            slices=(Span(0.0, 0.001), Span(finished, finished + 0.001)),
            waits=(Wait(0.001, started, "queued"), Wait(started, finished, "thread")),
        ))
        error = "ConnectionError" if i in failed else None
        trace.calls.append(ThreadCall("get", 0.001, started, finished, "worker", name, error))
    trace.loop_busy = [Span(0.0, 0.002)]
    trace.duration = trace.tasks[-1].ended
    return trace


def test_every_kind_of_wait_has_its_own_colour_and_legend_label():
    assert set(TRACE_STYLES) == {"run", *WAIT_KINDS}
    colours, labels = zip(*TRACE_STYLES.values())
    assert len(set(colours)) == len(set(labels)) == len(TRACE_STYLES)


def colours_of(ax) -> list[str]:
    return [to_hex(bar.get_facecolor()) for bar in ax.patches]


@pytest.mark.parametrize("n", [1, 200])
def test_plot_swimlanes_draws_a_lane_per_task_under_the_loop_lane(n):
    trace = make_trace(n)
    ax = plot_swimlanes(trace)
    colours = colours_of(ax)
    black, orange, blue = (to_hex(TRACE_STYLES[kind][0]) for kind in ("run", "queued", "thread"))
    assert colours.count(black) == 2 * n + 1  # two steps per task, and the loop busy once
    assert colours.count(blue) == n
    assert colours.count(orange) == n
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels[0] == "loop thread"
    assert len(labels) <= 21  # every lane named at 1, a few numbered at 200: legible either way
    bottom, top = ax.get_ylim()
    assert bottom > top  # the loop on top, then lane 0
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [TRACE_STYLES[kind][1] for kind in ("run", "queued", "thread")]
    assert ax.figure.get_size_inches()[1] <= 8


def test_plot_swimlanes_gives_futures_that_no_task_awaited_their_own_lane():
    trace = make_trace(3)
    trace.tasks = []
    trace.calls = [dataclasses.replace(call, task=None) for call in trace.calls]
    ax = plot_swimlanes(trace)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["loop thread"] + ["get (thread call)"] * 3
    assert ax.get_title() == "inside the event loop: 3 thread calls"


@pytest.mark.parametrize("n", [1, 200])
def test_plot_request_phases_splits_each_call_into_queued_and_in_flight(n):
    trace = make_trace(n, failed=frozenset({0}))
    ax = plot_request_phases(trace)
    queued = [bar for bar in ax.patches if to_hex(bar.get_facecolor()) == to_hex(TRACE_STYLES["queued"][0])]
    in_flight = [bar for bar in ax.patches if bar not in queued]
    assert len(queued) == len(in_flight) == n
    assert [bar.get_width() for bar in in_flight] == pytest.approx([0.1] * n)
    # Each call's flight starts where its wait for a thread ended: one bar in two segments.
    assert [bar.get_x() for bar in in_flight] == pytest.approx([bar.get_x() + bar.get_width() for bar in queued])
    assert to_hex(in_flight[0].get_facecolor()) == FAILED_COLOUR.lower() and in_flight[0].get_hatch()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:2] == ["queued for a worker thread", "in flight in the thread"]
    assert "failed (1): ConnectionError" in legend


def test_trace_plots_draw_on_the_axes_they_are_given():
    _, (left, right) = plt.subplots(1, 2)
    trace = make_trace(3)
    assert plot_swimlanes(trace, ax=left) is left
    assert plot_request_phases(trace, ax=right) is right


def test_trace_plots_refuse_what_they_cannot_draw():
    with pytest.raises(TypeError, match="trace must be a LoopTrace from trace_loop"):
        plot_swimlanes(make_run("sync", 2, parallel=False))
    with pytest.raises(ValueError, match="has not finished"):
        plot_request_phases(LoopTrace())
    empty = LoopTrace()
    empty.duration = 0.1
    with pytest.raises(ValueError, match="no tasks or thread calls"):
        plot_swimlanes(empty)
    with pytest.raises(ValueError, match="no thread calls to plot"):
        plot_request_phases(empty)


def test_plot_swimlanes_draws_a_real_trace_of_two_hundred_tasks():
    async def main():
        with trace_loop() as trace:
            await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.01) for _ in range(200)))
        return trace

    trace = asyncio.run(main())
    ax = plot_swimlanes(trace)
    ax.figure.canvas.draw()
    assert len(trace.tasks) == 200
    assert ax.get_title() == "inside the event loop: 200 tasks"


# --- the toy loop of notebook 06 ------------------------------------------------------------------

# A sleeps 0.1 s twice, B 0.25 s once; a blocker holds the loop from 0.05 s to 0.35 s.
TOY_STEPS = [
    ("A", 0.0, 0.001, 0.1), ("B", 0.001, 0.002, 0.25), ("blocker", 0.002, 0.003, 0.05),
    ("blocker", 0.05, 0.35, None), ("A", 0.35, 0.351, 0.1), ("B", 0.351, 0.352, None), ("A", 0.451, 0.452, None),
]


def test_plot_toy_loop_draws_each_step_and_what_each_task_waited_for():
    ax = plot_toy_loop(TOY_STEPS, 0.452)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["loop thread", "A", "B", "blocker"]
    black, sky, vermillion = (to_hex(TRACE_STYLES[kind][0]) for kind in ("run", "sleep", "ready"))
    colours = colours_of(ax)
    assert colours.count(black) == 2 * len(TOY_STEPS)  # each step in its task's lane and the loop's
    assert colours.count(sky) == 4  # A twice, B and the blocker once
    ready = [bar for bar in ax.patches if to_hex(bar.get_facecolor()) == vermillion and bar.get_width() > 0.01]
    # A was due at 0.101 s and B at 0.252 s, but the loop ran them only after the block, at 0.35 s.
    assert sorted((round(bar.get_x(), 3), round(bar.get_x() + bar.get_width(), 3)) for bar in ready) == [
        (0.101, 0.35), (0.252, 0.351)]
    assert ax.get_title() == "the toy loop: 3 tasks"
    bottom, top = ax.get_ylim()
    assert bottom > top  # the loop on top


def test_plot_toy_loop_draws_on_the_axes_it_is_given_and_refuses_what_it_cannot_draw():
    _, ax = plt.subplots()
    assert plot_toy_loop(TOY_STEPS[:1], 0.1, ax=ax) is ax
    with pytest.raises(TypeError, match=r"steps must be one \(name, start, end, seconds\) tuple or more, got \[\]"):
        plot_toy_loop([], 1.0)
    with pytest.raises(TypeError, match=r"tuple or more, got \[\('A', 0.0\)\]"):
        plot_toy_loop([("A", 0.0)], 1.0)
    with pytest.raises(ValueError, match="total must be a number of seconds above 0, got 0"):
        plot_toy_loop(TOY_STEPS, 0)
