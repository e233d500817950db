"""The one way exercises are judged: a verdict for every answer, never a traceback."""

import asyncio

import pytest

from helpers.checks import NotYet, case, check, check_async, number, returns, whole_number


def ideal(n, workers, latency):
    return -(-n // workers) * latency


def verdict(capsys, *cases, **kwargs) -> str:
    check(*cases, correct=kwargs.pop("correct", "right"), **kwargs)
    return capsys.readouterr().out


def test_a_right_answer_is_correct(capsys):
    said = verdict(capsys, returns(ideal, (20, 6, 0.3), 1.2), returns(ideal, (1, 6, 0.3), 0.3), correct="waves")
    assert said == "Correct: waves\n"


def test_rounding_to_one_decimal_is_caught():
    def rounded(n, workers, latency):
        return round(ideal(n, workers, latency), 1)

    assert returns(rounded, (7, 3, 0.25), 0.75).judge() == "returned 0.8; expected 0.75"


def test_a_string_where_a_number_is_wanted_says_not_yet(capsys):
    said = verdict(capsys, returns(lambda *args: "1.20 s", (20, 6, 0.3), 1.2))
    assert said.startswith("Not yet: <lambda>(20, 6, 0.3): returned '1.20 s' (a string); expected a number")


def test_an_answer_that_raises_says_not_yet_with_the_error(capsys):
    said = verdict(capsys, returns(lambda n: 1 / n, (0,), 1.0))
    assert said.startswith("Not yet: <lambda>(0): raised ZeroDivisionError: division by zero")


def test_a_missing_function_says_not_yet(capsys):
    assert verdict(capsys, returns(None, (1,), 1)).startswith("Not yet: the answer(1): the answer is None")


def test_a_coroutine_function_where_a_plain_one_is_asked_says_so():
    async def total(n):
        return n

    assert "plain def" in returns(total, (1,), 1).judge()


def test_only_the_first_failure_is_named_with_a_count(capsys):
    said = verdict(capsys, returns(ideal, (1, 1, 1), 1), returns(ideal, (1, 1, 1), 2), returns(ideal, (2, 1, 1), 3))
    assert said == "Not yet: ideal(1, 1, 1): returned 1; expected 2 (2 of 3 cases are not right yet)\n"


def test_non_number_wants_compare_type_and_value():
    assert returns(lambda: [1, 2], (), [1, 2]).judge() is None
    assert returns(lambda: (1, 2), (), [1, 2]).judge() is None
    assert returns(lambda: "1", (), 1.0).judge().startswith("returned '1' (a string)")
    assert returns(lambda: {1}, (), [1]).judge().startswith("returned {1} (a set)")
    assert returns(lambda: True, (), 1).judge().startswith("returned True (a bool)")


def test_custom_cases_return_or_raise_their_reason(capsys):
    post_cpus = "12"
    said = verdict(capsys, case("post_cpus", lambda: None if whole_number(post_cpus, "post_cpus") == 12 else "no"))
    assert said.startswith("Not yet: post_cpus: post_cpus must be a whole number, got '12' (a string: remove the quotes)")
    assert verdict(capsys, case("x", lambda: "too slow")) == "Not yet: x: too slow\n"

    def raises():
        raise NotYet("it ran 3 at once")

    assert verdict(capsys, case("x", raises)) == "Not yet: x: it ran 3 at once\n"


def test_number_and_whole_number_name_the_type():
    assert number(0.5, "x") == 0.5
    assert whole_number(3, "n") == 3
    for bad in ("1", True, None, float("nan")):
        with pytest.raises(NotYet, match="x must be"):
            number(bad, "x")
    for bad in (1.0, "1", False):
        with pytest.raises(NotYet, match="n must be a whole number"):
            whole_number(bad, "n")


def test_async_cases_time_out_raise_and_pass(capsys):
    async def stuck():
        await asyncio.sleep(10)

    async def times_out():
        raise TimeoutError  # the answer's own timeout is news, not the check's

    async def fine():
        return None

    async def run():
        await check_async(case("stuck", stuck), correct="no", seconds=0.2)
        await check_async(case("times_out", times_out), correct="no")
        await check_async(case("fine", fine), case("plain", lambda: None), correct="yes")

    asyncio.run(run())
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Not yet: stuck: still running after 0.2 s", "Not yet: times_out: raised TimeoutError",
                     "Correct: yes"]


def test_an_async_case_in_check_is_a_mistake_of_the_check():
    async def judge():
        return None

    with pytest.raises(TypeError, match="check_async"):
        check(case("x", judge), correct="no")


