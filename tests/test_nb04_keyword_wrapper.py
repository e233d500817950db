"""04 · keywords through run_in_executor: real timeouts and stream=True."""


from nbrun import LATENCY, N_REQUESTS, number, text_of


def test_04_timeouts_are_real_and_marked(executed):
    notebook = executed("04_keyword_wrapper.ipynb")
    text = text_of(notebook)
    slow = sum(1 for i in range(N_REQUESTS) if i % 3 == 2)
    assert f"{slow} of {N_REQUESTS} requests timed out" in text
    assert text.count("ReadTimeout: ") == slow
    assert "got: ['0.150000', '0.150000', '0.150000']" in text  # the late-binding trap
    assert "got: ['0.050000', '0.100000', '0.150000']" in text  # and its fix
    assert "right after: ServerStats(served=0, rejected=0, in_flight=1" in text
    assert "a moment later: ServerStats(served=1, rejected=0, in_flight=0" in text
    headers = number(r"stream=True:  returned after ([\d.]+) s", text)
    assert headers < LATENCY + 0.2
