"""01 · the sync loop: about N x latency, and a live chart that redraws."""

import re

from nbrun import LATENCY, N_REQUESTS, check_live_redraw, number, slide_and_read, text_of


def test_01_sync_total_is_about_n_times_latency(executed):
    text = text_of(executed("01_sync_loop.ipynb"))
    assert len(re.findall(r"^200 :  \d", text, re.MULTILINE)) == 1 + 2 * N_REQUESTS
    totals = [float(total) for total in re.findall(r"^total: ([\d.]+)", text, re.MULTILINE)]
    assert len(totals) == 2
    ideal = N_REQUESTS * LATENCY
    for total in totals:
        assert ideal <= total < ideal * 1.5 + 0.5
    assert number(r"the program spent ([\d.]+)% of its time waiting", text) > 50


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read("01_sync_loop.ipynb", tmp_path, "")
    check_live_redraw(notebook, seen, r"total (?P<total>[\d.]+) s", ideal=3 * LATENCY)
