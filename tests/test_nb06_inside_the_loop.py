"""06 · inside the loop: a toy loop of generators, asyncio beside it, a task that blocks both, and
Python 3.14's call graphs and `python -m asyncio ps` / `pstree` on a stuck crawler."""

import math
import re
import sys

import pytest
from nbclient.exceptions import CellExecutionError

from nbrun import DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, assert_judged_rightly, execute, number, text_of

NAME = "06_inside_the_loop.ipynb"
# WORKERS in the notebook: A sleeps 0.10 s three times, B 0.25 s twice, C 0.15 s once. A step
# runs at each start and after each sleep, so by the clock: 0 (A B C), .10 A, .15 C, .20 A,
# .25 B, .30 A, .50 B. Wake-ups at least 0.05 s apart: only a stall of 0.05 s or more could reorder them.
ORDER = "A B C A C A B A B"
LONGEST_SLEEP = 0.5
BLOCKED_FROM = 0.05  # the blocker's polite sleep before it blocks for LATENCY
HAS_314_TOOLS = sys.version_info >= (3, 14)

# Answers a student might write, per exercise in order. Each wrong one must get "Not yet", each
# right one "Correct". Exercise 2's check runs polite_blocker(0.2) and (0.6) beside WORKERS,
# with LATENCY at 0.1 in the tests: an answer that types in a number, or reads LATENCY instead of
# its argument, is caught by one of the two; so is one that waits too long or not long enough.
WRONG_ANSWERS = [
    [
        'predicted = ["P", "P", "P", "Q", "Q"]  # each task to its end, in turn',
        'predicted = ["P", "Q", "P", "Q"]  # no step after the last sleep',
        'predicted = ["P", "Q", "P", "P", "Q"]  # the wake-ups out of time order',
        'predicted = "P Q P Q P"  # the right names, but not a list',
        'predicted = ["Q", "P", "Q", "P", "P"]  # the start order reversed',
        'predicted = ["p", "q", "p", "q", "p"]  # other names',
        'predicted = ("P", "Q", "P", "Q")  # a tuple, and one step short',
        'predicted = 5  # how many steps, not which',
    ],
    [
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    time.sleep(seconds)  # still blocks\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    sleep(seconds)  # makes a generator, never runs it\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)  # forgets the second wait\n",
        "async def polite_blocker(seconds):  # asyncio's kind of task, not the toy's\n"
        "    await asyncio.sleep(0.05)\n    await asyncio.sleep(seconds)\n",
        # issue 19: the solution's number typed in, passed at LATENCY 0.1 before the check had an upper bound
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    yield from sleep(0.3)\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    yield from sleep(LATENCY)  # the global, not the argument\n",
        "def polite_blocker():\n    yield from sleep(0.05)\n    yield from sleep(LATENCY)  # no argument at all\n",
        "def polite_blocker(seconds):\n    yield from sleep(seconds)  # forgets the polite 0.05 s\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    yield from sleep(2 * seconds)  # too long\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    yield from sleep(seconds / 2)  # too short\n",
        "def polite_blocker(seconds):\n    time.sleep(0.05)  # blocks first, briefly\n    yield from sleep(seconds)\n",
        "def polite_blocker(seconds):\n    yield seconds\n    yield 0.05  # the two waits the wrong way round\n",
        "def polite_blocker(seconds):\n    return sleep(0.05 + seconds)  # one generator: a single sleep of the sum\n",
        "polite_blocker = blocker  # the blocking one, renamed\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    time.sleep(0.09)  # blocks briefly, besides both waits\n"
        "    yield from sleep(seconds)\n",
    ],
]
RIGHT_ANSWERS = [
    [
        'predicted = list("PQPQP")',
        'predicted = "P Q P Q P".split()',
        'predicted = ("P", "Q", "P", "Q", "P")  # a tuple of the same names',
        'predicted = ["P", "Q"] + ["P", "Q", "P"]',
    ],
    [
        "def polite_blocker(seconds):\n    yield 0.05\n    yield seconds  # what sleep() yields, written out\n",
        "def polite_blocker(seconds):\n    for pause in (0.05, seconds):\n        yield from sleep(pause)\n",
        "def polite_blocker(seconds):\n    yield from sleep(0.05)\n    yield from sleep(seconds / 2)\n"
        "    yield from sleep(seconds / 2)  # the long wait in two halves\n",
        "def polite_blocker(seconds):\n    yield from worker(0.05, 1)\n    yield from worker(seconds, 1)\n",
        "def polite_blocker(seconds):\n    return (pause for pause in (0.05, seconds))  # a generator expression\n",
    ],
]


