"""A real JupyterHub on 127.0.0.1, set up as a teacher's admin would for a class.

JupyterHub (from PyPI) and its proxy, configurable-http-proxy (from npm, installed into
``.hub/`` the first time), with the authenticator and the local-process spawner that
JupyterHub documents for testing (``dummy`` and ``simple``). The hub runs the room's latency
server as one of its services, and every student's server gets ``ASYNC_BY_TIMING_SERVER``,
as the README tells an admin to set it. A student then does what a student does: logs in,
opens the README's nbgitpuller link in a browser (Chromium, through Playwright), and runs a
notebook in a kernel of their own server, through the hub's proxy, by Jupyter's REST and
websocket API, with an existing client for remote kernels (``JupyterKernelClient``, from
jupyter-kernel-client).

Used by ``tests/test_jupyterhub.py`` (ten students) and ``make bench-hub`` (thirty).
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat

PROJECT = Path(__file__).resolve().parent.parent
PROXY_FOLDER = PROJECT / ".hub"  # configurable-http-proxy's npm install; ignored by git
PASSWORD = "class"  # the dummy authenticator's one password: a hub for tests only
START_TIMEOUT = 120  # seconds for the hub, and for each student's server, to start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proxy_command() -> str:
    """configurable-http-proxy, installed with npm into ``.hub/`` the first time."""
    command = PROXY_FOLDER / "node_modules" / ".bin" / "configurable-http-proxy"
    if not command.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("the hub's proxy comes from npm, which is not installed (Node.js's npm)")
        PROXY_FOLDER.mkdir(exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(PROXY_FOLDER), "--silent", "--no-audit", "--no-fund",
                        "configurable-http-proxy@4"], check=True, timeout=600)
    return str(command)


def _get(url: str, token: str | None = None, *, method: str = "GET", body: dict | None = None) -> dict | list:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


class Hub:
    """A JupyterHub for one class, in ``folder``; students pull ``repository`` (a git URL).

    Use it as a context manager: the hub, its proxy, the room's server and every student's
    server stop when the block ends.
    """

    def __init__(self, folder: Path, repository: str, *, latency: float = 0.1) -> None:
        if not 0 < latency <= 10:
            raise ValueError(f"latency must be from 0 to 10 seconds, got {latency!r}")
        self.folder = Path(folder)
        self.repository = repository
        self.port, self.room_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.room_url = f"http://127.0.0.1:{self.room_port}"
        self.token = secrets.token_hex(16)  # the teacher's own: an admin service's token
        self.latency = latency
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "hub.log"

    def config(self) -> str:
        """The hub's configuration file, as an admin would write it for this class."""
        python = sys.executable
        singleuser = str(Path(python).parent / "jupyterhub-singleuser")
        settings = {
            "JupyterHub.ip": "127.0.0.1",
            "JupyterHub.port": self.port,
            "JupyterHub.hub_ip": "127.0.0.1",
            "JupyterHub.hub_port": free_port(),
            "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{free_port()}",
            "ConfigurableHTTPProxy.command": [proxy_command()],
            "JupyterHub.db_url": f"sqlite:///{self.folder / 'hub.sqlite'}",
            "JupyterHub.cookie_secret_file": str(self.folder / "cookie_secret"),
            "JupyterHub.authenticator_class": "dummy",
            "DummyAuthenticator.password": PASSWORD,
            "Authenticator.allow_all": True,
            "JupyterHub.spawner_class": "simple",
            "SimpleLocalProcessSpawner.home_dir_template": str(self.folder / "home" / "{username}"),
            "Spawner.cmd": [singleuser],
            "Spawner.args": ["--allow-root"] if os.geteuid() == 0 else [],
            "Spawner.default_url": "/lab",
            "Spawner.start_timeout": START_TIMEOUT,
            "Spawner.http_timeout": START_TIMEOUT,
            # What the README asks of an admin: every student's notebooks use the room's server.
            "Spawner.environment": {"ASYNC_BY_TIMING_SERVER": self.room_url},
            "JupyterHub.services": [
                {"name": "room", "command": [python, "-m", "helpers.room", "--latency", str(self.latency),
                                             "--host", "127.0.0.1", "--port", str(self.room_port)],
                 "cwd": str(PROJECT)},
                {"name": "teacher", "api_token": self.token},
            ],
            "JupyterHub.load_roles": [{"name": "teacher", "services": ["teacher"], "scopes": [
                "admin:users", "admin:servers", "tokens", "read:users", "list:users"]}],
        }
        return "".join(f"c.{name} = {value!r}\n" for name, value in settings.items())

    def __enter__(self) -> Hub:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "jupyterhub_config.py").write_text(self.config(), encoding="utf-8")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"],
                cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                _get(f"{self.url}/hub/api/", self.token)
                _get(self.room_url + "/stats")
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"the hub did not start; its log:\n{self.log.read_text()[-3000:]}") from None
                time.sleep(0.5)

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for user in self.api("/users"):  # the hub leaves local servers running when it stops
            if user.get("server"):
                try:
                    self.api(f"/users/{user['name']}/server", method="DELETE")
                except urllib.error.HTTPError:
                    pass
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()

    def api(self, path: str, *, method: str = "GET", body: dict | None = None) -> dict | list:
        """The hub's REST API, as the teacher's admin service."""
        return _get(f"{self.url}/hub/api{path}", self.token, method=method, body=body)

    def token_for(self, user: str) -> str:
        """A token that lets ``user``'s own client use ``user``'s server, as their browser does."""
        return self.api(f"/users/{user}/tokens", method="POST", body={"note": "a student's client"})["token"]

    def link(self, notebook: str) -> str:
        """The README's nbgitpuller link, for this hub and this repository."""
        folder = self.repository.rstrip("/").rsplit("/", 1)[-1]  # where nbgitpuller puts it
        query = urllib.parse.urlencode({"repo": self.repository, "branch": "main",
                                        "urlpath": f"lab/tree/{folder}/notebooks/{notebook}"})
        return f"{self.url}/hub/user-redirect/git-pull?{query}"

    def home(self, user: str) -> Path:
        return self.folder / "home" / user


