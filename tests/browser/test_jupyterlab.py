"""The slider notebooks in a real JupyterLab: Run All, drag a slider with the mouse, restart.

What a student sees is what is checked: the cells' outputs in the page, the slider's readout,
the chart's image and the caption under it, and the progress that caption shows while the
chart is redrawn. Each test prints the time from releasing the slider to the first word of
progress and to the redrawn chart (run with ``-s`` to see it; ``make test-browser`` does).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from tools.notebooks import SMALL

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = pytest.mark.browser

SLIDER_NOTEBOOKS = ["01_sync_loop.ipynb", "02_coroutines.ipynb", "05_scaling.ipynb"]
KERNEL_START_TIMEOUT = 60  # seconds
RUN_ALL_RETRY = 15  # seconds to wait for Run All to start a cell before clicking it again
RUN_ALL_TIMEOUT = 240  # seconds; Run All takes 5 to 40 s with the small parameters
REDRAW_TIMEOUT = 30  # seconds from releasing the slider to the new chart; a few are expected
PROGRESS_WITHIN = 0.5  # seconds from releasing the slider to the caption saying it redraws
TARGET = 40  # where the requests slider is dragged, well away from where it starts


def open_notebook(page, lab, name: str):
    """Open one notebook alone (``reset`` closes what the workspace had open) and return its panel."""
    page.goto(lab.url(f"lab/tree/{name}") + "&reset")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.wait_for(timeout=60_000)
    # Run All sent before the page has connected to its kernel runs nothing: wait for the
    # kernel to be idle, as the server says (start_run_all clicks again if nothing starts).
    deadline = time.monotonic() + KERNEL_START_TIMEOUT
    while lab.kernel_state(name) != "idle":
        if time.monotonic() > deadline:
            pytest.fail(f"the kernel of {name} was not idle within {KERNEL_START_TIMEOUT} s")
        time.sleep(0.3)
    return panel


def menu(page, name: str, command: str) -> None:
    """Open the main menu ``name`` and click its item for ``command``, e.g. ``runmenu:run-all``."""
    page.get_by_role("menuitem", name=name, exact=True).click()
    page.locator(f"li[data-command='{command}']").click()


def prompts_of(panel) -> list[str]:
    return [text.strip() for text in panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def start_run_all(page, panel) -> None:
    """Run All from the menu, and again if no cell has started after a while.

    The page may still be connecting to a kernel the server already calls idle (seen once in
    many runs); Run All clicked then runs nothing, and a student would click it again.
    """
    for _ in range(3):
        menu(page, "Run", "runmenu:run-all")
        deadline = time.monotonic() + RUN_ALL_RETRY
        while time.monotonic() < deadline:
            if any(prompt != "[ ]:" for prompt in prompts_of(panel)):
                return
            time.sleep(0.1)
    pytest.fail(f"Run All started no cell in {3 * RUN_ALL_RETRY} s")


def all_ran(panel) -> list[str] | None:
    """Every code cell's prompt if every one has run (a number in its prompt), else None."""
    prompts = prompts_of(panel)
    return prompts if prompts and all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in prompts) else None


def run_all(page, panel) -> list[str]:
    """Run All from the menu, wait until every code cell has run, and return their prompts."""
    start_run_all(page, panel)
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    while time.monotonic() < deadline:
        if prompts := all_ran(panel):
            return prompts
        time.sleep(0.5)
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "run-all-failed.png"))
    pytest.fail(f"Run All did not finish within {RUN_ALL_TIMEOUT} s: prompts {prompts_of(panel)}; "
                f"errors {error_outputs(panel)}")


def error_outputs(panel) -> list[str]:
    """The text of every error or stderr output the notebook shows."""
    return panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def untagged_errors(page, lab, name: str) -> list[str]:
    """Save the notebook and return the first line of each cell that shows an error untagged.

    A demonstration of an error is tagged ``raises-exception``; any other error is a fault.
    """
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").first.wait_for(state="detached", timeout=10_000)  # the tab's unsaved mark
    saved = nbformat.read(lab.root / name, as_version=4)
    return [cell.source.splitlines()[0] for cell in saved.cells if cell.cell_type == "code"
            and "raises-exception" not in cell.metadata.get("tags", [])
            and any(output.output_type == "error" for output in cell.outputs)]


def server_processes(lab, name: str) -> list[psutil.Process]:
    """The latency servers started by the kernel of notebook ``name``."""
    connection_file = f"kernel-{lab.kernel_id(name)}.json"
    (kernel,) = [process for process in psutil.Process(lab.process.pid).children(recursive=True)
                 if any(part.endswith(connection_file) for part in process.cmdline())]
    return [child for child in kernel.children(recursive=True)  # python -m helpers.room --child
            if {"helpers.room", "helpers.server"} & set(child.cmdline())]


