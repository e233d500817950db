"""Resource peaks (threads started inside the block are counted, memory touched is seen), the
default pool's size, and the open-file limit."""

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from helpers import ResourceUsage, track_resources
from helpers.resources import default_workers, raise_open_file_limit

try:
    import resource
except ImportError:
    resource = None


def test_counts_the_threads_a_block_starts_even_after_they_end():
    release = threading.Event()
    with track_resources("50 threads") as tracked:
        workers = [threading.Thread(target=release.wait) for _ in range(50)]
        for worker in workers:
            worker.start()
        release.wait(0.05)  # long enough for a few samples while all 50 are alive
        release.set()
        for worker in workers:
            worker.join()
    usage = tracked.usage
    assert isinstance(usage, ResourceUsage)
    assert usage.peak_threads - usage.threads_before == 50
    assert str(usage).startswith("50 threads: peak ")


def test_an_idle_block_adds_no_threads_and_the_sampler_is_not_counted():
    with track_resources("idle") as tracked:
        threading.Event().wait(0.03)
    assert tracked.usage.peak_threads == tracked.usage.threads_before
    assert not any(thread.name == "resource-sampler" for thread in threading.enumerate())


def test_sees_memory_that_the_block_touched():
    with track_resources("64 MiB") as tracked:
        block = bytearray(64 * 2**20)  # zero-filled, so every page is really touched
        threading.Event().wait(0.03)
        del block
    assert tracked.usage.memory_growth_mib > 48


def test_an_error_in_the_block_still_stops_the_sampler_and_is_raised():
    with pytest.raises(KeyError):
        with track_resources("failing") as tracked:
            raise KeyError("boom")
    assert tracked.usage is not None
    assert not any(thread.name == "resource-sampler" for thread in threading.enumerate())


def test_a_tracker_is_used_once():
    tracked = track_resources("once")
    with tracked:
        pass
    with pytest.raises(RuntimeError, match="already been used"):
        with tracked:
            pass


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label": ""}, "label must be a non-empty string"),
        ({"label": "x", "interval": 0}, "interval must be a number of seconds from 0.001 to 1, got 0"),
        ({"label": "x", "interval": True}, "interval must be a number"),
        ({"label": "x", "interval": 5}, "interval must be a number"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        track_resources(**kwargs)


# --- the default pool's size ----------------------------------------------------------------------


def test_default_workers_is_the_size_of_the_pool_asyncio_uses_by_default():
    async def main():
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, int)  # makes the loop's default pool
        return loop._default_executor._max_workers  # private: read here only to check the helper

    assert default_workers() == asyncio.run(main())


def test_default_workers_follows_the_formula_of_this_python():
    cpus = os.process_cpu_count() if sys.version_info >= (3, 13) else os.cpu_count()
    assert default_workers() == min(32, (cpus or 1) + 4)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity (Linux)")
def test_default_workers_counts_only_the_cpus_this_process_may_use_from_313():
    """From 3.13 the pool counts the CPUs the process may run on (os.process_cpu_count)."""
    code = "import os; os.sched_setaffinity(0, {0}); from helpers.resources import default_workers; print(default_workers())"
    shown = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert shown == (5 if sys.version_info >= (3, 13) else min(32, os.cpu_count() + 4))


# --- the open-file limit ----------------------------------------------------------------------------


@pytest.mark.skipif(resource is None, reason="Unix only: Windows has no open-file limit to raise")
def test_raise_open_file_limit_goes_to_the_hard_limit_and_says_so():
    code = textwrap.dedent("""
        import resource
        from helpers.resources import raise_open_file_limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_open_file_limit()
        print(raised.found, raised.limit, hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0], raised)
    """)
    found, limit, hard, now, *words = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(limit) == int(hard) == int(now)
    if int(hard) > 256:
        assert int(found) == 256
        assert " ".join(words) == f"open-file limit {int(hard):,}, raised from 256"


class FakeLimits:
    """RLIMIT_NOFILE as a system with a bound below the hard limit enforces it (macOS's
    kern.maxfilesperproc): a soft limit above ``bound`` is refused as macOS refuses it."""

    def __init__(self, soft, hard, bound):
        self.soft, self.hard, self.bound, self.asked = soft, hard, bound, []

    def getrlimit(self, which):
        return self.soft, self.hard

    def setrlimit(self, which, limits):
        self.asked.append(limits[0])
        if limits[0] > self.bound:
            raise ValueError("current limit exceeds maximum limit")  # what CPython raises for EINVAL
        self.soft = limits[0]


@pytest.mark.skipif(resource is None, reason="Unix only")
@pytest.mark.parametrize("bound", [10_240, 24_576, 4_000])
def test_raise_open_file_limit_finds_the_highest_limit_a_system_accepts_below_unlimited(monkeypatch, bound):
    fake = FakeLimits(soft=256, hard=resource.RLIM_INFINITY, bound=bound)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    raised = raise_open_file_limit()
    assert (raised.found, raised.limit) == (256, bound)
    assert len(fake.asked) <= 21


@pytest.mark.skipif(resource is None, reason="Unix only")
def test_raise_open_file_limit_leaves_a_limit_already_at_the_hard_limit(monkeypatch):
    fake = FakeLimits(soft=20_000, hard=20_000, bound=10**9)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    raised = raise_open_file_limit()
    assert (raised.found, raised.limit, raised.raised, fake.asked) == (20_000, 20_000, False, [])
    assert str(raised) == "open-file limit 20,000"


def test_without_an_open_file_limit_it_says_so(monkeypatch):
    monkeypatch.setattr("helpers.resources.resource", None)
    raised = raise_open_file_limit()
    assert (raised.found, raised.limit, raised.raised) == (None, None, False)
    assert str(raised) == "no open-file limit to read here (Windows)"


class AcceptsAnything(FakeLimits):
    """RLIMIT_NOFILE as macOS 11 and later treat it: any soft limit up to the hard one is taken
    and read back, while the kernel holds the process to kern.maxfilesperproc."""

    def setrlimit(self, which, limits):
        self.asked.append(limits[0])
        self.soft = limits[0]


@pytest.mark.skipif(resource is None, reason="Unix only")
def test_on_macos_the_limit_goes_to_kern_maxfilesperproc_not_past_it(monkeypatch):
    fake = AcceptsAnything(soft=256, hard=resource.RLIM_INFINITY, bound=None)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    monkeypatch.setattr("helpers.resources._max_files_per_process", lambda: 10_240)
    raised = raise_open_file_limit()
    assert (raised.found, raised.limit, fake.asked) == (256, 10_240, [10_240])
    assert str(raised) == "open-file limit 10,240, raised from 256"


@pytest.mark.skipif(resource is None, reason="Unix only")
def test_a_macos_bound_below_the_soft_limit_never_lowers_it(monkeypatch):
    fake = AcceptsAnything(soft=20_000, hard=resource.RLIM_INFINITY, bound=None)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    monkeypatch.setattr("helpers.resources._max_files_per_process", lambda: 10_240)
    assert (raise_open_file_limit().limit, fake.asked) == (20_000, [])


def test_kern_maxfilesperproc_is_read_on_macos_only():
    from helpers.resources import _max_files_per_process

    bound = _max_files_per_process()
    if sys.platform == "darwin":
        assert isinstance(bound, int) and bound > 0
    else:
        assert bound is None
