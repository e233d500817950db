"""Resource peaks: threads started inside the block are counted, memory touched is seen."""

import threading

import pytest

from helpers import ResourceUsage, track_resources


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
