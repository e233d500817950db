"""Loop traces: what a known schedule records, the loop blocked, and the loop left as it was.

Durations are checked against what the schedule asked for, with margins wide enough for a busy
two-core machine: never shorter than asked (less a little for the clocks), at most 0.25 s longer.
"""

import asyncio
import contextvars
import io
import re
import sys
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import pytest
import requests

from helpers import LoopTrace, trace_loop

STEP = 0.2  # seconds each sleep or thread call of the known schedule takes


def about(seconds: float, expected: float) -> bool:
    return expected * 0.95 <= seconds <= expected + 0.25


def waits(task) -> list[tuple[str, float]]:
    """A task's waits as (kind, seconds), leaving out blips (a worker thread starting, say) and its
    waits for a turn on the loop, which a busy machine lengthens: what the task itself waited for."""
    return [(wait.kind, wait.duration) for wait in task.waits if wait.duration > 0.02 and wait.kind != "ready"]


def traced(main) -> LoopTrace:
    """Run ``main(trace_loop())`` under asyncio.run and return the finished trace."""
    async def run() -> LoopTrace:
        trace = trace_loop()
        await main(trace)
        return trace

    return asyncio.run(run())


async def known_schedule(trace: LoopTrace) -> None:
    """Five tasks: a sleep, two thread calls on one worker thread, two holders of one semaphore."""
    loop = asyncio.get_running_loop()
    one_worker = ThreadPoolExecutor(max_workers=1)
    semaphore = asyncio.Semaphore(1)

    async def nap():
        await asyncio.sleep(STEP)

    async def call_in_thread():
        await loop.run_in_executor(one_worker, time.sleep, STEP)

    async def hold():
        async with semaphore:
            await asyncio.sleep(STEP)

    with one_worker, trace:
        await asyncio.gather(nap(), call_in_thread(), call_in_thread(), hold(), hold())


def test_known_schedule_records_each_wait_in_order_and_for_as_long_as_asked():
    trace = traced(known_schedule)
    assert [task.coroutine for task in trace.tasks] == [
        "nap", "call_in_thread", "call_in_thread", "hold", "hold",
    ]
    nap, first_call, second_call, first_hold, second_hold = trace.tasks
    kinds = [[kind for kind, _ in waits(task)] for task in trace.tasks]
    assert kinds == [["sleep"], ["thread"], ["queued", "thread"], ["sleep"], ["lock", "sleep"]]
    for task in trace.tasks:
        assert all(about(seconds, STEP) for _, seconds in waits(task)), waits(task)
    # Each step between two awaits is a slice on the loop thread, and slices never overlap.
    assert [len(task.slices) for task in trace.tasks] == [2, 2, 2, 2, 3]
    slices = sorted((span for task in trace.tasks for span in task.slices), key=lambda span: span.start)
    assert all(a.end <= b.start for a, b in zip(slices, slices[1:]))
    # The second holder enters the semaphore only when the first has left it.
    assert second_hold.waits[-1].start >= first_hold.ended - 0.01
    assert about(trace.duration, 2 * STEP)
    assert all(task.ended is not None and about(task.ended - task.created, STEP) for task in (nap, first_call))


def test_thread_calls_record_queued_started_and_finished_on_one_worker():
    trace = traced(known_schedule)
    names = [task.name for task in trace.tasks]
    assert len(set(names)) == 5 and all(re.fullmatch(r"Task-\d+", name) for name in names)  # never "None"
    first, second = trace.calls
    assert first.name == second.name == "sleep"
    assert first.thread == second.thread  # one worker thread did both, one after the other
    assert second.started >= first.finished
    # The one worker took the second call a STEP after the first. (Measured from when the second
    # was queued, the wait can look shorter: on a busy machine it may be queued a few ms late.)
    assert about(second.started - first.started, STEP) and second.started - second.queued > STEP / 2
    assert about(first.finished - first.started, STEP) and about(second.finished - second.started, STEP)
    assert first.task == trace.tasks[1].name and second.task == trace.tasks[2].name
    assert first.ok and second.ok


