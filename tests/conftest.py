"""Shared fixtures. Everything here talks to 127.0.0.1 only."""

import matplotlib
import pytest

import helpers

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