def chromium_path() -> str | None:
    """Debian's Chromium, or $CHROMIUM; None means Playwright's own download."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


async def open_link(browser, hub: Hub, user: str, notebook: str) -> float:
    """A student logs in and opens the nbgitpuller link; returns the seconds from the click to
    JupyterLab at the pulled notebook's address (the student's server started, if it had not)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    context = await browser.new_context()
    context.set_default_timeout(START_TIMEOUT * 1000)  # thirty students on two cores are slow
    try:
        page = await context.new_page()
        await page.goto(f"{hub.url}/hub/login")
        await page.fill("#username_input", user)
        await page.fill("#password_input", PASSWORD)
        await page.click("#login_submit")
        await page.wait_for_url(lambda url: "/hub/login" not in url, wait_until="commit")
        start = time.perf_counter()
        # nbgitpuller sends the browser on only when the pull is done: its arrival is enough.
        arrived = f"**/user/{user}/lab/tree/**{notebook}"
        await page.goto(hub.link(notebook))
        try:
            await page.wait_for_url(arrived, wait_until="commit", timeout=START_TIMEOUT * 1000 / 2)
        except PlaywrightTimeout:
            # The hub's "server starting" page sometimes misses the moment the server is ready,
            # on a crowded machine, and stays: a student clicks the link again.
            await page.goto(hub.link(notebook))
            await page.wait_for_url(arrived, wait_until="commit")
        return time.perf_counter() - start
    finally:
        await context.close()