def drag(page, slider, value: int, low: int, high: int) -> float:
    """Drag the slider's handle with the mouse to about ``value``; return the page's clock (ms)
    read just before the release."""
    handle = slider.locator(".noUi-handle")
    # A press in a cell that is not the active one makes it active, and JupyterLab may scroll it
    # under the mouse: a student clicks into the chart's cell first, as we do here.
    slider.locator(".widget-label").click()
    for _ in range(20):  # JupyterLab may still scroll the page after Run All: wait until it is still
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        on_handle = "([x, y]) => document.elementFromPoint(x, y)?.closest('.noUi-handle') !== null"
        if page.evaluate(on_handle, [x, y]):
            break
        time.sleep(0.25)
    else:
        pytest.fail("the slider's handle never stayed in view")
    track = slider.locator(".noUi-target").bounding_box()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * (value - low) / (high - low), y, steps=12)
    released = page.evaluate("performance.now()")  # read just before the release: never late
    page.mouse.up()
    return released


WATCH_TEXT = """element => {
    // Every text the element shows from now on, with the page's clock in ms.
    window.captionsSeen = [];
    new MutationObserver(() => window.captionsSeen.push([performance.now(), element.innerText]))
        .observe(element, {childList: true, characterData: true, subtree: true});
}"""


@pytest.mark.parametrize("name", SLIDER_NOTEBOOKS)
def test_run_all_then_drag_the_slider_redraws_the_chart_in_place(lab, page, name):
    panel = open_notebook(page, lab, name)
    prompts = run_all(page, panel)
    assert error_outputs(panel) == []

    live = panel.locator(".widget-vbox:has(.widget-image)")
    caption = live.locator(".widget-html").last
    image = live.locator(".widget-image")
    assert caption.inner_text().startswith(f"{SMALL['N_REQUESTS']} requests of")
    first_image = image.get_attribute("src")

    slider = live.locator(".widget-slider", has=page.locator(".widget-label", has_text="requests"))
    caption.evaluate(WATCH_TEXT)
    released = drag(page, slider, TARGET, 1, 200)
    readout = int(slider.locator(".widget-readout").inner_text())
    assert abs(readout - TARGET) <= 3, f"the slider moved to {readout}"
    final = f"{readout} requests of"
    page.wait_for_function(
        "([element, final]) => element.innerText.startsWith(final)",
        arg=[caption.element_handle(), final], timeout=REDRAW_TIMEOUT * 1000,
    )
    seen = [(round((at - released) / 1000, 2), text) for at, text in page.evaluate("window.captionsSeen")]
    assert image.get_attribute("src") != first_image  # a new chart, not only a new caption
    print(f"\n{name}: slider released at {readout}; captions since (s after the release, text):")
    print("\n".join(f"  {at:6.2f}  {text}" for at, text in seen))
    # At once, the caption says that it redraws, and for which values...
    saying = f"Redrawing for requests {readout},"
    first_said = next((at for at, text in seen if text.startswith(saying)), None)
    assert first_said is not None and first_said <= PROGRESS_WITHIN, f"no {saying!r} within {PROGRESS_WITHIN} s"
    # ...then counts requests done as they finish: at least two counts before the new chart.
    before_final = [text for _, text in seen[:next(i for i, (_, text) in enumerate(seen) if text.startswith(final))]]
    counts = [int(match.group(1)) for text in before_final if (match := re.search(r": (\d+) requests? done", text))]
    assert len(set(counts)) >= 2 and counts == sorted(counts), counts
    # No cell ran meanwhile: the prompts are those Run All left.
    assert prompts_of(panel) == prompts

    assert untagged_errors(page, lab, name) == []


@pytest.mark.parametrize("name", SLIDER_NOTEBOOKS[:1])
def test_restarting_the_kernel_leaves_no_server_behind(lab, page, name):
    run_all(page, open_notebook(page, lab, name))
    servers = server_processes(lab, name)
    assert servers, "the notebook started no latency server"
    menu(page, "Kernel", "kernelmenu:restart")
    page.locator(".jp-Dialog button.jp-mod-accept", has_text="Restart").click()
    gone, alive = psutil.wait_procs(servers, timeout=15)
    assert alive == [], f"still running after the restart: {[process.pid for process in alive]}"


def test_the_crawlers_progress_bar_moves_while_the_crawl_runs(lab, page):
    """07's progress bar is updated by the crawl's own tasks while its cell runs: each update
    must reach the page as it happens, not only at the end."""
    panel = open_notebook(page, lab, "07_asyncio_today.ipynb")
    start_run_all(page, panel)
    label = panel.locator(".widget-label", has_text="pages,").first
    seen, deadline = [], time.monotonic() + RUN_ALL_TIMEOUT
    while time.monotonic() < deadline:
        if label.count() and (text := label.inner_text()) and (not seen or seen[-1] != text):
            seen.append(text)
        if all_ran(panel):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"Run All did not finish within {RUN_ALL_TIMEOUT} s")
    # 07 logs "Task was destroyed but it is pending!" on purpose, to stderr: errors are read
    # from the notebook as saved instead.
    assert untagged_errors(page, lab, "07_asyncio_today.ipynb") == []
    done = [int(text.split("/")[0]) for text in seen]
    print(f"\n07: the progress line showed {len(seen)} values while the crawl ran: {done}")
    assert len(set(done)) >= 3 and done == sorted(done)  # it moved, forward, while running
    assert seen[0] != seen[-1]


