"""Shared fixtures. Everything here talks to 127.0.0.1 only."""

import matplotlib
import nbformat
import pytest

import helpers
from nbrun import NOTEBOOKS, execute, try_answers

matplotlib.use("Agg")  # tests draw off-screen; notebooks keep their own inline backend

LATENCY = 0.1


@pytest.fixture(scope="module")
def server():
    """One latency server for a test module, stopped at the module's end."""
    with helpers.start_server(latency=LATENCY) as running:
        yield running


@pytest.fixture
def fresh_server(server):
    """The module's server with its counts reset, for tests that read ``stats()``."""
    server.reset_stats()
    return server


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Each notebook executed once with small parameters, shared by a module's tests that read it."""
    cache = {}

    def run(name: str) -> nbformat.NotebookNode:
        if name not in cache:
            cache[name] = execute(NOTEBOOKS / name, tmp_path_factory.mktemp(name.split(".")[0]))
        return cache[name]

    return run


@pytest.fixture(scope="module")
def verdicts(request, tmp_path_factory):
    """Each exercise's check in the module's notebook (``NAME``), run after the starter, the
    solution, each of the module's ``WRONG_ANSWERS`` and each of its ``RIGHT_ANSWERS`` (per
    exercise, right answers written differently from the solution)."""
    name = request.module.NAME
    return try_answers(name, tmp_path_factory.mktemp(name.split("_")[0] + "_answers"), request.module.WRONG_ANSWERS,
                       getattr(request.module, "RIGHT_ANSWERS", None))
