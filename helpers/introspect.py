"""Another program's event loop, seen from outside: Python 3.14's ``python -m asyncio ps PID``
and ``pstree PID``, which list a running program's tasks and who awaits whom.

Notebook 06 runs a small crawler that is really stuck and points those tools at it::

    with program(CRAWLER, server_url, ready="fetching", name="crawler.py") as crawler:
        print(asyncio_tool("pstree", crawler.pid))

The tools read the other process's memory (on Linux with ``process_vm_readv``), so they work only
where the operating system lets the reader do that, by the rules of ptrace: the same user with
no fewer capabilities (and, under Yama's ptrace_scope 1, a reader the program allows: ``program``
allows any), or a reader with the right to trace (``CAP_SYS_PTRACE``, which root has unless it
was dropped); and both processes must run the same Python version.
"""

from __future__ import annotations

import contextlib
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator

__all__ = ["asyncio_tool", "program"]

# Runs the program's source under the name it is given, so that tracebacks and `pstree` name it.
# First, on Linux, it lets any process of the same user read its memory: under Yama's
# ptrace_scope 1 (Ubuntu's default) only a process's ancestors may, and the tool that reads it is
# its sibling. This is prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY); without Yama it does nothing.
_LAUNCHER = """\
import ctypes, sys
if sys.platform == "linux":
    try:
        ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)
    except (OSError, AttributeError):
        pass
name, source = sys.argv[1:3]
sys.argv = [name, *sys.argv[3:]]
exec(compile(source, name, "exec"), {"__name__": "__main__"})
"""


@contextlib.contextmanager
def program(source: str, *args: str, ready: str, name: str = "program.py",
            seconds: float = 30) -> Iterator[subprocess.Popen]:
    """Run the Python program ``source`` (with ``args``) in a process of its own, for a ``with`` block.

    It runs with this Python, as the file ``name``. The block gets the ``Popen`` once the program
    has printed a line starting with ``ready``; RuntimeError says why if it ends first, prints
    another line first, or prints nothing within ``seconds``. The block's end kills the process.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a Python program (a str), got {source!r}")
    if not all(isinstance(arg, str) for arg in args):
        raise TypeError(f"args must be strings, got {args!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 600:
        raise ValueError(f"seconds must be a number from 0 to 600, got {seconds!r}")
    process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, name, source, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(seconds)
        if not (lines and lines[0].startswith(ready)):
            if not lines:
                how = f"ran {seconds:g} s without printing {ready!r}"
            elif not lines[0]:  # the end of its output: it has ended
                how = f"ended (exit code {process.wait()}) without printing {ready!r}"
            else:
                how = f"printed {lines[0].strip()!r} where {ready!r} was expected"
            process.kill()
            said = process.communicate()[1].strip()[-500:]
            raise RuntimeError(f"{name} {how}" + (f": {said}" if said else ""))
        yield process
    finally:
        process.kill()
        process.communicate()


def asyncio_tool(command: str, pid: int, seconds: float = 30) -> str:
    """What ``python -m asyncio ps PID`` or ``pstree PID`` prints, errors included, run with this Python.

    Both came in Python 3.14 (RuntimeError before) and read the other process's memory: the reader
    must be allowed to (on Linux, by the rules of ptrace), and both must run the same Python version.
    """
    if command not in ("ps", "pstree"):
        raise ValueError(f"command must be 'ps' or 'pstree', got {command!r}")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValueError(f"pid must be a process id (a whole number above 0), got {pid!r}")
    if sys.version_info < (3, 14):
        raise RuntimeError(f"python -m asyncio {command} came in Python 3.14; this is {platform.python_version()}")
    done = subprocess.run([sys.executable, "-m", "asyncio", command, str(pid)],
                          capture_output=True, text=True, timeout=seconds)
    return (done.stdout + done.stderr).rstrip()
