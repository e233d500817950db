"""Scaffolding for the notebooks: the latency server a notebook times, timing records, traces
of the event loop, and resource peaks.

What a notebook imports from ``helpers`` itself comes first below, and is all of ``__all__``.
The rest lives in modules a notebook names when it needs them: charts in ``helpers.plots``, live
charts in ``helpers.live`` (ipywidgets), exercise checks in ``helpers.checks``, parameter checks
in ``helpers.params``, aiohttp pieces in ``helpers.fetching``, event-loop probes in
``helpers.loops``; the room's server, for a teacher's shell, in ``helpers.room``. Keeping charts
and widgets out lets the server's child process start without importing matplotlib.

Importing ``helpers`` changes nothing global: no plot settings, no event-loop patching, no
server started.
"""

from helpers.server import course_server
from helpers.timing import RequestRecord, Run, timed_run
from helpers.trace import trace_loop
from helpers.resources import track_resources
# Less often: for the tests, the benchmarks and the curious.
from helpers.resources import ResourceUsage, default_workers, raise_open_file_limit
from helpers.server import LatencyServer, RealSite, ServerStats, SharedServer, start_server
from helpers.timing import RunContext
from helpers.trace import LoopTrace, TaskTrace, ThreadCall

__all__ = [
    # what the notebooks use
    "course_server",
    "timed_run",
    "trace_loop",
    "track_resources",
    "Run",
    "RequestRecord",
    # the rest
    "LatencyServer",
    "LoopTrace",
    "RealSite",
    "ResourceUsage",
    "RunContext",
    "ServerStats",
    "SharedServer",
    "TaskTrace",
    "ThreadCall",
    "default_workers",
    "raise_open_file_limit",
    "start_server",
]
