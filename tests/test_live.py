"""LiveChart: the chart a slider redraws, and the stand-in a page without a kernel shows."""

import base64

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

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