FOLLOW_ASYNC = '''\
import asyncio
import threading

import ipywidgets as widgets
from IPython.display import display

from helpers import timed_run
from helpers.live import LiveChart

count = widgets.IntSlider(value=12, min=1, max=200, description="requests", continuous_update=False)
live = LiveChart(count, width=4, height=2)
callbacks_ran_on = []
count.observe(lambda change: callbacks_ran_on.append(threading.current_thread().name), names="value")


async def redraw(n_requests):
    async def request(run, seconds):
        with run.request():
            await asyncio.sleep(seconds)

    with timed_run("async") as run:  # requests that end one by one, 0.05 s apart
        await asyncio.gather(*(request(run, 0.05 * (i + 1)) for i in range(n_requests)))
    figure, (ax,) = live.figure()
    ax.plot([record.end for record in run.records])
    live.show(figure, f"{n_requests} requests of 0.05 s: callback on {callbacks_ran_on[-1:]}, "
                      f"redraw on {threading.current_thread().name}")

await live.follow_async(redraw)
display(live)
'''


def test_follow_async_redraws_on_the_notebooks_loop_whatever_thread_the_callback_runs_on(lab, page):
    """LiveChart.follow_async in a notebook of its own: in JupyterLab the slider's callback runs
    on a kernel subshell's thread, and the redraw still runs on the thread of the cell's loop."""
    notebook = nbformat.read(NOTEBOOKS / SLIDER_NOTEBOOKS[0], as_version=4)  # for its kernel's name
    notebook.cells = [nbformat.v4.new_code_cell(FOLLOW_ASYNC)]
    nbformat.write(notebook, lab.root / "follow_async.ipynb")
    panel = open_notebook(page, lab, "follow_async.ipynb")
    run_all(page, panel)
    assert error_outputs(panel) == []
    live = panel.locator(".widget-vbox:has(.widget-image)")
    caption = live.locator(".widget-html").last
    assert caption.inner_text() == "12 requests of 0.05 s: callback on [], redraw on MainThread"
    threads = []
    for target in (TARGET, TARGET + 30):  # the first release may be handled before a subshell exists
        caption.evaluate(WATCH_TEXT)
        released = drag(page, live.locator(".widget-slider"), target, 1, 200)
        readout = int(live.locator(".widget-readout").inner_text())
        final = f"{readout} requests of"
        page.wait_for_function("([element, final]) => element.innerText.startsWith(final)",
                               arg=[caption.element_handle(), final], timeout=REDRAW_TIMEOUT * 1000)
        seen = [(round((at - released) / 1000, 2), text) for at, text in page.evaluate("window.captionsSeen")]
        print(f"\nfollow_async: {seen[0]} ... {seen[-1]} ({len(seen)} captions)")
        assert seen[0][0] <= PROGRESS_WITHIN and seen[0][1].startswith(f"Redrawing for requests {readout}")
        shown = re.fullmatch(rf"{readout} requests of 0\.05 s: callback on \['([^']+)'\], redraw on MainThread",
                             seen[-1][1])
        assert shown, seen[-1][1]
        threads.append(shown.group(1))
    assert threads[-1].startswith("subshell-"), threads  # JupyterLab 4.6's default, perCommTarget


def test_a_release_during_a_long_sync_redraw_leaves_the_newest_chart(lab, page):
    """01's draw is sync: a second release while it runs is handled after it, or alongside it
    when the two are handled on different threads (the first on the main thread, the next on
    a subshell's). Either way the chart left in place is the newest choice's."""
    panel = open_notebook(page, lab, "01_sync_loop.ipynb")
    run_all(page, panel)
    live = panel.locator(".widget-vbox:has(.widget-image)")
    caption = live.locator(".widget-html").last
    slider = live.locator(".widget-slider", has=page.locator(".widget-label", has_text="requests"))
    long_run = TARGET * SMALL["LATENCY"]  # seconds the first redraw takes, at least
    drag(page, slider, TARGET, 1, 200)
    first = int(slider.locator(".widget-readout").inner_text())
    page.wait_for_function("([element, said]) => element.innerText.startsWith(said)",
                           arg=[caption.element_handle(), f"Redrawing for requests {first},"], timeout=10_000)
    released = drag(page, slider, 8, 1, 200)
    second = int(slider.locator(".widget-readout").inner_text())
    assert second < first / 2, f"the slider moved to {second}"
    page.wait_for_function("([element, final]) => element.innerText.startsWith(final)",
                           arg=[caption.element_handle(), f"{second} requests of"], timeout=REDRAW_TIMEOUT * 1000)
    shown = (page.evaluate("performance.now()") - released) / 1000
    time.sleep(long_run + 2)  # long enough for the first redraw to have ended, whichever thread ran it
    print(f"\n01: released at {first}, then at {second} during its redraw; {shown:.2f} s later: "
          f"{caption.inner_text()}")
    assert caption.inner_text().startswith(f"{second} requests of")
