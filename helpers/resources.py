"""What a block of code costs the process: its peak thread count and how much its memory grew.

Notebook 05 compares a thousand requests on a thousand threads with a thousand coroutines on
one thread. Both finish in about the same time; the difference is in what they hold while
they run, and that is over by the time the block ends. So a sampler thread reads the process's
thread count and resident memory every few milliseconds while the block runs, and keeps the
peaks::

    with track_resources("1,000 threads") as tracked:
        ...  # the requests
    print(tracked.usage)  # 1,000 threads: peak 1,003 threads (3 before), memory +38.2 MiB

The numbers come from psutil, which gives the same two readings on Linux, macOS and Windows
(each read the operating system's own way).

Two limits that decide how much a notebook can run at once are read or raised here too:
``default_workers()``, the default thread pool's size, and ``raise_open_file_limit()``, the
number of files (sockets among them) this process may hold open.
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import psutil

try:
    import resource
except ImportError:  # Windows: no open-file limit to raise, and socket handles are not small ints
    resource = None

MIB = 2**20
# The soft limit asked for first where the hard limit reads "unlimited" (macOS reports that).
UNLIMITED_TARGET = 1 << 20


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


def default_workers() -> int:
    """How many threads the default pool has on this Python and these CPUs.

    This is the pool that ``loop.run_in_executor(None, ...)`` and ``asyncio.to_thread`` use: a
    ``ThreadPoolExecutor()`` made without ``max_workers``. Its size comes from a formula that
    changed in Python 3.13: ``min(32, (os.cpu_count() or 1) + 4)`` on 3.8 to 3.12, and
    ``min(32, (os.process_cpu_count() or 1) + 4)`` from 3.13, which counts only the CPUs this
    process may run on. So it is read from a probe pool rather than worked out: the pool keeps
    the number in ``_max_workers``, a private attribute (there is no public getter), and this
    is the one place in the series that reads it. Making a pool starts no thread.
    """
    with ThreadPoolExecutor() as probe:
        return probe._max_workers


@dataclasses.dataclass(frozen=True)
class OpenFileLimit:
    """This process's soft open-file limit before and after ``raise_open_file_limit()``.

    Both are None where there is no such limit to read (Windows). ``unlimited`` is True where
    the soft limit reads unlimited (``resource.RLIM_INFINITY``).
    """

    found: int | None
    limit: int | None

    @property
    def raised(self) -> bool:
        return self.found is not None and self.limit != self.found

    @property
    def unlimited(self) -> bool:
        return resource is not None and self.limit == resource.RLIM_INFINITY

    def __str__(self) -> str:
        if self.limit is None:
            return "no open-file limit to read here (Windows)"
        if self.unlimited:
            return "open-file limit: unlimited"
        raised = f", raised from {self.found:,}" if self.raised else ""
        return f"open-file limit {self.limit:,}{raised}"


def _max_files_per_process() -> int | None:
    """macOS's ``kern.maxfilesperproc``, the most files the kernel lets one process open; None
    elsewhere, or where it cannot be read."""
    if sys.platform != "darwin":
        return None
    try:
        libc = ctypes.CDLL(None)
        value = ctypes.c_int(0)
        size = ctypes.c_size_t(ctypes.sizeof(value))
        failed = libc.sysctlbyname(b"kern.maxfilesperproc", ctypes.byref(value), ctypes.byref(size), None,
                                   ctypes.c_size_t(0))
    except (OSError, AttributeError):
        return None
    return value.value if failed == 0 and value.value > 0 else None


def _set_soft_limit(soft: int, hard: int) -> bool:
    """Ask for a soft open-file limit of ``soft``; True if the system took it."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    except (ValueError, OSError):  # CPython raises ValueError for EINVAL and EPERM
        return False
    return True


def raise_open_file_limit() -> OpenFileLimit:
    """Raise this process's soft open-file limit as far as the system lets it go; say how far.

    Every connection is an open file. The usual soft limit (1,024 on Linux, 256 on macOS) is far
    below what a thousand requests at once need, and an unprivileged process may raise it as far
    as its hard limit (``ulimit -Hn``). macOS has one more bound, the ``kern.maxfilesperproc``
    setting (``sysctl kern.maxfilesperproc`` shows it; 10,240 is a common value, and an
    administrator may change it), while the hard limit often reads unlimited. Since macOS 11
    (XNU 7195, ``bsd/kern/kern_resource.c``) ``setrlimit`` accepts a soft limit above that
    setting and the kernel silently holds the process to the setting; before, it refused such a
    soft limit (EINVAL, which Python raises as ValueError) or lowered it. Either way, a limit
    read back above the setting would overstate what the process can open, so on macOS the
    target is the setting itself. Where a target is still refused, the highest value the system
    accepts is found by halving the gap, one call to ``setrlimit`` per halving (21 in all where
    the hard limit reads unlimited and the setting cannot be read). It never lowers the limit.
    """
    if resource is None:
        return OpenFileLimit(found=None, limit=None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return OpenFileLimit(found=soft, limit=soft)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    bound = _max_files_per_process()
    if bound is not None:
        target = min(target, bound)
    if target > soft and not _set_soft_limit(target, hard):
        accepted, refused = soft, target  # the limit stays at the last value accepted
        while refused - accepted > 1:
            middle = (accepted + refused) // 2
            if _set_soft_limit(middle, hard):
                accepted = middle
            else:
                refused = middle
    return OpenFileLimit(found=soft, limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0])
