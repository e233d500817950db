"""The series on a JupyterHub: pulled by nbgitpuller into an image built from requirements.txt.

On a hub, an image is built from the repository with repo2docker's conventions, which install
requirements.txt and nothing else; nbgitpuller then pulls the repository into each student's
home. The helpers package is not installed there, so it must be found from the notebooks'
own folder. Here that layout is simulated: a copy of the repository, and a kernel whose Python
sees every package of requirements.txt but not this project's own (editable) installation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from nbrun import text_of
from tools.notebooks import client_for, prepare, small_parameters

REPOSITORY = Path(__file__).resolve().parent.parent


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def committed_copy(destination: Path) -> Path:
    """A clone of the repository as committed, as nbgitpuller would pull it (no .venv, no build)."""
    git("clone", "--quiet", "--no-hardlinks", str(REPOSITORY), str(destination), cwd=REPOSITORY)
    return destination


@pytest.fixture
def hub_kernel(tmp_path, monkeypatch):
    """A kernel named 'hub': a Python that sees the installed packages but not the project itself."""
    venv = tmp_path / "hub-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # A path in a .pth file adds that folder, but the .pth files inside it are not read: so the
    # editable install's finder, which is one, stays out, as it would be on the hub.
    (site / "image.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    spec = tmp_path / "jupyter" / "kernels" / "hub"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hub", "language": "python",
    }), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    probe = subprocess.run([str(python), "-c", "import helpers"], capture_output=True, text=True, cwd=tmp_path)
    assert "No module named 'helpers'" in probe.stderr  # the project really is not installed there
    return "hub"


def test_a_notebook_runs_from_a_pulled_copy_with_only_the_requirements_installed(tmp_path, hub_kernel):
    copy = committed_copy(tmp_path / "student" / "async-by-timing")
    notebooks = copy / "notebooks"
    notebook = prepare(notebooks / "02_coroutines.ipynb", small_parameters("02_coroutines.ipynb"))
    notebook.cells.append(nbformat.v4.new_code_cell("import helpers\nprint('helpers from', helpers.__file__)"))
    client = client_for(notebook, notebooks, timeout=300)
    client.kernel_name = hub_kernel
    client.execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    text = text_of(notebook)
    assert f"helpers from {notebooks / 'helpers' / '__init__.py'}" in text
    assert "the live chart shows" in text


def test_nbgitpuller_keeps_a_students_edits_and_brings_the_teachers_updates(tmp_path):
    from nbgitpuller.pull import GitPuller

    teacher = committed_copy(tmp_path / "teacher")
    git("config", "user.email", "teacher@example.invalid", cwd=teacher)
    git("config", "user.name", "Teacher", cwd=teacher)
    branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=teacher).strip()
    student = tmp_path / "student" / "async-by-timing"

    def pull() -> None:
        for _ in GitPuller(str(teacher), str(student), branch=branch, depth=None).pull():
            pass

    pull()
    edited, updated = student / "notebooks" / "01_sync_loop.ipynb", "notebooks/02_coroutines.ipynb"
    notebook = nbformat.read(edited, as_version=4)
    notebook.cells[2].source = notebook.cells[2].source.replace("N_REQUESTS = 20", "N_REQUESTS = 7")
    nbformat.write(notebook, edited)  # the student's edit, unsaved in git, as JupyterLab leaves it

    lesson = nbformat.read(teacher / updated, as_version=4)
    lesson.cells[0].source += "\n\nAn update from the teacher."
    nbformat.write(lesson, teacher / updated)
    git("commit", "--quiet", "-am", "an update to 02", cwd=teacher)
    pull()

    assert "N_REQUESTS = 7" in nbformat.read(edited, as_version=4).cells[2].source
    assert nbformat.read(student / updated, as_version=4).cells[0].source.endswith("An update from the teacher.")