def order(text: str, loop: str) -> str:
    match = re.search(rf"{loop} ran the steps in the order +([A-C ]+)$", text, re.MULTILINE)
    assert match, f"no order printed for {loop}"
    return match.group(1).strip()


def test_06_the_toy_loop_and_asyncio_run_the_steps_in_one_order(executed):
    text = text_of(executed(NAME))
    assert order(text, "the toy loop") == ORDER
    assert order(text, "asyncio") == ORDER
    assert "the same order as the toy loop: True" in text
    toy = number(r"toy total ([\d.]+) s", text)
    assert LONGEST_SLEEP * 0.95 <= toy < LONGEST_SLEEP + 0.25
    assert "_ready is a deque, _scheduled a list kept as a heap" in text
    assert "0.1\n0.1\nended\n" in text  # the task run by hand: two pauses, then its end


def test_06_both_loops_spend_nearly_all_the_time_waiting(executed):
    text = text_of(executed(NAME))
    toy_busy = number(r"the toy ran its steps for ([\d.]+) ms", text) / 1000
    asyncio_busy = number(r"asyncio's loop thread was busy ([\d.]+) ms", text) / 1000
    assert toy_busy < LONGEST_SLEEP / 10 and asyncio_busy < LONGEST_SLEEP / 10


def test_06_a_blocking_task_makes_the_others_wait_its_whole_sleep(executed):
    text = text_of(executed(NAME))
    for loop in ("in the toy", "in asyncio"):
        held = number(rf"([\d.]+) s {loop}", text)
        assert LATENCY * 0.95 <= held < LATENCY + 0.25, loop
    blocked_until = BLOCKED_FROM + LATENCY
    for loop in ("the toy woke it at", "asyncio at"):
        woke = number(rf"{loop} ([\d.]+) s", text)
        assert blocked_until * 0.95 <= woke < blocked_until + 0.25, loop  # A asked for 0.10 s
    unblocked = number(r"unblocked: ([\d.]+) s", text)
    for loop in ("toy", "asyncio"):
        total = number(rf"totals?:.*?\b{loop} ([\d.]+) s", text)
        # A's three sleeps start again after the block: later than B's unblocked 0.5 s end.
        assert total >= max(LONGEST_SLEEP, blocked_until + 0.2) * 0.95 and total >= unblocked - 0.05, loop
    assert "A fell due before the blocker let go, and both loops ran it only after the blocker let go" in text


def test_06_a_blocker_that_lets_go_before_a_is_due_is_not_said_to_freeze_it(tmp_path):
    # LATENCY 0.02: the blocker holds the loop from 0.05 s to 0.07 s, and A is due at 0.10 s.
    text = text_of(execute(NOTEBOOKS / NAME, tmp_path, parameters={"LATENCY": 0.02}))
    assert "the blocker let go before A fell due, so A woke on time" in text
    assert "A fell due before the blocker let go" not in text
    for loop in ("the toy woke it at", "asyncio at"):
        assert number(rf"{loop} ([\d.]+) s", text) < BLOCKED_FROM + 0.02 + 0.25, loop


