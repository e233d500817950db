"""LiveChart: the chart a slider redraws, and the stand-in a page without a kernel shows."""

import asyncio
import base64
import concurrent.futures
import re
import threading
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from helpers import timed_run
from helpers.live import LiveChart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_show_puts_a_png_and_its_caption_in_place():
    count = widgets.IntSlider(value=3, min=1, max=200)
    live = LiveChart(count)
    figure, (ax,) = live.figure()
    ax.plot([0, 1], [0, 1])
    live.show(figure, "3 requests <of 0.10 s>")
    assert bytes(live.image.value).startswith(PNG_SIGNATURE)
    assert live.caption == "3 requests <of 0.10 s>" and live.text.value == "<p>3 requests &lt;of 0.10 s&gt;</p>"
    assert live.widget.children == (count, live.image, live.text)


def test_displayed_it_carries_the_last_chart_and_caption_as_a_stand_in():
    live = LiveChart(width=4, height=2)
    assert live._repr_mimebundle_()["text/plain"] == "(a live chart: it needs a running kernel)"
    figure, axes = live.figure(ncols=3)
    assert len(axes) == 3 and figure.get_size_inches().tolist() == [4, 2]
    live.show(figure, "drawn")
    bundle = live._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/plain"] == "drawn"
    assert base64.b64decode(bundle["image/png"]) == bytes(live.image.value)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: LiveChart("requests"), TypeError, "controls must be ipywidgets widgets"),
        (lambda: LiveChart(width=0), ValueError, "width and height must be from 0 to 40 inches, got 0 and 4"),
        (lambda: LiveChart().figure(ncols=0), ValueError, "ncols must be >= 1, got 0"),
        (lambda: LiveChart().show("a chart", "caption"), TypeError, "figure must be a matplotlib Figure, got str"),
    ],
)
def test_bad_arguments_are_refused_clearly(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_its_figures_are_not_pyplots_so_nothing_is_shown_twice():
    before = plt.get_fignums()
    LiveChart().figure(ncols=2)
    assert plt.get_fignums() == before


# Following the controls: the first draw, a redraw on each release, progress, cancelling.

def sliders():
    count = widgets.IntSlider(value=3, min=1, max=200, description="requests")
    delay = widgets.FloatSlider(value=0.3, min=0.05, max=1.0, step=0.05, description="latency (s)")
    return count, delay


def lines_shown(live):
    """Every text the caption widget is given from now on, in order."""
    shown = []
    live.text.observe(lambda change: shown.append(change.new), names="value")
    return shown


def timed_requests(n_requests, seconds):
    with timed_run("sync") as run:
        for _ in range(n_requests):
            with run.request() as req:
                time.sleep(seconds)
                req.status = 200
    return run


def test_follow_draws_now_and_again_on_each_release_with_the_controls_values():
    count, delay = sliders()
    live = LiveChart(count, delay)
    calls = []

    def draw(n_requests, latency):
        calls.append((n_requests, latency))
        return len(calls)

    assert live.follow(draw) == 1 and calls == [(3, 0.3)]
    count.value = 40
    delay.value = 0.5
    assert calls == [(3, 0.3), (40, 0.3), (40, 0.5)]


def test_follow_now_false_waits_for_the_first_release():
    """For a chart already drawn from a run the notebook has (01): no run is repeated."""
    count, delay = sliders()
    live = LiveChart(count, delay)
    calls = []
    assert live.follow(lambda n_requests, latency: calls.append((n_requests, latency)), now=False) is None
    assert calls == []
    count.value = 7
    assert calls == [(7, 0.3)]


def test_follow_says_at_once_that_it_redraws_and_counts_requests_as_they_finish():
    count, delay = sliders()
    live = LiveChart(count, delay)

    def draw(n_requests, latency):
        run = timed_requests(n_requests, 0.06)
        figure, _ = live.figure()
        live.show(figure, f"{run.n_requests} requests of {latency:.2f} s")

    live.follow(draw)
    shown = lines_shown(live)
    count.value = 8
    assert shown[0] == "<p><i>Redrawing for requests 8, latency (s) 0.30…</i></p>"
    counts = [int(n) for n in re.findall(r"Redrawing for requests 8, latency \(s\) 0\.30: (\d+) requests? done", " ".join(shown))]
    # Each finished request may report, at most every PROGRESS_EVERY s; the run's end always does.
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] == 8
    assert shown[-1] == "<p>8 requests of 0.30 s</p>" and live.caption == "8 requests of 0.30 s"


def test_progress_names_each_run_and_counts_failures():
    live = LiveChart(widgets.IntSlider(value=2, description="requests"))

    def draw(n_requests):
        timed_requests(n_requests, 0)
        with timed_run("second") as run:
            with pytest.raises(TimeoutError), run.request():
                raise TimeoutError

    live.follow(draw)
    assert live.progress == "Redrawing for requests 2: 3 requests done (sync 2, second 1), 1 failed"


def test_an_error_in_a_later_draw_is_shown_under_the_chart_and_one_in_the_first_is_raised():
    count = widgets.IntSlider(value=3, description="requests")

    def draw(n_requests):
        if n_requests != 3:
            raise ValueError(f"no chart for {n_requests}")

    live = LiveChart(count)
    live.follow(draw)
    count.value = 4
    assert live.progress == "Could not redraw for requests 4: ValueError: no chart for 4"
    with pytest.raises(ValueError, match="no chart for 5"):
        LiveChart(widgets.IntSlider(value=5)).follow(draw)


