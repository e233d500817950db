"""Execute the series' notebooks headless, with nbclient, immune to the widget stall.

Everything that runs a notebook without a browser goes through here: the tests, ``make run``
and the stall benchmark. Parameters are injected by papermill into the cell tagged
``parameters``; nbclient executes the cells and honours the ``raises-exception`` tag, so a
demonstrated error shows its real message without stopping the run.

The stall (jupyter/nbclient#312, open, and its unmerged fix jupyter/nbclient#311): now and
then, after a cell that displays widgets, nbclient's wait for the cell's reply misses the
wake-up for a reply that has already arrived, and sits until the cell's whole timeout runs
out (600 s in ``make run``); then a fresh look finds the reply, and the run goes on as if
nothing had happened. ``PatientChannel`` waits in short slices instead of one long wait: each
slice ends with a fresh look, so a missed wake-up costs at most one slice. The channel class
is a setting of jupyter_client's kernel client, and the client class a setting of its kernel
manager, so nbclient itself is used as it is.

    python -m tools.notebooks build notebooks/*.ipynb          # execute into build/
    python -m tools.notebooks build notebooks/01_sync_loop.ipynb -p N_REQUESTS 5
"""

from __future__ import annotations

import argparse
import ast
import atexit
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from traitlets import Type
from traitlets.config import Config

SLICE = 0.5  # seconds: the longest a missed wake-up can delay a reply
CELL_TIMEOUT = 600  # seconds a cell may run before the run fails
# Small parameters, for runs that check the notebooks rather than read them: seconds, not minutes.
SMALL = {"N_REQUESTS": 12, "LATENCY": 0.1}
SMALL_EXTRA = {"05_scaling.ipynb": {"SWEEP": [1, 3, 12], "SYNC_MAX": 12, "BIG_N": 200, "JITTER": 0.2}}


class PatientChannel(AsyncZMQSocketChannel):
    """A kernel channel whose long waits are made of short ones, each ending in a fresh look."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE if deadline is None else min(SLICE, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=max(left, 0))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class PatientKernelClient(AsyncKernelClient):
    """The asynchronous kernel client nbclient uses, with patient shell and IOPub channels."""

    shell_channel_class = Type(PatientChannel)
    iopub_channel_class = Type(PatientChannel)


def prepare(path: Path, parameters: Mapping[str, Any] | None = None) -> nbformat.NotebookNode:
    """The notebook at ``path``, with ``parameters`` injected after its ``parameters`` cell."""
    if not parameters:
        return nbformat.read(path, as_version=4)
    return parameterize_notebook(load_notebook_node(str(path)), dict(parameters))


def small_parameters(name: str) -> dict[str, Any]:
    """The small parameters for the notebook called ``name``."""
    return {**SMALL, **SMALL_EXTRA.get(name, {})}


@functools.cache
def _ipc_folder() -> Path:
    """A private folder for the kernels' sockets, removed when this process exits."""
    folder = Path(tempfile.mkdtemp(prefix="async-by-timing-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def client_for(
    notebook: nbformat.NotebookNode, cwd: Path, *, timeout: int = CELL_TIMEOUT, patient: bool = True
) -> NotebookClient:
    """An nbclient ``NotebookClient`` for ``notebook``, run in ``cwd`` by a patient kernel client.

    ``patient=False`` keeps nbclient's own kernel client, and nothing else different, so that
    ``make bench-stall ARGS=--plain`` compares the two clients alone.
    """
    if timeout < 1:
        raise ValueError(f"timeout must be >= 1 second, got {timeout}")
    config = Config()
    if patient:
        config.AsyncKernelManager.client_class = f"{__name__}.PatientKernelClient"
    if os.name == "posix":
        # Local sockets instead of TCP on 127.0.0.1: nothing else on the machine can reach the
        # kernel, and ipykernel 7 stops warning, on every start, that TCP is unencrypted.
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(_ipc_folder() / "kernel")
    # "immediate": the kernel is stopped at once when the run ends. A graceful stop waits about
    # 2.5 s a notebook here and saves nothing: what a notebook starts (its latency server)
    # ends with the kernel process either way.
    return NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", config=config, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
    )


def execute(path: Path, out_dir: Path, parameters: Mapping[str, Any] | None = None,
            *, timeout: int = CELL_TIMEOUT) -> Path:
    """Execute the notebook at ``path`` top to bottom, in ``out_dir``, and save it there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = prepare(path, parameters)
    client_for(notebook, out_dir, timeout=timeout).execute()
    written = out_dir / path.name
    nbformat.write(notebook, written)
    return written


def _parameter(text: str) -> Any:
    """A parameter's value as written on the command line: a Python literal, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where the executed notebooks are written")
    parser.add_argument("notebooks", type=Path, nargs="+", help="the notebooks to execute, in order")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter to inject, e.g. -p N_REQUESTS 5")
    args = parser.parse_args()
    parameters = {name: _parameter(value) for name, value in args.parameter}
    for path in args.notebooks:
        start = time.perf_counter()
        execute(path, args.out_dir, parameters)
        print(f"{path.name}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