def test_06_requests_that_give_up_are_counted_and_the_stuck_crawler_still_waits(tmp_path):
    # PATIENCE below LATENCY: every request gives up; Run All goes on, and the crawler that the
    # 3.14 tools look at still waits (its patience is its own, two minutes).
    notebook = execute(NOTEBOOKS / NAME, tmp_path, parameters={"N_REQUESTS": 3, "LATENCY": 0.5, "PATIENCE": 0.1})
    text = text_of(notebook)
    assert "3 requests, status ['ReadTimeout']" in text
    assert "3 of them raised ReadTimeout (PATIENCE = 0.1 s, LATENCY = 0.5 s)" in text
    assert "the crawl's statuses: ['ReadTimeout', 'ReadTimeout', 'ReadTimeout']" in text
    if HAS_314_TOOLS:
        table = text.split("$ python -m asyncio ps ")[1].split("$ python -m asyncio pstree")[0]
        assert all(f"page {page}" in table for page in range(3)), table


def test_06_requests_take_one_latency_per_wave_while_the_loop_idles(executed):
    text = text_of(executed(NAME))
    waves = math.ceil(N_REQUESTS / DEFAULT_WORKERS)
    assert f"ideal: {waves} wave(s) on a pool of {DEFAULT_WORKERS} threads x {LATENCY:.2f} s" in text
    assert "of them raised" not in text  # the local server answers within PATIENCE
    total = number(rf"{N_REQUESTS} requests, status \[200\], in ([\d.]+) s", text)
    assert waves * LATENCY * 0.9 <= total < waves * LATENCY * 1.5 + 0.3
    busy = number(r"the loop thread was busy ([\d.]+) ms of it", text) / 1000
    assert busy < total / 2


def test_06_a_task_sees_the_other_tasks_and_from_314_who_awaits_it(executed):
    text = text_of(executed(NAME))
    # When page 0 looks, it runs; pages 1 and 2 are made but not started; the crawler waits.
    assert re.search(r"crawler: suspended, in crawl\(\)", text)
    assert re.search(r"page 0: running, in page\(\)", text)
    assert re.search(r"page 1: created, in page\(\)", text)
    assert "the crawl's statuses: [200, 200, 200]" in text
    if HAS_314_TOOLS:
        graph = text.split("asyncio.print_call_graph(), from 3.14")[1]
        assert "* Task(name='page 0'" in graph and "in async page()" in graph
        assert re.search(r"\+ Awaited by:\n +\* Task\(name='crawler'", graph)
        assert "in async crawl()" in graph
    else:
        assert "has no asyncio.print_call_graph(): it came in 3.14" in text


def test_06_ps_and_pstree_show_the_stuck_crawler_from_outside_on_314(executed):
    text = text_of(executed(NAME))
    if not HAS_314_TOOLS:
        assert "python -m asyncio ps and pstree came in Python 3.14" in text
        return
    table = text.split("$ python -m asyncio ps ")[1].split("$ python -m asyncio pstree")[0]
    for page in range(3):  # each page's task waits in to_thread, awaited by the crawl
        assert re.search(rf"page {page}\s+to_thread -> fetch\s+crawl\s+Task-1", table), table
    tree = [line for line in text.split("$ python -m asyncio pstree ")[1].splitlines()[1:] if line]
    assert tree[0] == "└── (T) Task-1" and re.fullmatch(r" +└── +crawl crawler\.py:\d+", tree[1]), tree
    for page in range(3):
        assert any(re.search(rf"── \(T\) page {page}$", line) for line in tree), tree
    assert sum(bool(re.search(r"fetch crawler\.py:\d+$", line)) for line in tree) == 3
    assert sum(bool(re.search(r"to_thread .*asyncio.threads\.py:\d+$", line)) for line in tree) == 3


@pytest.mark.parametrize("parameters, message", [
    ({"N_REQUESTS": "20"}, "N_REQUESTS must be a whole number from 1 to 1,000, got '20' (a string: remove the quotes)"),
    ({"LATENCY": -1}, "LATENCY must be a number of seconds from 0.01 to 10, got -1"),
])
def test_06_a_bad_parameter_stops_the_set_up_cell_with_one_line(tmp_path, parameters, message):
    with pytest.raises(CellExecutionError) as raised:
        execute(NOTEBOOKS / NAME, tmp_path, parameters=parameters)
    assert message in str(raised.value)
    assert "check_parameters(" in str(raised.value)  # the set-up cell, before any lesson runs


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_06_checks_accept_right_answers_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