def test_blocking_call_shows_as_one_long_slice_and_the_loop_busy_throughout():
    async def blocks():
        time.sleep(0.3)  # never yields: the loop can run nothing else meanwhile

    async def naps():
        await asyncio.sleep(0.05)

    async def main(trace):
        with trace:
            await asyncio.gather(blocks(), naps())

    trace = traced(main)
    blocker, napper = trace.tasks
    (slice_,) = blocker.slices
    assert slice_.duration >= 0.3
    assert any(span.start <= slice_.start and span.end >= slice_.end for span in trace.loop_busy)
    assert max(span.duration for span in trace.loop_busy) >= 0.3
    # The other task was ready all along, and got its first turn only when the loop was free.
    assert napper.waits[0].kind == "ready" and napper.waits[0].duration >= 0.29


def test_idle_loop_is_not_busy_while_every_task_waits():
    async def main(trace):
        with trace:
            await asyncio.sleep(0.3)

    trace = traced(main)
    assert trace.tasks == [] and trace.calls == []
    assert sum(span.duration for span in trace.loop_busy) < 0.1


def test_to_thread_calls_against_the_server_are_in_flight_for_its_latency(server):
    async def main(trace):
        with trace:
            await asyncio.gather(*(asyncio.to_thread(requests.get, server.url, timeout=10) for _ in range(5)))

    trace = traced(main)
    assert [call.name for call in trace.calls] == ["get"] * 5
    assert all(call.finished - call.started >= server.latency * 0.95 for call in trace.calls)
    assert [task.coroutine for task in trace.tasks] == ["to_thread"] * 5
    assert all("thread" in [wait.kind for wait in task.waits] for task in trace.tasks)


def test_failed_thread_call_is_recorded_by_name_and_raised_again():
    async def main(trace):
        with trace:
            with pytest.raises(ZeroDivisionError):
                await asyncio.to_thread(divmod, 1, 0)

    (call,) = traced(main).calls
    assert call.name == "divmod" and call.error == "ZeroDivisionError" and not call.ok


def test_futures_handed_straight_to_gather_are_traced_as_calls_of_no_task():
    async def main(trace):
        loop = asyncio.get_running_loop()
        with trace:
            await asyncio.gather(*(loop.run_in_executor(None, time.sleep, 0.05) for _ in range(3)))

    trace = traced(main)
    assert trace.tasks == []
    assert [(call.name, call.task) for call in trace.calls] == [("sleep", None)] * 3


# --- the loop is left as it was ----------------------------------------------------------------

def loop_is_untouched(loop, factory=None) -> bool:
    return (
        loop.get_task_factory() is factory
        and "run_in_executor" not in vars(loop)
        and "select" not in vars(loop._selector)
    )


def test_the_loop_is_restored_after_the_block_and_after_an_error_in_it():
    async def main():
        loop = asyncio.get_running_loop()
        with trace_loop():
            assert not loop_is_untouched(loop)
        assert loop_is_untouched(loop)
        with pytest.raises(KeyError, match="inside"):
            with trace_loop():
                await asyncio.sleep(0)
                raise KeyError("inside")
        assert loop_is_untouched(loop)

    asyncio.run(main())


