"""The series on a JupyterHub: pulled by nbgitpuller into an image built by repo2docker.

On a hub (or a Binder), the image is built from the repository with repo2docker's conventions:
the Python of runtime.txt, requirements.txt, and (since repo2docker 2025.12, because
pyproject.toml makes the repository a package) the project itself, not editable. nbgitpuller
then pulls the repository into each student's home. The notebooks import helpers from their own
folder (notebooks/helpers links to ../helpers), which comes first on a kernel's path, so they
use the pulled copy whether the image installed one or not. Here the image is checked as
repo2docker renders it, without Docker, and the hub's layout is simulated: a copy of the
repository, and a kernel whose Python sees the installed packages but not this project.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nbrun import errors_in, text_of
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
    assert errors_in(notebook) == []
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


def image_plan() -> tuple[str, str, str]:
    """(buildpack, Python version, Dockerfile) that repo2docker picks for the current folder.

    The steps of ``repo2docker --no-build``: the first of its buildpacks that recognises the
    repository renders the Dockerfile it would build. No Docker engine is needed for that.
    """
    from repo2docker.app import Repo2Docker

    app = Repo2Docker()
    buildpack = next(picked for picked in (kind(base_image=app.base_image) for kind in app.buildpacks)
                     if picked.detect())
    buildpack.platform = app.platform
    dockerfile = buildpack.render({"NB_USER": "jovyan", "NB_UID": "1000"})
    return type(buildpack).__name__, buildpack.python_version, dockerfile


@pytest.mark.filterwarnings("ignore:pythonjsonlogger.jsonlogger has been moved:DeprecationWarning")
def test_repo2docker_builds_an_image_with_runtime_txts_python_and_requirements_txt(tmp_path, monkeypatch):
    copy = committed_copy(tmp_path / "async-by-timing")
    monkeypatch.chdir(copy)
    buildpack, python, dockerfile = image_plan()
    assert buildpack == "PythonBuildPack"  # requirements.txt, not a conda environment.yml
    assert f"python-{python}" == (copy / "runtime.txt").read_text(encoding="utf-8").strip()
    installs = [line.split("pip install", 1)[1].split() for line in dockerfile.splitlines() if "pip install" in line]
    # requirements.txt, then the project as a package, never editable: pyproject.toml has a
    # [project] and a [build-system], which is what makes repo2docker install it.
    assert [[arg for arg in args if arg != "--no-cache-dir"] for args in installs] == [
        ["-r", '"requirements.txt"'], ["."]]
    assert [line for line in dockerfile.splitlines() if line.startswith("RUN ./")] == []  # no postBuild


def imported_packages(source: str) -> set[str]:
    """The top-level names that ``source`` imports, other than the standard library's and helpers.

    Code this Python cannot read imports nothing here: 07 swaps its 3.11+ cells on 3.10 unread.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"helpers"}


def code_of(path: Path) -> list[str]:
    """A module's source, or each code cell of a notebook without its IPython magics and shell lines."""
    if path.suffix != ".ipynb":
        return [path.read_text(encoding="utf-8")]
    return ["\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def requirements_in(path: Path) -> list[Requirement]:
    lines = (line.partition("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line]


def installed_with(requirements: list[Requirement]) -> set[str]:
    """The distributions that installing ``requirements`` brings here: theirs and their dependencies'."""
    names, pending = set(), [wanted for wanted in requirements if wanted.marker is None or wanted.marker.evaluate()]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name not in names:
            names.add(name)
            pending += [dependency for dependency in map(Requirement, metadata.requires(name) or [])
                        if dependency.marker is None or dependency.marker.evaluate({"extra": ""})]
    return names


def test_requirements_txt_installs_every_package_the_notebooks_and_helpers_import():
    # The hub kernel above sees this environment, which holds more than requirements.txt
    # (the test tools, the classroom extra): this checks that requirements.txt alone is enough.
    requirements = requirements_in(REPOSITORY / "requirements.txt")
    installed = installed_with(requirements)
    named = {canonicalize_name(requirement.name) for requirement in requirements}  # async-timeout: 3.10 only
    providers = metadata.packages_distributions()
    paths = [*(REPOSITORY / "notebooks").glob("*.ipynb"), *(REPOSITORY / "helpers").glob("*.py")]
    missing = {f"{package} ({path.relative_to(REPOSITORY)})" for path in paths for code in code_of(path)
               for package in imported_packages(code)
               if canonicalize_name(package) not in named
               and not any(canonicalize_name(dist) in installed for dist in providers.get(package, []))}
    assert not missing, f"imported but not installed by requirements.txt: {sorted(missing)}"
