"""Another program's loop from outside: a stuck program run and killed, and Python 3.14's tools on it."""

import re
import sys
import time

import pytest

from helpers.introspect import asyncio_tool, program

STUCK = """\
import asyncio

async def wait_forever():
    print("waiting", flush=True)
    await asyncio.Event().wait()

async def main():
    await asyncio.gather(asyncio.create_task(wait_forever(), name="stuck task"))

asyncio.run(main())
"""


def test_program_runs_until_the_block_ends_and_is_killed_then():
    started = time.perf_counter()
    with program(STUCK, ready="waiting", name="stuck.py") as process:
        time.sleep(0.2)
        assert process.poll() is None  # still running: stuck, as it should be
    assert process.returncode is not None and time.perf_counter() - started < 15


def test_program_is_killed_when_the_block_raises():
    with pytest.raises(KeyError):
        with program(STUCK, ready="waiting") as process:
            raise KeyError("in the block")
    assert process.returncode is not None


@pytest.mark.parametrize("source, seconds, message", [
    ("import sys; sys.exit(3)", 30, r"stuck\.py ended \(exit code 3\) without printing 'waiting'"),
    ("print('hello')", 30, r"stuck\.py printed 'hello' where 'waiting' was expected"),
    ("import time; time.sleep(30)", 0.5, r"stuck\.py ran 0\.5 s without printing 'waiting'"),
    ("1 / 0", 30, r"ZeroDivisionError: division by zero"),
])
def test_program_says_why_it_did_not_get_ready(source, seconds, message):
    with pytest.raises(RuntimeError, match=message):
        with program(source, ready="waiting", name="stuck.py", seconds=seconds):
            pass


def test_program_and_asyncio_tool_refuse_wrong_arguments():
    with pytest.raises(ValueError, match="source must be a Python program"):
        with program("", ready="x"):
            pass
    with pytest.raises(TypeError, match="args must be strings"):
        with program("pass", 3, ready="x"):
            pass
    with pytest.raises(ValueError, match="seconds must be a number from 0 to 600, got 0"):
        with program("pass", ready="x", seconds=0):
            pass
    with pytest.raises(ValueError, match="command must be 'ps' or 'pstree', got 'top'"):
        asyncio_tool("top", 1)
    with pytest.raises(ValueError, match="pid must be a process id"):
        asyncio_tool("ps", "1")


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="python -m asyncio ps exists from Python 3.14")
def test_asyncio_tool_says_it_needs_314_before_314():
    with pytest.raises(RuntimeError, match=r"python -m asyncio pstree came in Python 3\.14; this is 3\.1[0-3]"):
        asyncio_tool("pstree", 1)


@pytest.mark.skipif(sys.version_info < (3, 14), reason="python -m asyncio ps and pstree came in Python 3.14")
def test_ps_and_pstree_show_a_stuck_program_s_tasks_and_who_awaits_whom():
    with program(STUCK, ready="waiting", name="stuck.py") as process:
        time.sleep(0.2)
        table, tree = asyncio_tool("ps", process.pid), asyncio_tool("pstree", process.pid)
    assert re.search(r"stuck task\s+Event\.wait -> wait_forever\s+main\s+Task-1", table), table
    lines = tree.splitlines()
    assert lines[0] == "└── (T) Task-1" and "main stuck.py:8" in lines[1], tree
    assert any(line.endswith("(T) stuck task") for line in lines) and "wait_forever stuck.py:5" in tree, tree


@pytest.mark.skipif(sys.version_info < (3, 14), reason="python -m asyncio ps and pstree came in Python 3.14")
def test_asyncio_tool_returns_the_tool_s_own_error_for_a_process_that_is_gone():
    said = asyncio_tool("ps", 2**22 + 12345)  # above Linux's largest pid: never a process
    assert said.startswith("Error retrieving tasks:"), said
