"""`make lab`: your own copies, kept across runs, and JupyterLab started as root too."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tools import lab

PROJECT = Path(__file__).resolve().parent.parent


def test_copies_are_made_once_and_a_students_edit_is_kept(tmp_path):
    originals, copies = tmp_path / "notebooks", tmp_path / "mine"
    originals.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (originals / name).write_text("{}")
    assert lab.copy_new_notebooks(originals, copies) == ["01_a.ipynb", "02_b.ipynb"]
    (copies / "01_a.ipynb").write_text('{"edited": true}')
    (originals / "03_c.ipynb").write_text("{}")  # the teacher adds a notebook
    assert lab.copy_new_notebooks(originals, copies) == ["03_c.ipynb"]
    assert (copies / "01_a.ipynb").read_text() == '{"edited": true}'
    with pytest.raises(FileNotFoundError, match="originals must be a folder"):
        lab.copy_new_notebooks(tmp_path / "missing", copies)


def test_root_gets_allow_root_and_a_user_does_not(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    assert lab.lab_command([])[-1] == "--allow-root"
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in lab.lab_command(["--no-browser"])


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
def test_make_lab_runs_twice_in_a_row_in_a_fresh_clone(tmp_path):
    """As this machine's user (root in CI): JupyterLab starts both times (here it only prints its
    version and stops), and the second run keeps the copies the first made."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
    shutil.copytree(PROJECT / "notebooks", clone / "notebooks", dirs_exist_ok=True)  # as in this work tree
    venv = Path(sys.prefix)
    # -o: use this environment as it is, without rebuilding it for the clone's newer files.
    command = ["make", "-C", str(clone), "lab", f"VENV={venv}", "-o", str(venv / ".ready"), "LAB_ARGS=--version"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    copies = sorted(path.name for path in (clone / "my-notebooks").glob("*.ipynb"))
    assert copies == sorted(path.name for path in (PROJECT / "notebooks").glob("*.ipynb"))
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"0 notebook(s) copied in, {len(copies)} of your own copies kept" in second.stdout
    if os.geteuid() == 0:
        assert "Running as root, so JupyterLab is started with --allow-root." in second.stdout


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
def test_the_teachers_command_works_from_a_fresh_clone_with_nothing_activated(tmp_path):
    """`make room` from a fresh clone, run from another folder, with no venv on PATH."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
    venv = Path(sys.prefix)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(part for part in env["PATH"].split(os.pathsep) if not part.startswith(str(venv)))
    # The room's command binds every interface; here it is told 127.0.0.1, as a test must be.
    command = ["make", "-C", str(clone), "room", f"VENV={venv}", "-o", str(venv / ".ready"), f"ROOM_PORT={port}",
               "ROOM_HOST=127.0.0.1"]
    room = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        banner = [room.stdout.readline() for _ in range(3)]
        assert any(line.startswith("Serving") for line in banner), banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
            assert json.load(response)["served"] == 0
    finally:
        os.killpg(room.pid, signal.SIGINT)
        room.wait(timeout=30)
