"""`make bench-memory`: the memory one student needs, notebook by notebook, to size a host.

Each notebook is executed at its defaults by ``tools.notebooks`` while a sampler reads, every
50 ms, the memory of the kernel and every process it started (the latency server, process
pools). It prints each notebook's peak, which is what a JupyterHub host must hold per student
running that notebook, on top of the Jupyter server itself. Memory is the proportional set
size (PSS) where the system reports it (Linux): a page shared by several processes, as after
a fork, counts once in all. Elsewhere it is the resident set (RSS), which counts such a page
in each process and so overstates the total.

    python -m benchmarks.memory
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import psutil

from helpers.resources import MIB
from tools.notebooks import client_for, prepare

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def tree_memory(pid: int) -> int:
    """The bytes of a process and all its descendants (PSS, else RSS); those that end meanwhile count 0."""
    total = 0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                memory = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += getattr(memory, "pss", memory.rss)
    except psutil.NoSuchProcess:
        pass
    return total


def peak_while_running(path: Path) -> tuple[float, float]:
    """(peak MiB of the kernel with its children, seconds) for one run of the notebook at ``path``."""
    notebook = prepare(path)
    with tempfile.TemporaryDirectory() as folder:
        client = client_for(notebook, Path(folder))
        peak, done = 0, threading.Event()

        def sample(pid: int) -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, tree_memory(pid))

        with client.setup_kernel():
            sampler = threading.Thread(target=sample, args=(client.km.provisioner.pid,), daemon=True)
            sampler.start()
            start = time.perf_counter()
            try:
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
            finally:
                done.set()
                sampler.join()
            seconds = time.perf_counter() - start
    return peak / MIB, seconds


def main() -> None:
    rows = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        peak, seconds = peak_while_running(path)
        rows.append(f"| {path.stem} | {peak:.0f} MiB | {seconds:.0f} s |")
        print(rows[-1], flush=True)
    print("\n| notebook, at its defaults | peak memory of the kernel and its children | Run All |")
    print("|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
