"""A chart that sliders redraw in place, in JupyterLab, Notebook 7 and a headless run alike.

Why not the usual ``with output_widget: display(fig)``: output sent from a slider's callback,
or from a task that callback started, is tied to the widget message that triggered it, and the
browser stops listening for that message a fraction of a second after sending it. Anything
drawn later reaches no handler and never shows (jupyter-widgets/ipywidgets#4012,
ipython/ipykernel#1510, both open in late 2026). A widget's own *state* travels on the
widget's own channel, which stays open: so the chart here is an ``Image`` widget whose value
is set to PNG bytes, with a line of text under it in an ``HTML`` widget. Setting them works
from any thread and any event loop.

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

import base64
import html
import io

import ipywidgets as widgets
from matplotlib.figure import Figure


class LiveChart:
    """Sliders, a chart under them, and a caption under the chart.

    Draw with ``figure()``, then hand the figure and a caption to ``show()``; the chart in
    the page changes in place. ``caption`` holds the last caption shown, so code (and
    tests) can read what the chart is of.
    """

    def __init__(self, *controls: widgets.Widget, width: float = 12, height: float = 4) -> None:
        if not all(isinstance(control, widgets.Widget) for control in controls):
            raise TypeError("controls must be ipywidgets widgets, such as IntSlider")
        if not (0 < width <= 40 and 0 < height <= 40):
            raise ValueError(f"width and height must be from 0 to 40 inches, got {width} and {height}")
        self.size = (width, height)
        for control in controls:  # wide enough to pick any of 200 values with a mouse
            control.layout.width = "36em"
            control.style.description_width = "7em"
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.widget = widgets.VBox([*controls, self.image, self.text])
        self.caption = ""

    def figure(self, ncols: int = 1) -> tuple[Figure, list]:
        """A fresh figure of the chart's size with ``ncols`` axes side by side, and those axes."""
        if ncols < 1:
            raise ValueError(f"ncols must be >= 1, got {ncols}")
        figure = Figure(figsize=self.size, layout="constrained")
        return figure, list(figure.subplots(1, ncols, squeeze=False)[0])

    def show(self, figure: Figure, caption: str) -> None:
        """Put ``figure`` in place of the chart and ``caption`` under it."""
        if not isinstance(figure, Figure):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        self.caption = caption
        self.text.value = f"<p>{html.escape(caption)}</p>"

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget, with the last chart and caption as a stand-in where widgets cannot run."""
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.caption or "(a live chart: it needs a running kernel)"
        if self.image.value:
            data["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return data

