"""Thirty students on a real JupyterHub, running 02 and then 05: what a hub host needs.

The hub of ``tools/hub.py`` (127.0.0.1, JupyterHub's local spawner, its real proxy, the room's
latency server as a hub service). All students log in and open the README's nbgitpuller link
at once, in Chromium; then all run 02 at once, each in a kernel of their own server, and then
05. Printed: the seconds from click to JupyterLab, and to the end of each notebook's run; the
memory of each student's processes (their server, its kernel and the kernel's children,
proportional set size, the peak of samples taken every second); the CPU time of the hub and
of its proxy; and the room server's peak of requests at once.

    make bench-hub                       # 30 students
    python -m benchmarks.hub_bench 10    # another class size
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import psutil

from helpers.resources import MIB
from tools.hub import Hub, class_opens, class_runs
from tools.notebooks import small_parameters

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["02_coroutines.ipynb", "05_scaling.ipynb"]


def tree_pss(pid: int) -> int:
    """The proportional set size of a process and all its descendants, in bytes."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class MemoryPeaks:
    """Samples each student's processes every second, in a thread, and keeps each one's peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for user, pid in self.pids.items():
                self.peaks[user] = max(self.peaks[user], tree_pss(pid))
            self._stop.wait(1.0)

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def spread(values: list[float], unit: str = "s") -> str:
    return f"median {statistics.median(values):.1f} {unit}, slowest {max(values):.1f} {unit}"


def main(students: int = 30) -> None:
    if not 1 <= students <= 100:
        raise SystemExit(f"students must be from 1 to 100, got {students}")
    users = [f"student{number:02d}" for number in range(1, students + 1)]
    with tempfile.TemporaryDirectory() as folder:
        teachers = Path(folder) / "async-by-timing"
        subprocess.run(["git", "clone", "--quiet", "--bare", str(PROJECT), str(teachers)], check=True)
        with Hub(Path(folder) / "hub", f"file://{teachers}") as hub:
            hub_process = psutil.Process(hub.process.pid)
            proxy = next(child for child in hub_process.children(recursive=True) if "node" in child.name())
            before = {"hub": cpu_seconds(hub_process), "proxy": cpu_seconds(proxy)}
            opened = class_opens(hub, users, NOTEBOOKS[0])
            pids = {user: hub.api(f"/users/{user}")["servers"][""]["state"]["pid"] for user in users}
            rows = [("students", str(students)), ("click to JupyterLab at the notebook", spread(opened))]
            with MemoryPeaks(pids) as memory:
                for notebook in NOTEBOOKS:
                    runs = class_runs(hub, users, notebook, small_parameters(notebook), Path(folder) / "runs")
                    rows.append((f"{notebook}: the whole notebook, all at once", spread([s for _, s in runs.values()])))
            peaks = [peak / MIB for peak in memory.peaks.values()]
            rows.append(("memory per student (server, kernel, children)", spread(peaks, "MiB")))
            rows.append(("hub's CPU", f"{cpu_seconds(hub_process) - before['hub']:.1f} s"))
            rows.append(("proxy's CPU", f"{cpu_seconds(proxy) - before['proxy']:.1f} s"))
            with urllib.request.urlopen(hub.room_url + "/stats", timeout=10) as response:
                room = json.load(response)
            rows.append(("room server: requests served, peak at once", f"{room['served']:,}, {room['peak_in_flight']}"))
    print(f"| {students} students on one hub (2-core machine) | |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\nParameters: each notebook's small ones (tools/notebooks.py SMALL), so that a class of 30 "
          "fits one machine; the hub, the proxy, the room's server, every student's server and kernel, "
          "and the 30 browsers all share its two cores.")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
