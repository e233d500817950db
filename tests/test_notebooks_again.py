"""Every notebook run again: with the solutions in place of the exercises, and twice in one
kernel (a cell run twice still works).

Apart from ``test_notebooks.py`` so that the two files' kernels run side by side (``make test``
runs two test files at a time).
"""

import pytest

from nbrun import NOTEBOOKS, errors_in, execute, printed, tagged
from test_notebooks import EXPECTED_CHARTS


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_solutions_pass_their_checks(tmp_path, name):
    notebook = execute(NOTEBOOKS / name, tmp_path, solved=True)
    for cell in tagged(notebook, "check"):
        said = printed(cell)
        assert said.startswith("Correct"), f"{said!r} from\n{cell.source}"


@pytest.mark.parametrize("name", list(EXPECTED_CHARTS))
def test_notebook_runs_twice_in_one_kernel(tmp_path, name):
    notebook = execute(NOTEBOOKS / name, tmp_path, passes=2)
    unexpected = [output.ename for output in errors_in(notebook, lessons_too=False)]
    assert unexpected == []