async def _class_opens(hub: Hub, users: list[str], notebook: str) -> list[float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            return list(await asyncio.gather(*(open_link(browser, hub, user, notebook) for user in users)))
        finally:
            await browser.close()


def class_opens(hub: Hub, users: list[str], notebook: str) -> list[float]:
    """Every student in ``users`` logs in and opens the link at once, each in a browser context
    of their own; returns each one's seconds from click to JupyterLab."""
    return asyncio.run(_class_opens(hub, users, notebook))


def class_runs(hub: Hub, users: list[str], notebook: str, parameters: dict, out: Path,
               timeout: int = 600) -> dict[str, tuple[nbformat.NotebookNode, float]]:
    """Every student runs ``notebook`` (pulled) in a kernel of their own server, all at once,
    each client in a process of its own; returns each one's executed notebook and seconds."""
    out.mkdir(parents=True, exist_ok=True)
    folder = hub.repository.rstrip("/").rsplit("/", 1)[-1]
    started: dict[str, subprocess.Popen] = {}
    for user in users:
        command = [sys.executable, "-m", "tools.hub", f"{hub.url}/user/{user}/", f"{folder}/notebooks/{notebook}",
                   str(out / f"{user}.ipynb"), "--parameters", json.dumps(parameters)]
        started[user] = subprocess.Popen(
            command, cwd=PROJECT, env={**os.environ, "HUB_STUDENT_TOKEN": hub.token_for(user)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    results = {}
    for user, process in started.items():
        output, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise RuntimeError(f"{user}'s run failed:\n{output.decode(errors='replace')[-3000:]}")
        notebook = nbformat.read(out / f"{user}.ipynb", as_version=4)
        results[user] = (notebook, notebook.metadata["seconds_to_run"])
    return results


def run_notebook(server: str, token: str, path: str, parameters: dict, timeout: int = 300) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a new kernel of the Jupyter server at ``server``, as
    JupyterLab opens it (a session beside the notebook), cell by cell, and return it with its
    outputs. The kernel is reached through the hub's proxy, by Jupyter's REST and websocket
    API, with an existing client for remote kernels (jupyter-kernel-client)."""
    from jupyter_kernel_client import JupyterKernelClient

    from tools.notebooks import prepare

    model = _get(f"{server}/api/contents/{urllib.parse.quote(path)}", token)
    with tempfile.TemporaryDirectory() as folder:  # papermill reads a notebook from a file
        pulled = Path(folder) / Path(path).name
        pulled.write_text(json.dumps(model["content"]), encoding="utf-8")
        notebook = prepare(pulled, parameters)
    session = _get(f"{server}/api/sessions", token, method="POST",
                   body={"path": path, "type": "notebook", "kernel": {"name": "python3"}})
    # The token goes in a header on the websocket too: JupyterHub takes one in a websocket's URL
    # only from a browser (it asks for the Sec-Fetch-Mode header that browsers send).
    kernel = JupyterKernelClient(server_url=server.rstrip("/"), token=token, kernel_id=session["kernel"]["id"],
                                 headers={"Authorization": f"token {token}"})
    try:
        kernel.start()
        # Wait until the kernel answers on both its shell and IOPub channels, as JupyterLab does
        # before it runs a cell: on a crowded machine a new kernel may still be starting, and a
        # request sent before it listens is lost.
        if kernel.kernel_info is None:
            raise RuntimeError(f"the kernel of {path} did not answer")
        for cell in notebook.cells:
            if cell.cell_type == "code":
                demonstration = "raises-exception" in cell.metadata.get("tags", [])
                reply = kernel.execute(cell.source, timeout=timeout, stop_on_error=not demonstration)
                cell.outputs = [nbformat.from_dict(output) for output in reply["outputs"]]
                cell.execution_count = reply["execution_count"]
    finally:
        kernel.stop(shutdown_kernel=False)
        _get(f"{server}/api/sessions/{session['id']}", token, method="DELETE")  # and its kernel
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one notebook in a student's kernel through the hub.")
    parser.add_argument("server", help="the student's server, e.g. http://127.0.0.1:8000/user/alice/")
    parser.add_argument("path", help="the notebook's path in the student's home")
    parser.add_argument("output", type=Path, help="where the executed notebook is written")
    parser.add_argument("--parameters", default="{}", help="parameters as JSON, e.g. '{\"N_REQUESTS\": 6}'")
    args = parser.parse_args()
    token = os.environ["HUB_STUDENT_TOKEN"]  # not on the command line, where ps shows it
    start = time.perf_counter()
    notebook = run_notebook(args.server, token, args.path, json.loads(args.parameters))
    notebook.metadata["seconds_to_run"] = time.perf_counter() - start  # session, kernel and every cell
    nbformat.write(notebook, args.output)


if __name__ == "__main__":
    main()
