"""What a block of code costs the process: its peak thread count and how much its memory grew.

Notebook 05 compares a thousand requests on a thousand threads with a thousand coroutines on
one thread. Both finish in about the same time; the difference is in what they hold while
they run, and that is over by the time the block ends. So a sampler thread reads the process's
thread count and resident memory every few milliseconds while the block runs, and keeps the
peaks::

    with track_resources("1,000 threads") as tracked:
        ...  # the requests
    print(tracked.usage)  # 1,000 threads: peak 1,003 threads (3 before), memory +38.2 MiB

The numbers come from psutil, which reads them the same way on Linux, macOS and Windows.
"""

from __future__ import annotations

import dataclasses
import threading

import psutil

MIB = 2**20


@dataclasses.dataclass(frozen=True)
class ResourceUsage:
    """The peaks one tracked block reached, against the process as it was before the block.

    ``peak_threads`` counts every thread of the process at the busiest moment (the main thread
    and the kernel's own included, the sampler not). ``memory_growth_mib`` is the peak resident
    memory (RSS) minus the RSS before the block: memory the block really touched, not merely
    reserved.
    """

    label: str
    threads_before: int
    peak_threads: int
    memory_growth_mib: float

    def __str__(self) -> str:
        return (
            f"{self.label}: peak {self.peak_threads:,} threads ({self.threads_before:,} before), "
            f"memory +{self.memory_growth_mib:.1f} MiB"
        )


class ResourceTracker:
    """Samples the process from its own thread while a ``with`` block runs; see ``track_resources``."""

    def __init__(self, label: str, interval: float) -> None:
        self.label = label
        self.interval = interval
        self.usage: ResourceUsage | None = None
        self._process = psutil.Process()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="resource-sampler", daemon=True)
        self._threads_before = 0
        self._rss_before = 0
        self._peak_threads = 0
        self._peak_rss = 0

    def _read(self) -> tuple[int, int]:
        """Threads (without the sampler) and resident bytes, read together."""
        with self._process.oneshot():
            threads = self._process.num_threads()
            rss = self._process.memory_info().rss
        return threads - (1 if self._sampler.is_alive() else 0), rss

    def _sample(self) -> None:
        """Read until the block ends, then once more: a block shorter than a sample is still seen.

        The last reading is taken here, by the sampler, and not after ``join()``: a joined thread
        may still exist in the operating system for a moment, and would be counted.
        """
        while True:
            ending = self._done.is_set()
            threads, rss = self._read()
            self._peak_threads = max(self._peak_threads, threads)
            self._peak_rss = max(self._peak_rss, rss)
            if ending:
                return
            self._done.wait(self.interval)

    def __enter__(self) -> ResourceTracker:
        if self._sampler.ident is not None:
            raise RuntimeError(f"tracker {self.label!r} has already been used; start a new track_resources")
        self._threads_before, self._rss_before = self._read()
        self._peak_threads, self._peak_rss = self._threads_before, self._rss_before
        self._sampler.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._sampler.join()
        self.usage = ResourceUsage(
            label=self.label,
            threads_before=self._threads_before,
            peak_threads=self._peak_threads,
            memory_growth_mib=(self._peak_rss - self._rss_before) / MIB,
        )


def track_resources(label: str, *, interval: float = 0.005) -> ResourceTracker:
    """A tracker to use as ``with track_resources(label) as tracked:``; read ``tracked.usage`` after.

    ``interval`` is the time between samples in seconds: short enough to catch a peak that lasts
    one request's latency, long enough that the sampler itself costs next to nothing.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.001 <= interval <= 1:
        raise ValueError(f"interval must be a number of seconds from 0.001 to 1, got {interval!r}")
    return ResourceTracker(label, float(interval))
