"""Scaffolding for the notebooks: a local latency server, timing records, resource peaks, and
traces of the event loop.

The charts live in ``helpers.plots`` (``from helpers.plots import plot_timeline``), kept out of
this module so that the server's child process starts without importing matplotlib. Importing
``helpers`` changes nothing global: no plot settings, no event-loop patching, no server started.
"""

from helpers.resources import ResourceUsage, track_resources
from helpers.server import LatencyServer, ServerStats, SharedServer, course_server, start_server
from helpers.timing import RequestRecord, Run, RunContext, timed_run
from helpers.trace import LoopTrace, TaskTrace, ThreadCall, trace_loop

__all__ = [
    "LatencyServer",
    "LoopTrace",
    "RequestRecord",
    "ResourceUsage",
    "Run",
    "RunContext",
    "ServerStats",
    "SharedServer",
    "TaskTrace",
    "ThreadCall",
    "course_server",
    "start_server",
    "timed_run",
    "trace_loop",
    "track_resources",
]