def test_an_existing_task_factory_still_makes_every_task_and_is_put_back():
    made = []

    def factory(loop, coro, **options):
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **options)

    async def answer():
        return 42

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(factory)
        with trace_loop() as trace:
            assert await asyncio.create_task(answer()) == 42
        assert loop_is_untouched(loop, factory)
        assert len(made) == 1 and len(trace.tasks) == 1

    asyncio.run(main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks came in Python 3.12")
def test_eager_tasks_are_traced_from_their_first_step():
    async def answer():
        await asyncio.sleep(0.05)
        return 42

    async def main():
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        with trace_loop() as trace:
            assert await asyncio.create_task(answer()) == 42
        return trace

    (task,) = asyncio.run(main()).tasks
    assert task.slices[0].start - task.created < 0.01  # its first step ran inside create_task
    assert len(task.slices) == 2 and [kind for kind, _ in waits(task)] == ["sleep"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks came in Python 3.12")
def test_tasks_are_listed_in_the_order_they_were_created_even_when_an_eager_one_starts_another():
    async def child():
        await asyncio.sleep(0.01)

    async def parent():
        await asyncio.create_task(child())  # made during the parent's first step, inside create_task

    async def main():
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        with trace_loop() as trace:
            await asyncio.create_task(parent())
        return trace

    trace = asyncio.run(main())
    assert [task.coroutine for task in trace.tasks] == ["parent", "child"]
    assert trace.tasks[0].created <= trace.tasks[1].created


def test_a_task_factory_that_fails_leaves_no_lane_behind():
    def refuses(loop, coro, **options):
        coro.close()
        raise RuntimeError("no tasks today")

    async def main():
        asyncio.get_running_loop().set_task_factory(refuses)
        with trace_loop() as trace:
            with pytest.raises(RuntimeError, match="no tasks today"):
                asyncio.create_task(asyncio.sleep(0))
        asyncio.get_running_loop().set_task_factory(None)
        return trace

    assert asyncio.run(main()).tasks == []


def test_tasks_started_elsewhere_during_the_trace_are_left_alone():
    """As the kernel's own tasks are in Jupyter: only the block's tasks and their children count."""
    async def child():
        await asyncio.sleep(0.01)

    async def parent():
        await asyncio.create_task(child())

    async def elsewhere(started: asyncio.Event):
        started.set()
        for _ in range(5):
            await asyncio.create_task(asyncio.sleep(0.02))

    async def main():
        started = asyncio.Event()
        background = asyncio.create_task(elsewhere(started))
        await started.wait()
        with trace_loop() as trace:
            await parent()
            await asyncio.create_task(parent())
            await background
        return trace

    trace = asyncio.run(main())
    assert [task.coroutine for task in trace.tasks] == ["child", "parent", "child"]


def test_results_errors_and_cancellation_pass_through_traced_tasks_unchanged():
    async def fails():
        await asyncio.sleep(0)
        raise ValueError("from the task")

    async def main():
        with trace_loop() as trace:
            assert await asyncio.gather(asyncio.sleep(0.01, result="done")) == ["done"]
            with pytest.raises(ValueError, match="from the task"):
                await asyncio.create_task(fails())
            sleeper = asyncio.create_task(asyncio.sleep(10))
            await asyncio.sleep(0.01)
            sleeper.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sleeper
        return trace

    trace = asyncio.run(main())
    assert len(trace.tasks) == 3 and all(task.ended is not None for task in trace.tasks)


def test_a_task_that_outlives_the_block_finishes_normally_and_is_cut_at_the_trace_end():
    async def slow():
        await asyncio.sleep(0.1)
        return "late"

    async def main():
        with trace_loop() as trace:
            task = asyncio.create_task(slow())
            await asyncio.sleep(0.01)
        assert await task == "late"
        return trace

    trace = asyncio.run(main())
    (task,) = trace.tasks
    assert task.ended is None
    assert task.waits[-1].kind == "sleep" and task.waits[-1].end == pytest.approx(trace.duration)


def test_calls_to_other_executors_pass_through_untraced():
    class Inline(Executor):
        def submit(self, fn, /, *args, **kwargs):
            future = Future()
            future.set_result(fn(*args, **kwargs))
            return future

    async def main():
        with trace_loop() as trace:
            assert await asyncio.get_running_loop().run_in_executor(Inline(), divmod, 7, 2) == (3, 1)
        return trace

    assert asyncio.run(main()).calls == []


def test_trace_loop_refuses_no_loop_a_second_trace_and_a_second_block():
    with pytest.raises(RuntimeError, match="needs a running event loop"):
        with trace_loop():
            pass

    async def main():
        with trace_loop() as trace:
            with pytest.raises(RuntimeError, match="already being traced"):
                with trace_loop():
                    pass
        with pytest.raises(RuntimeError, match="already recorded its block"):
            with trace:
                pass
        done = asyncio.get_running_loop().create_future()

        def outside_any_task():
            try:
                trace_loop().__enter__()
            except RuntimeError as error:
                done.set_result(str(error))

        asyncio.get_running_loop().call_soon(outside_any_task)
        assert "must be entered inside a task" in await done

    asyncio.run(main())


def test_a_trace_says_what_it_holds():
    trace = trace_loop()
    assert repr(trace) == "<LoopTrace not started>"
    trace = traced(known_schedule)
    assert repr(trace).startswith("<LoopTrace 5 tasks, 2 thread calls over 0.4")


# --- create_task's keyword arguments, and Python 3.14's call graphs --------------------------------

NEEDS_314_KEYWORDS = pytest.mark.skipif(
    sys.version_info < (3, 14), reason="create_task passes any keyword on to a task factory from Python 3.14")
REQUEST_ID = contextvars.ContextVar("request_id", default="unset")


async def answer_after_a_nap(result="done"):
    await asyncio.sleep(0.05)
    return result, REQUEST_ID.get()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task takes a context from Python 3.11")
def test_create_task_name_and_context_reach_the_task_under_the_trace():
    async def main():
        context = contextvars.copy_context()
        context.run(REQUEST_ID.set, "from the context")
        with trace_loop() as trace:
            task = asyncio.create_task(answer_after_a_nap(), name="named", context=context)
            assert await task == ("done", "from the context")
        return task, trace

    task, trace = asyncio.run(main())
    assert task.get_name() == "named" and [traced.name for traced in trace.tasks] == ["named"]


@NEEDS_314_KEYWORDS
def test_create_task_eager_start_and_other_keywords_pass_through_the_trace_on_314():
    """3.14's create_task(coro, **kwargs) hands every keyword to the task factory: ours passes them on."""
    ran = []

    async def eager():
        ran.append("first step")
        return await answer_after_a_nap()

    async def main():
        context = contextvars.copy_context()
        context.run(REQUEST_ID.set, "eager")
        with trace_loop() as trace:
            task = asyncio.create_task(eager(), name="eager one", context=context, eager_start=True)
            started_at_once = ran == ["first step"] and not task.done()  # before create_task returned
            assert await task == ("done", "eager")
            unknown = answer_after_a_nap()
            with pytest.raises(TypeError, match="unexpected keyword argument 'priority'"):  # as untraced
                asyncio.create_task(unknown, priority=1)
            unknown.close()
        return started_at_once, trace

    started_at_once, trace = asyncio.run(main())
    assert started_at_once
    (task,) = trace.tasks
    assert task.name == "eager one" and len(task.slices) == 2 and [kind for kind, _ in waits(task)] == ["sleep"]


@NEEDS_314_KEYWORDS
def test_keywords_of_a_factory_of_its_own_reach_it_through_the_trace_on_314():
    seen = []

    def factory(loop, coro, *, priority=0, **options):
        seen.append((priority, options.get("name")))
        return asyncio.Task(coro, loop=loop, **options)

    async def main():
        asyncio.get_running_loop().set_task_factory(factory)
        with trace_loop() as trace:
            assert await asyncio.create_task(answer_after_a_nap("high"), priority=9, name="urgent") == ("high", "unset")
            async with asyncio.TaskGroup() as group:
                group.create_task(answer_after_a_nap(), priority=1, name="grouped")
        asyncio.get_running_loop().set_task_factory(None)  # asyncio.run's own closing tasks are not ours
        return trace

    trace = asyncio.run(main())
    assert seen == [(9, "urgent"), (1, "grouped")]
    assert [task.name for task in trace.tasks] == ["urgent", "grouped"]


@pytest.mark.skipif(sys.version_info < (3, 14), reason="asyncio's call graphs came in Python 3.14")
def test_a_traced_task_still_shows_who_awaits_it_in_the_call_graph():
    async def inner():
        shown = io.StringIO()
        asyncio.print_call_graph(file=shown)
        return shown.getvalue()

    async def outer():
        return await asyncio.create_task(inner(), name="inner task")

    async def main():
        with trace_loop() as trace:
            graph = await asyncio.create_task(outer(), name="outer task")
        return graph, trace

    graph, trace = asyncio.run(main())
    assert "Task(name='inner task'" in graph and re.search(r"in async \S*inner\(\)", graph), graph
    assert "Awaited by:" in graph and "Task(name='outer task'" in graph and re.search(r"in async \S*outer\(\)", graph)
    assert [task.name for task in trace.tasks] == ["outer task", "inner task"]


@pytest.mark.skipif((3, 12) <= sys.version_info < (3, 14),
                    reason="on 3.12 and 3.13 aiohttp makes its lookup task with asyncio.Task itself, which no factory sees")
def test_aiohttp_s_host_name_lookup_task_is_traced(server):
    """From 3.14 aiohttp starts it with create_task(..., eager_start=True): the keyword passes through."""
    import aiohttp

    async def main():
        async with aiohttp.ClientSession() as session:
            with trace_loop() as trace:
                named = server.url.replace("127.0.0.1", "localhost")  # a host name, looked up (here, /etc/hosts)
                async with session.get(named, timeout=aiohttp.ClientTimeout(10)) as got:
                    await got.read()
        return trace

    assert "_resolve_host_with_throttle" in [task.coroutine for task in asyncio.run(main()).tasks]
