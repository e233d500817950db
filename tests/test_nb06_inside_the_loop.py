"""06 · inside the loop: a toy loop of generators, asyncio beside it, and a task that blocks both."""

import math
import re

import pytest

from nbrun import DEFAULT_WORKERS, LATENCY, N_REQUESTS, assert_judged_rightly, number, text_of

NAME = "06_inside_the_loop.ipynb"
# WORKERS in the notebook: A sleeps 0.10 s three times, B 0.25 s twice, C 0.15 s once. A step
# runs at each start and after each sleep, so by the clock: 0 (A B C), .10 A, .15 C, .20 A,
# .25 B, .30 A, .50 B. Wake-ups at least 0.05 s apart, so a busy machine cannot reorder them.
ORDER = "A B C A C A B A B"
LONGEST_SLEEP = 0.5
BLOCKED_FROM = 0.05  # the blocker's polite sleep before it blocks for LATENCY

# Plausible wrong answers for each exercise, in the order of the exercises: each must get "Not yet".
WRONG_ANSWERS = [
    [
        'predicted = ["P", "P", "P", "Q", "Q"]  # each task to its end, in turn',
        'predicted = ["P", "Q", "P", "Q"]  # no step after the last sleep',
        'predicted = ["P", "Q", "P", "P", "Q"]  # the wake-ups out of time order',
        'predicted = "P Q P Q P"  # the right names, but not a list',
    ],
    [
        "def polite_blocker():\n    yield from sleep(0.05)\n    time.sleep(LATENCY)  # still blocks\n",
        "def polite_blocker():\n    yield from sleep(0.05)\n    sleep(LATENCY)  # makes a generator, never runs it\n",
        "def polite_blocker():\n    yield from sleep(0.05)  # forgets the second wait\n",
        "async def polite_blocker():  # asyncio's kind of task, not the toy's\n"
        "    await asyncio.sleep(0.05)\n    await asyncio.sleep(LATENCY)\n",
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


def test_06_both_loops_spend_nearly_all_the_time_waiting(executed):
    text = text_of(executed(NAME))
    toy_busy = number(r"the toy ran its steps for ([\d.]+) ms", text) / 1000
    asyncio_busy = number(r"asyncio's loop thread was busy ([\d.]+) ms", text) / 1000
    assert toy_busy < LONGEST_SLEEP / 10 and asyncio_busy < LONGEST_SLEEP / 10


def test_06_a_blocking_task_makes_the_others_wait_its_whole_sleep(executed):
    text = text_of(executed(NAME))
    blocked_until = BLOCKED_FROM + LATENCY
    for loop in ("the toy woke it at", "asyncio at"):
        woke = number(rf"{loop} ([\d.]+) s", text)
        assert blocked_until * 0.95 <= woke < blocked_until + 0.25, loop  # A asked for 0.10 s
    unblocked = number(r"unblocked: ([\d.]+) s", text)
    for loop in ("toy", "asyncio"):
        total = number(rf"totals?:.*?\b{loop} ([\d.]+) s", text)
        # A's three sleeps start again after the block: later than B's unblocked 0.5 s end.
        assert total >= max(LONGEST_SLEEP, blocked_until + 0.2) * 0.95 and total >= unblocked - 0.05, loop


def test_06_requests_take_one_latency_per_wave_while_the_loop_idles(executed):
    text = text_of(executed(NAME))
    waves = math.ceil(N_REQUESTS / DEFAULT_WORKERS)
    assert f"{N_REQUESTS} requests, status [200]" in text
    total = number(rf"{N_REQUESTS} requests, status \[200\], in ([\d.]+) s", text)
    assert waves * LATENCY * 0.9 <= total < waves * LATENCY * 1.5 + 0.3
    busy = number(r"the loop thread was busy ([\d.]+) ms of it", text) / 1000
    assert busy < total / 2


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_06_checks_accept_the_solution_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])
