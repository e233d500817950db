"""Parameter checks: one line that names the parameter and says what to change."""

import pytest

from helpers.params import ParameterError, check_parameters, counts, expect_wait, seconds, site_url, whole


def message(**given) -> str:
    with pytest.raises(ParameterError) as caught:
        check_parameters(**given)
    (line,) = caught.value._render_traceback_()
    assert "\n" not in line
    return str(caught.value)


def test_good_values_pass_quietly(capsys):
    check_parameters(N_REQUESTS=20, LATENCY=0.3, URL=None, PATIENCE=10)
    check_parameters(URL="https://example.com/x", SWEEP=([1, 10, 100], counts(1, 10_000)))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("given, expected", [
    ({"N_REQUESTS": "20"}, "N_REQUESTS must be a whole number from 1 to 1,000, got '20' (a string: remove the quotes)"),
    ({"N_REQUESTS": 0}, "N_REQUESTS must be a whole number from 1 to 1,000, got 0."),
    ({"N_REQUESTS": 10_000}, "got 10000."),
    ({"N_REQUESTS": 20.0}, "got 20.0 (a float: write 20)"),
    ({"N_REQUESTS": True}, "got True (True or False, not a number)"),
    ({"LATENCY": -1}, "LATENCY must be a number of seconds from 0.01 to 10, got -1."),
    ({"LATENCY": float("nan")}, "LATENCY must be a number of seconds"),
    ({"PATIENCE": 0}, "PATIENCE must be a number of seconds from 0.1 to 300, got 0."),
    ({"LATENCY": 10**400}, "LATENCY must be a number of seconds from 0.01 to 10, got 1000"),
    ({"URL": "example.com"}, "URL must be None (the local server) or an address such as 'https://example.com', got 'example.com'"),
    ({"URL": 1}, "URL must be None"),
    ({"SWEEP": ([], counts(1, 10))}, "SWEEP must be a list of whole numbers, each from 1 to 10, got []"),
    ({"SWEEP": ([1, "2"], counts(1, 10))}, "got [1, '2']"),
    ({"BIG_N": (0, whole(1, 5))}, "BIG_N must be a whole number from 1 to 5, got 0"),
    ({"SILENCE": ("1", seconds(0, 5))}, "SILENCE must be a number of seconds from 0 to 5, got '1' (a string"),
])
def test_a_bad_value_is_named_with_what_to_change(given, expected):
    said = message(**given)
    assert expected in said
    assert said.endswith("Change it in the parameter cell and run the notebook again.")


def test_the_first_bad_value_stops_the_check():
    assert message(N_REQUESTS=0, LATENCY=-1).startswith("N_REQUESTS")


def test_an_unknown_parameter_needs_a_rule():
    with pytest.raises(TypeError, match=r"pass SWEEP=\(value, rule\)"):
        check_parameters(SWEEP=[1, 2])


def test_rules_check_their_own_arguments():
    for make in (whole, seconds, counts):
        with pytest.raises(ValueError, match="low and high"):
            make(5, 1)
    assert site_url()("URL", None) is None


def test_a_long_wait_is_announced_and_a_short_one_is_not(capsys):
    expect_wait(3000, "the sync loop")
    expect_wait(5, "the sync loop")
    assert capsys.readouterr().out.splitlines() == [
        "This will take about 50 min: the sync loop. To go faster, lower the parameters and run the "
        "notebook again (Kernel > Restart Kernel and Run All Cells)."]
    for bad in (-1, "10", float("inf")):
        with pytest.raises(ValueError, match="estimate must be"):
            expect_wait(bad, "x")


def test_a_notebooks_own_rule_wins_over_the_known_one():
    with pytest.raises(ParameterError, match="N_REQUESTS must be a whole number from 1 to 5, got 20"):
        check_parameters(N_REQUESTS=(20, whole(1, 5)))


def test_the_float_hint_is_only_for_whole_numbers():
    with pytest.raises(ParameterError) as caught:
        check_parameters(PATIENCE=0.0)
    assert "write 0" not in str(caught.value)
