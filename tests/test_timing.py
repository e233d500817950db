"""Timing records: what a run records for sync and async code, and how it prints."""

import asyncio
import os
import platform
import re
import time

import pytest

from helpers import RunContext, timed_run
from helpers.timing import observing_runs


def test_sync_run_records_every_request_in_order():
    with timed_run("sync") as run:
        for _ in range(3):
            with run.request() as req:
                time.sleep(0.02)
                req.status = 200
    assert [record.index for record in run.records] == [0, 1, 2]
    assert all(record.status == 200 and record.ok for record in run.records)
    assert all(record.duration >= 0.02 for record in run.records)
    # One after another: each starts after the previous one ended.
    assert all(b.start >= a.end for a, b in zip(run.records, run.records[1:]))
    assert run.total >= sum(record.duration for record in run.records)


def test_async_run_records_overlapping_requests_and_a_total_below_their_sum():
    async def one(run):
        with run.request() as req:
            await asyncio.sleep(0.05)
            req.status = 200

    async def main():
        with timed_run("async") as run:
            await asyncio.gather(*(one(run) for _ in range(10)))
        return run

    run = asyncio.run(main())
    assert sorted(record.index for record in run.records) == list(range(10))
    assert run.total < sum(record.duration for record in run.records) / 3


def test_failed_request_is_recorded_by_name_and_raised_again():
    with timed_run("failing") as run:
        with pytest.raises(TimeoutError):
            with run.request():
                raise TimeoutError("too slow")
    (record,) = run.records
    assert record.error == "TimeoutError"
    assert not record.ok
    assert record.outcome == "TimeoutError"
    assert run.failures == [record]


def test_duration_is_available_after_the_request_block():
    with timed_run("one") as run:
        with run.request() as req:
            with pytest.raises(RuntimeError, match="only after the request's with-block"):
                req.duration
        assert req.duration == run.records[0].duration


def test_explicit_indexes_are_kept_and_numbering_continues_after_them():
    with timed_run("indexed") as run:
        with run.request(5):
            pass
        with run.request():
            pass
    assert [record.index for record in run.records] == [5, 6]


def test_printing_a_run_gives_the_posts_output_shape():
    with timed_run("sync", workers=4) as run:
        for status in (200, 404):
            with run.request() as req:
                req.status = status
    lines = str(run).splitlines()
    assert re.fullmatch(r"200 :  \d+\.\d+(e-\d+)?", lines[0])
    assert re.fullmatch(r"404 :  \d+\.\d+(e-\d+)?", lines[1])
    assert lines[2].startswith(f"total: {run.total}")
    assert f"Python {platform.python_version()}, {os.cpu_count()} CPUs, 4 worker threads" in lines[2]


def test_context_records_what_the_numbers_depend_on():
    context = RunContext.here(workers=6)
    assert context.python == platform.python_version()
    assert context.cpus == os.cpu_count()
    assert str(RunContext("3.12.1", 2)) == "Python 3.12.1, 2 CPUs"
    assert str(RunContext("3.12.1", 2, 6)) == "Python 3.12.1, 2 CPUs, 6 worker threads"


def test_repr_is_short_even_for_a_long_run():
    with timed_run("many") as run:
        for _ in range(1000):
            with run.request():
                pass
    assert repr(run).startswith("<Run 'many': 1000 requests, total ")


@pytest.mark.parametrize("label", ["", "   ", None, 3])
def test_timed_run_rejects_a_bad_label(label):
    with pytest.raises(ValueError, match="label must be a non-empty string"):
        timed_run(label)


@pytest.mark.parametrize("workers", [0, -1, 2.5, True, "6"])
def test_timed_run_rejects_bad_workers(workers):
    with pytest.raises(ValueError, match=r"workers must be an int >= 1 or None"):
        timed_run("x", workers=workers)


@pytest.mark.parametrize("index", [-1, 1.0, "0", True])
def test_request_rejects_a_bad_index(index):
    with timed_run("x") as run:
        with pytest.raises(ValueError, match="index must be an int >= 0"):
            run.request(index)


def test_a_run_must_be_started_before_timing_requests():
    run = timed_run("not started")
    with pytest.raises(RuntimeError, match="has not started"):
        with run.request():
            pass


def test_a_run_cannot_be_timed_twice():
    run = timed_run("once")
    with run:
        pass
    with pytest.raises(RuntimeError, match="has already been timed"):
        with run:
            pass


def test_an_observer_hears_of_each_request_as_it_ends_and_of_the_run_s_end():
    heard = []
    with observing_runs(lambda run: heard.append((run.n_requests, run.total is not None))):
        with timed_run("observed") as run:
            for _ in range(3):
                with run.request():
                    pass
    with timed_run("after the block") as unobserved:
        with unobserved.request():
            pass
    assert heard == [(1, False), (2, False), (3, False), (3, True)]


def test_a_run_keeps_its_observer_for_requests_that_end_in_other_threads_and_tasks():
    heard = []

    def request_in_a_thread(run):
        with run.request():
            pass

    async def main():
        async def observed_task():
            with timed_run("in a task") as inner:  # the task copied the observer
                await asyncio.get_running_loop().run_in_executor(None, request_in_a_thread, inner)
            return inner

        with observing_runs(lambda run: heard.append(run.n_requests)):
            task = asyncio.create_task(observed_task())
        return await task

    asyncio.run(main())
    assert heard == [1, 1]  # the request, in a pool thread; then the run's end


def test_observing_runs_refuses_what_it_cannot_call():
    with pytest.raises(TypeError, match="observer must be callable, got 3"):
        with observing_runs(3):
            pass
