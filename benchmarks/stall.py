"""`make bench-stall`: each slider notebook executed headless many times, its wall times tabled.

A headless run of a notebook that displays widgets could stall: nbclient missed the reply to a
cell and sat out the cell's whole timeout (jupyter/nbclient#312; see ``tools/notebooks.py``).
A stall is rare, so it shows only over many runs, as a run far slower than the rest. This
executes each slider notebook ``--runs`` times through ``tools.notebooks`` (what the tests and
``make run`` use), with the tests' small parameters and a cell timeout of ``--timeout`` seconds,
and prints the distribution of wall times per notebook. Pass: no run over twice the median.

    python -m benchmarks.stall                   # 30 runs of each, about 15 minutes on 2 CPUs
    python -m benchmarks.stall --runs 5 --timeout 60
    python -m benchmarks.stall --plain 02_coroutines.ipynb   # without the fix, to compare
    make bench-stall ARGS="--plain 02_coroutines.ipynb"      # the same through make
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench import percentile

from tools.notebooks import client_for, prepare, small_parameters

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SLIDER_NOTEBOOKS = ("01_sync_loop.ipynb", "02_coroutines.ipynb", "05_scaling.ipynb")


def time_runs(name: str, runs: int, timeout: int, plain: bool) -> list[float]:
    """Wall seconds of each headless run of notebook ``name``, kernel start to shutdown."""
    seconds = []
    for _ in range(runs):
        notebook = prepare(NOTEBOOKS / name, small_parameters(name))
        with tempfile.TemporaryDirectory() as folder:
            client = client_for(notebook, Path(folder), timeout=timeout, patient=not plain)
            start = time.perf_counter()
            client.execute()
            seconds.append(time.perf_counter() - start)
        print(f"  {name} run {len(seconds)}: {seconds[-1]:.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each notebook (default 30)")
    parser.add_argument("--timeout", type=int, default=100, help="cell timeout in seconds (default 100)")
    parser.add_argument("--plain", action="store_true",
                        help="use nbclient's own kernel client, without the patient channels, to compare")
    parser.add_argument("notebooks", nargs="*", default=SLIDER_NOTEBOOKS, help="which notebooks (default: 01, 02, 05)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    rows = []
    for name in args.notebooks:
        seconds = time_runs(name, args.runs, args.timeout, args.plain)
        median = statistics.median(seconds)
        rows.append(
            f"| {name} | {len(seconds)} | {min(seconds):.1f} s | {median:.1f} s | {percentile(seconds, 0.9):.1f} s "
            f"| {max(seconds):.1f} s | {max(seconds) / median:.2f} | {'yes' if max(seconds) <= 2 * median else 'NO'} |"
        )
    client = "nbclient's own kernel client" if args.plain else "tools.notebooks"
    print(f"\nEach notebook executed headless {args.runs} times by {client} (cell timeout {args.timeout} s):\n")
    print("| notebook | runs | fastest | median | p90 | slowest | slowest / median | no run over 2x median |")
    print("|---|---:|---:|---:|---:|---:|---:|:---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
