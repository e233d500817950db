"""03 · the event loop: the post's code as it was, its real errors, and each fix."""

import sys

from nbrun import LATENCY, N_REQUESTS, number, text_of


def test_03_shows_the_real_errors_and_the_fixes(executed):
    notebook = executed("03_event_loop.ipynb")
    text = text_of(notebook)
    errors = [output.evalue for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == ["This event loop is already running", "Cannot close a running event loop"]
    if sys.version_info >= (3, 11):
        assert "TypeError: Passing coroutines is forbidden, use tasks explicitly." in text
    else:
        assert "still accepts bare coroutines" in text
    assert "RuntimeError: Event loop is closed" in text
    # The asyncio.run script succeeds everywhere; the post's own script only before 3.11.
    assert text.count("--- exit code 0 ---") == (1 if sys.version_info >= (3, 11) else 2)
    assert "gather:       [0, 1, 2, 3, 4]" in text
    assert "as_completed: [1, 3, 2, 4, 0]" in text
    # One request after the failed run_until_complete queues behind the orphaned tasks.
    assert number(r"one request took ([\d.]+) s", text) > 1.5 * LATENCY
    blocked = number(r"blocked: ([\d.]+) s", text)
    awaited = number(r"awaited: ([\d.]+) s", text)
    assert blocked >= N_REQUESTS * LATENCY * 0.95 and awaited < blocked / 4
