"""A real JupyterLab, driven by a real Chromium through Playwright.

The kernel-side tests move a slider by sending the widget's comm message themselves; no front
end does that, and they cannot see what the page shows. These tests start JupyterLab on a free
port of 127.0.0.1 with a token, open the notebooks in headless Chromium, run them with the
menu, and drag sliders with the mouse.

Chromium: Debian's ``chromium`` package if it is installed (``/usr/bin/chromium``), else the
path in ``$CHROMIUM``, else Playwright's own (``python -m playwright install chromium``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import prepare, small_parameters

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LAB_START_TIMEOUT = 60
SETTINGS = {  # JupyterLab settings for the tests, beside its defaults
    # Render every cell, not only those in view, so that the page holds every prompt and output.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No offer to fetch news: its pop-up would sit over the page.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium_path() -> str | None:
    """Debian's Chromium, or $CHROMIUM; None means Playwright's own download."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium")):
        if candidate:
            return candidate
    return None


class Lab:
    """A JupyterLab server for one test session, on copies of the notebooks with small parameters."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        home = root.parent / "jupyter-home"
        self.env = {
            **os.environ,
            # A fresh Jupyter set-up: no user settings, workspaces or extensions of this machine.
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        }
        for name, values in SETTINGS.items():
            path = home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        self.process: subprocess.Popen | None = None
        self.log = root.parent / "lab.log"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def kernel(self, name: str) -> dict | None:
        """The server's record of the kernel of notebook ``name``, or None while it has none."""
        with urllib.request.urlopen(self.url("api/sessions"), timeout=5) as answer:
            sessions = json.load(answer)
        kernels = [session["kernel"] for session in sessions if session["path"] == name and session.get("kernel")]
        return kernels[0] if kernels else None

    def kernel_state(self, name: str) -> str | None:
        """The execution state of the kernel of notebook ``name``: 'starting', 'idle', 'busy'..."""
        kernel = self.kernel(name)
        return kernel["execution_state"] if kernel else None

    def kernel_id(self, name: str) -> str:
        return self.kernel(name)["id"]

    def start(self) -> None:
        with self.log.open("w") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                    "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                    "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                    f"--ServerApp.root_dir={self.root}",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                ],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {LAB_START_TIMEOUT} s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    root.mkdir()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = prepare(path, small_parameters(path.name))  # Run All in seconds
        nbformat.write(notebook, root / path.name)
    server = Lab(root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            # Chromium's own calls home fail on a closed network; they only add noise and delay.
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()
