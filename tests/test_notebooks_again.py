"""Every notebook run again, as a student runs it: with each exercise answered by its solution,
top to bottom, twice in one kernel. A cell run twice still works, and every check still says
"Correct" the second time (shared state and one-shot objects would show there).

Apart from ``test_notebooks.py`` so that the two files' kernels run side by side (``make test``
runs two test files at a time).
"""

import pytest

from nbrun import NOTEBOOKS, errors_in, execute, printed, tagged, verdict_line


@pytest.mark.parametrize("name", sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_with_its_solutions_runs_twice_in_one_kernel_and_passes_its_checks(tmp_path, name):
    notebook = execute(NOTEBOOKS / name, tmp_path, passes=2, solved=True)
    unexpected = [f"{output.ename}: {output.evalue}" for output in errors_in(notebook, lessons_too=False)]
    assert unexpected == []
    for cell in tagged(notebook, "check"):  # what the second pass printed
        said = printed(cell)
        assert verdict_line(said).startswith("Correct"), f"{said!r} from\n{cell.source}"