@pytest.mark.parametrize("call, message", [
    (lambda: check(correct="x"), "at least one case"),
    (lambda: check("not a case", correct="x"), "every case must be made"),
    (lambda: case("", lambda: None), "what must be"),
    (lambda: case("x", 3), "judge must be a callable"),
    (lambda: returns(len, [1], 1), "args must be a tuple"),
    (lambda: asyncio.run(check_async(case("x", lambda: None), correct="x", seconds=0)), "seconds must be"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_a_bool_is_never_a_number_even_inside_a_list_or_dict():
    assert returns(lambda: [True, 2], (), [1, 2]).judge() == "returned [True, 2]; expected [1, 2]"
    assert returns(lambda: {"waves": True}, (), {"waves": 1}).judge() is not None
    assert returns(lambda: [1, 0], (), [True, False]).judge() is not None


def test_numbers_inside_a_list_or_dict_are_compared_within_the_tolerance():
    assert returns(lambda: [0.1 + 0.2, 0.6], (), [0.3, 0.6]).judge() is None
    assert returns(lambda: (0.3, 0.6), (), [0.3, 0.6]).judge() is None
    assert returns(lambda: {"a": 0.1 + 0.2}, (), {"a": 0.3}).judge() is None
    assert returns(lambda: [0.8], (), [0.75]).judge() == "returned [0.8]; expected [0.75]"
    assert returns(lambda: [[1, "a"], [2, "b"]], (), [(1, "a"), (2, "b")]).judge() is None
    assert returns(lambda: [1, 2, 3], (), [1, 2]).judge() is not None
    assert returns(lambda: ["1", 2], (), [1, 2]).judge() is not None


def test_nan_is_never_right():
    nan = float("nan")
    assert returns(lambda: nan, (), 1.2).judge().startswith("returned nan")
    assert returns(lambda: [nan], (), [nan]).judge() is not None  # even the same object
    assert returns(lambda: {"total": nan}, (), {"total": 1.0}).judge() is not None


def test_an_answer_that_changes_its_arguments_cannot_change_the_next_case(capsys):
    durations = [0.3, 0.9, 0.5]

    def slowest(values):  # right value, but sorts the caller's list in place
        values.sort(reverse=True)
        return values[0]

    def fastest(values):  # wrong: assumes the list is sorted, slowest first
        return values[-1]

    said = verdict(capsys, returns(slowest, (durations,), 0.9), returns(fastest, (durations,), 0.3))
    assert said == "Not yet: fastest([0.3, 0.9, 0.5]): returned 0.5; expected 0.3\n"
    assert durations == [0.3, 0.9, 0.5]


def test_an_answer_that_returns_and_then_changes_the_expected_list_is_still_judged_by_the_original():
    shared = [1, 2]
    case_ = returns(lambda: shared, (), shared)
    shared.append(3)  # the want was copied when the case was made
    assert case_.judge() == "returned [1, 2, 3]; expected [1, 2]"


def test_a_judge_that_returns_anything_but_none_or_a_reason_is_a_mistake_of_the_check():
    for said in (True, False, "", 0, 1):
        with pytest.raises(TypeError, match="a case returns None when the answer is right"):
            check(case("x", lambda said=said: said), correct="no")

    async def run(said):
        async def judge():
            return said
        await check_async(case("x", judge), correct="no")

    with pytest.raises(TypeError, match="a case returns None"):
        asyncio.run(run(False))


def test_an_answer_that_raises_cancelled_error_is_not_yet_not_a_traceback(capsys):
    def cancelled():
        raise asyncio.CancelledError

    assert verdict(capsys, returns(cancelled, (), 1)) == "Not yet: cancelled(): raised CancelledError\n"


def test_an_async_case_that_blocks_the_loop_past_the_limit_is_not_yet(capsys):
    import time

    async def blocks():
        time.sleep(0.4)  # holds the event loop, so asyncio.wait's timeout cannot fire in time

    asyncio.run(check_async(case("blocks", blocks), correct="no", seconds=0.1))
    said = capsys.readouterr().out
    assert said.startswith("Not yet: blocks: took 0.")
    assert "more than the 0.1 s allowed" in said


def test_returns_needs_args_and_want_and_checks_its_keywords():
    with pytest.raises(TypeError):
        returns(len, (1,))  # no want: a forgotten want would have meant "returns None"
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        returns(len, (), 1, kwargs=[("a", 1)])
    with pytest.raises(ValueError, match="tolerance must be"):
        returns(len, (), 1, tolerance=-1)


def test_any_dict_for_a_dict_and_either_set_for_a_set():
    import collections

    assert returns(lambda: collections.Counter(a=2), (), {"a": 2}).judge() is None
    assert returns(lambda: frozenset({1, 2}), (), {1, 2}).judge() is None
    assert returns(lambda: [("a", 2)], (), {"a": 2}).judge().startswith("returned [('a', 2)] (a list)")


def test_a_stuck_async_case_is_cancelled_before_the_next_case_runs(capsys):
    order = []

    async def stuck():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cleans up a little before it lets the cancellation go on
            order.append("stuck ended")
            raise

    async def next_case():
        order.append("next case")

    asyncio.run(check_async(case("stuck", stuck), case("next", next_case), correct="no", seconds=0.1))
    assert order == ["stuck ended", "next case"]
    assert capsys.readouterr().out == "Not yet: stuck: still running after 0.1 s\n"


def test_an_error_that_cannot_say_what_it_is_is_still_named(capsys):
    class Mute(Exception):
        def __str__(self):
            raise RuntimeError("no words")

    def answer():
        raise Mute

    assert verdict(capsys, returns(answer, (), 1)) == "Not yet: answer(): raised Mute\n"


def test_correct_must_say_what_a_right_answer_does():
    with pytest.raises(TypeError, match="correct must be"):
        check(case("x", lambda: None), correct="")
    with pytest.raises(TypeError, match="correct must be"):
        asyncio.run(check_async(case("x", lambda: None), correct=None))
