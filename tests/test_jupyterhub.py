"""A class on a real JupyterHub: ten students at once, through the hub, as the README tells it.

The hub (``tools/hub.py``) runs on 127.0.0.1 with JupyterHub's testing authenticator and local
spawner, its real proxy, and the room's latency server as a hub service; its admin sets
``ASYNC_BY_TIMING_SERVER`` for every student. Each student logs in and opens the README's
nbgitpuller link in Chromium, then runs notebook 02 in a kernel of their own server, through
the proxy. The teacher's repository is a clone of this one as committed.

Run with ``make test-hub`` (it needs Chromium and npm, as ``make test-browser`` needs Chromium).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from nbrun import errors_in
from tools.hub import Hub, chromium_path, class_opens, class_runs
from tools.notebooks import small_parameters

pytestmark = pytest.mark.hub

REPOSITORY = Path(__file__).resolve().parent.parent
STUDENTS = [f"student{number:02d}" for number in range(1, 11)]
NOTEBOOK = "02_coroutines.ipynb"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def contents(hub: Hub, user: str, path: str, token: str, *, body: dict | None = None) -> dict:
    """A file in the student's server, read (or saved, with ``body``) as JupyterLab does."""
    request = urllib.request.Request(f"{hub.url}/user/{user}/api/contents/{path}", method="PUT" if body else "GET",
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if shutil.which("npm") is None or chromium_path() is None:
        pytest.skip("the hub test needs npm (for the hub's proxy) and Chromium (the students' browser)")
    folder = tmp_path_factory.mktemp("class")
    teachers = folder / "async-by-timing"  # the teacher's repository, as pushed
    git("clone", "--quiet", "--bare", str(REPOSITORY), str(teachers), cwd=folder)
    with Hub(folder / "hub", f"file://{teachers}") as running:
        yield running


@pytest.fixture(scope="module")
def class_session(hub, tmp_path_factory):
    """Every student opens the link and runs 02, all at once."""
    opened = class_opens(hub, STUDENTS, NOTEBOOK)
    runs = class_runs(hub, STUDENTS, NOTEBOOK, small_parameters(NOTEBOOK), tmp_path_factory.mktemp("runs"))
    return opened, runs


def test_every_student_opens_the_link_and_gets_the_notebooks(hub, class_session):
    opened, _ = class_session
    assert len(opened) == len(STUDENTS)
    for user in STUDENTS:
        pulled = hub.home(user) / "async-by-timing" / "notebooks"
        assert sorted(path.name for path in pulled.glob("*.ipynb")) == sorted(
            path.name for path in (REPOSITORY / "notebooks").glob("*.ipynb"))


def test_every_students_notebook_runs_without_error_through_the_hub(class_session):
    _, runs = class_session
    for user, (notebook, _) in runs.items():
        unexpected = [f"{error.ename}: {error.evalue}" for error in errors_in(notebook, lessons_too=False)]
        assert unexpected == [], f"{user}: {unexpected}"
        outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
        assert any("image/png" in output.get("data", {}) for output in outputs), f"{user} drew no chart"


def test_the_room_server_counts_each_student_apart_under_their_name(hub, class_session):
    """What a teacher reads in ``/stats/clients``: each student's notebook, by the hub user's name,
    with every request it sent (a notebook's own resets of its counts do not touch these)."""
    _, runs = class_session
    with urllib.request.urlopen(f"{hub.room_url}/stats/clients", timeout=10) as response:
        clients = json.load(response)
    for user, (notebook, _) in runs.items():
        printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                          for output in cell.outputs)
        (name,) = set(re.findall(r"client=([A-Za-z0-9_-]+)", printed))
        assert name.startswith(f"{user}-02_coroutines-"), name  # a teacher reads who it is
        assert clients[name]["served"] >= small_parameters(NOTEBOOK)["N_REQUESTS"], (user, clients[name])
    with urllib.request.urlopen(f"{hub.room_url}/stats", timeout=10) as response:
        room = json.load(response)
    assert room["served"] >= len(STUDENTS) * small_parameters(NOTEBOOK)["N_REQUESTS"]


def test_the_teachers_next_commit_reaches_a_student_and_the_students_edit_survives(hub, class_session, tmp_path):
    user = STUDENTS[0]
    token = hub.token_for(user)
    mine = "async-by-timing/notebooks/01_sync_loop.ipynb"
    edited = contents(hub, user, mine, token)
    edited["content"]["cells"][0]["source"] += "\n\nMy own note."
    contents(hub, user, mine, token, body={"type": "notebook", "format": "json", "content": edited["content"]})

    work = tmp_path / "teacher"  # the teacher's next commit, pushed
    git("clone", "--quiet", hub.repository.removeprefix("file://"), str(work), cwd=tmp_path)
    readme = work / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA new line from the teacher.\n", encoding="utf-8")
    git("-c", "user.name=Teacher", "-c", "user.email=teacher@example.invalid", "commit", "--quiet", "-am",
        "a new line", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)

    class_opens(hub, [user], NOTEBOOK)  # the next click on the same link
    assert contents(hub, user, "async-by-timing/README.md", token)["content"].endswith("A new line from the teacher.\n")
    assert contents(hub, user, mine, token)["content"]["cells"][0]["source"].endswith("My own note.")
