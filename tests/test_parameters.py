"""Every notebook's parameters: a mistyped value stops the set-up cell in one line, and a long
run says how long it will take before it starts (issue 21).

Apart from ``test_notebooks.py`` so that the two files' kernels run side by side (``make test``
runs two test files at a time).
"""

import pytest

from nbrun import NOTEBOOKS, printed, run_until_set_up

ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


BAD_PARAMETERS = [  # two a notebook, so that each of the common mistakes is tried somewhere
    ({"N_REQUESTS": "20"}, "N_REQUESTS must be a whole number from 1 to 1,000, got '20' (a string: remove the quotes)"),
    ({"N_REQUESTS": 0}, "N_REQUESTS must be a whole number from 1 to 1,000, got 0"),
    ({"LATENCY": -1}, "LATENCY must be a number of seconds"),
    ({"URL": "example.com"}, "URL must be None (the local server)"),
    ({"PATIENCE": 0}, "PATIENCE must be a number of seconds"),
    ({"N_REQUESTS": 20.0}, "(a float: write 20)"),
    ({"LATENCY": "0.3"}, "(a string: remove the quotes)"),
]


@pytest.mark.parametrize("position, path", list(enumerate(ALL)), ids=lambda value: getattr(value, "name", ""))
def test_a_mistyped_parameter_stops_the_set_up_cell_with_one_line(tmp_path, position, path):
    for parameters, expected in (BAD_PARAMETERS[position], BAD_PARAMETERS[(position + 3) % len(BAD_PARAMETERS)]):
        notebook, set_up, failed = run_until_set_up(path, tmp_path, parameters)
        assert failed == set_up, f"{parameters}: stopped at cell {failed}, not at the set-up cell {set_up}"
        (error,) = [output for output in notebook.cells[set_up].outputs if output.output_type == "error"]
        assert error.ename == "ParameterError"
        assert len(error.traceback) == 1 and expected in error.traceback[0], error.traceback


LONG_RUN_EXTRA = {"04_keyword_wrapper.ipynb": {"TIMEOUT": 20}}  # 04 wants its timeout above the latency


@pytest.mark.parametrize("path", ALL, ids=lambda path: path.name)
def test_a_long_run_says_how_long_before_it_starts(tmp_path, path):
    long = {"N_REQUESTS": 1000, "LATENCY": 10, **LONG_RUN_EXTRA.get(path.name, {})}
    notebook, set_up, failed = run_until_set_up(path, tmp_path, long)
    assert failed == -1
    assert "This will take about" in printed(notebook.cells[set_up])
