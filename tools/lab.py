"""Start JupyterLab on your own copies of the notebooks: ``make lab``, or without make
``python -m tools.lab`` (with the project's environment's Python).

JupyterLab saves outputs into the notebooks it runs, so it runs copies in ``my-notebooks/``
(ignored by git): the lessons stay clean, and ``git pull`` updates them without conflicts. A
notebook new to the series is copied in; a copy you already have is never overwritten, so
running this again and again keeps your work.

As root (in Docker, some WSL set-ups, a CI machine), JupyterLab refuses to start unless told
``--allow-root``; this passes it, and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
ORIGINALS = PROJECT / "notebooks"
COPIES = PROJECT / "my-notebooks"


def copy_new_notebooks(originals: Path = ORIGINALS, copies: Path = COPIES) -> list[str]:
    """Copy each notebook in ``originals`` that ``copies`` lacks; return the names copied."""
    if not originals.is_dir():
        raise FileNotFoundError(f"originals must be a folder of notebooks, got {originals}")
    copies.mkdir(exist_ok=True)
    copied = []
    for notebook in sorted(originals.glob("*.ipynb")):
        target = copies / notebook.name
        if not target.exists():
            shutil.copyfile(notebook, target)
            copied.append(notebook.name)
    return copied


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(extra: list[str]) -> list[str]:
    """The command that starts JupyterLab on the copies, with ``--allow-root`` as root."""
    command = [sys.executable, "-m", "jupyterlab", str(COPIES), *extra]
    if running_as_root():
        command.append("--allow-root")
    return command


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    copied = copy_new_notebooks()
    kept = len(list(COPIES.glob("*.ipynb"))) - len(copied)
    print(f"my-notebooks/: {len(copied)} notebook(s) copied in, {kept} of your own copies kept as they are.")
    if running_as_root():
        print("Running as root, so JupyterLab is started with --allow-root.")
    return subprocess.call(lab_command(extra))


if __name__ == "__main__":
    sys.exit(main())