def test_follow_async_redraws_on_the_loop_it_was_awaited_on_from_another_thread():
    count, delay = sliders()
    live = LiveChart(count, delay)
    seen = []

    async def redraw(n_requests, latency):
        seen.append((n_requests, latency, threading.current_thread().name))
        await asyncio.sleep(0.01)
        return n_requests

    async def main():
        first = await live.follow_async(redraw)
        # A front end's release: here a thread of its own, as in a JupyterLab subshell.
        mover = threading.Thread(target=setattr, args=(count, "value", 7), name="subshell-like")
        mover.start()
        await asyncio.to_thread(mover.join)
        await live.wait()
        return first, live.drawing.result()

    assert asyncio.run(main()) == (3, 7)
    main_thread = threading.current_thread().name
    assert seen == [(3, 0.3, main_thread), (7, 0.3, main_thread)]


def test_a_release_cancels_the_redraw_still_running_and_only_the_newest_shows():
    count, delay = sliders()
    live = LiveChart(count, delay)
    cancelled = []

    async def redraw(n_requests, latency):
        try:
            with timed_run("async") as run:
                for _ in range(n_requests):
                    with run.request():
                        await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            cancelled.append(n_requests)
            raise
        figure, _ = live.figure()
        live.show(figure, f"{n_requests} requests")

    async def main():
        await live.follow_async(redraw)
        shown = lines_shown(live)
        count.value = 20  # a long redraw...
        await asyncio.sleep(0.35)
        count.value = 2   # ...replaced by a short one
        await live.wait()
        return shown

    shown = asyncio.run(main())
    assert cancelled == [20] and live.caption == "2 requests"
    after_release = shown[shown.index("<p><i>Redrawing for requests 2, latency (s) 0.30…</i></p>"):]
    assert not any("requests 20" in line for line in after_release), after_release


def test_cancelling_stops_the_coroutine_not_the_request_running_in_a_thread():
    count = widgets.IntSlider(value=1, description="requests")
    live = LiveChart(count)
    finished = threading.Event()

    def blocking_request():
        time.sleep(0.3)
        finished.set()

    async def redraw(n_requests):
        if n_requests == 2:
            await asyncio.get_running_loop().run_in_executor(None, blocking_request)

    async def main():
        await live.follow_async(redraw)
        count.value = 2
        await asyncio.sleep(0.1)  # the request is in a pool thread now
        count.value = 3           # cancels the redraw for 2
        await live.wait()
        return await asyncio.to_thread(finished.wait, 5)

    assert asyncio.run(main())  # the thread ran on to its end


def test_cancelling_drops_the_requests_still_queued_for_a_thread():
    count = widgets.IntSlider(value=1, description="requests")
    live = LiveChart(count)
    started, release = [], threading.Event()

    def blocking_request(i):
        started.append(i)
        release.wait(5)

    async def redraw(n_requests):
        if n_requests == 4:  # four requests for one thread: three wait in the pool's queue
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, blocking_request, i) for i in range(4)))

    async def main():
        await live.follow_async(redraw)
        count.value = 4
        while not started:  # request 0 runs in the pool's thread; 1 to 3 are queued
            await asyncio.sleep(0.01)
        count.value = 5  # cancels the redraw for 4
        await live.wait()
        release.set()  # request 0 ends, and the thread is free for the queue
        await asyncio.to_thread(pool.shutdown, wait=True)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        asyncio.run(main())
    assert started == [0]


def test_follow_async_returns_none_when_a_release_replaced_the_first_redraw():
    count = widgets.IntSlider(value=1, description="requests")
    live = LiveChart(count)

    async def redraw(n_requests):
        if n_requests == 1:
            count.value = 2  # released while the first redraw runs
            await asyncio.sleep(10)
        return n_requests

    async def main():
        first = await live.follow_async(redraw)
        await live.wait()
        return first, live.drawing.result()

    assert asyncio.run(main()) == (None, 2)


async def a_redraw(n_requests):
    return n_requests


@pytest.mark.parametrize(
    "follow, error, message",
    [
        (lambda live: live.follow(a_redraw), TypeError, "draw must be a plain function .* got <function a_redraw"),
        (lambda live: live.follow("draw"), TypeError, "draw must be a plain function .* got 'draw'"),
        (lambda live: asyncio.run(live.follow_async(print)), TypeError,
         "redraw must be an async def function .* got <built-in function print>"),
        (lambda live: (live.follow(print), live.follow(print)), RuntimeError,
         "this LiveChart already follows <built-in function print>: make a new one"),
        (lambda live: LiveChart(widgets.Button()).follow(print), TypeError,
         "every control must have a value to follow, got Button"),
    ],
)
def test_following_refuses_bad_arguments_clearly(follow, error, message):
    with pytest.raises(error, match=message):
        follow(LiveChart(widgets.IntSlider()))


def test_follow_async_needs_a_running_loop():
    with pytest.raises(RuntimeError, match="no running event loop"):
        LiveChart().follow_async(a_redraw).send(None)


def test_a_replaced_redraw_cannot_put_its_chart_in_place_after_the_newer_one():
    count = widgets.IntSlider(value=1, description="requests")
    live = LiveChart(count)

    def draw(n_requests):
        if n_requests == 2:
            count.value = 3  # released again while this draw runs: the draw for 3 runs and shows first
        figure, _ = live.figure()
        live.show(figure, f"{n_requests} requests")

    live.follow(draw)
    count.value = 2
    assert live.caption == "3 requests"
    figure, _ = live.figure()
    live.show(figure, "shown from a cell")  # outside any redraw, show always shows
    assert live.caption == "shown from a cell"


def test_a_release_after_the_loop_has_closed_says_so_under_the_chart():
    count = widgets.IntSlider(value=1, description="requests")
    live = LiveChart(count)
    asyncio.run(live.follow_async(a_redraw))  # the loop closes when asyncio.run returns
    count.value = 2
    assert live.progress == "Could not redraw for requests 2: RuntimeError: Event loop is closed"
