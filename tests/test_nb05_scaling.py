"""05 · scaling: the sweep, politeness, threads against coroutines, open files, a live chart."""

import math
import re
import subprocess
import sys

import nbformat
import nbformat.v4
import pytest

from nbrun import (BIG_N, CPU_COUNT, DEFAULT_WORKERS, LATENCY, N_REQUESTS, NOTEBOOKS, SWEEP, assert_judged_rightly,
                   check_live_redraw, execute, number, slide_and_read, text_of)
from tools.notebooks import client_for, prepare, small_parameters

NOTEBOOK = NOTEBOOKS / "05_scaling.ipynb"
MAC_LIMIT = 256  # the soft open-file limit macOS starts processes with

NAME = "05_scaling.ipynb"

# Plausible answers to each exercise, in the order of the exercises: fetch_politely, then
# workers_for_deadline. Each wrong one names the mistake (and the kind of case that catches it).
WRONG_ANSWERS = [
    [
        """
# issue 19: the check's own k typed in (caught by another k)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(3)

    async def one(session):
        async with limit:
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# a sequential loop that ignores k (caught by the server's peak)
async def fetch_politely(target, n_requests, k):
    async with aiohttp.ClientSession() as session:
        return [await get_status(session, target) for _ in range(n_requests)]
""",
        """
# all at once, no limit
async def fetch_politely(target, n_requests, k):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(get_status(session, target) for _ in range(n_requests)))
""",
        """
# a new Semaphore for each request: no limit at all
async def fetch_politely(target, n_requests, k):
    async def one(session):
        async with asyncio.Semaphore(k):
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# a Semaphore one too small (wastes time)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k - 1 or 1)

    async def one(session):
        async with limit:
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# statuses made up, not returned (caught by a case whose server answers 503)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)

    async def one(session):
        async with limit:
            await get_status(session, target)
            return 200

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# a 503 raised instead of returned (a failure of the kind the exercise names)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)

    async def one(session):
        async with limit:
            async with session.get(target) as response:
                response.raise_for_status()
                return response.status

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# one session made once and closed after the first call (caught by the second run)
polite_session = None


async def fetch_politely(target, n_requests, k):
    global polite_session
    polite_session = polite_session or aiohttp.ClientSession()
    limit = asyncio.Semaphore(k)

    async def one():
        async with limit:
            return await get_status(polite_session, target)

    async with polite_session:
        return await asyncio.gather(*(one() for _ in range(n_requests)))
""",
        """
# one request too few
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)

    async def one(session):
        async with limit:
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests - 1)))
""",
        """
# a second's pause in each slot, to be extra polite (caught by the upper bound on time)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)

    async def one(session):
        async with limit:
            status = await get_status(session, target)
            await asyncio.sleep(1)
            return status

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session) for _ in range(n_requests)))
""",
        """
# a tuple, not a list (the wrong type)
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)

    async def one(session):
        async with limit:
            return await get_status(session, target)

    async with aiohttp.ClientSession() as session:
        return tuple(await asyncio.gather(*(one(session) for _ in range(n_requests))))
""",
        """
# a plain def: returns a coroutine's result never (the wrong kind of function)
def fetch_politely(target, n_requests, k):
    return [200] * n_requests
""",
    ],
    [
        """
# issue 19: waves rounded to one decimal before flooring ((7, 0.5, 1.98) gives 2, not 3)
def workers_for_deadline(n_requests, latency, deadline):
    waves = math.floor(round(deadline / latency, 1))
    return math.ceil(n_requests / waves)
""",
        """
# rounded to four decimals: nearer, still over a boundary ((7, 0.5, 1.99999))
def workers_for_deadline(n_requests, latency, deadline):
    waves = math.floor(round(deadline / latency, 4))
    return math.ceil(n_requests / waves)
""",
        """
# deadline // latency (0.6 // 0.2 is 2.0)
def workers_for_deadline(n_requests, latency, deadline):
    waves = int(deadline // latency)
    return math.ceil(n_requests / waves)
""",
        """
# int() of the float division, no rounding (0.6 / 0.2 is 2.9999999999999996)
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / int(deadline / latency))
""",
        """
# threads from the total work
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests * latency / deadline)
""",
        """
# waves rounded, not floored
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / round(deadline / latency))
""",
        """
# waves ceiled, not floored
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / math.ceil(round(deadline / latency, 9)))
""",
        """
# threads floored, not ceiled
def workers_for_deadline(n_requests, latency, deadline):
    return n_requests // math.floor(round(deadline / latency, 9))
""",
        """
# the notebook's LATENCY, not the argument (caught by latencies other than the default)
def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / math.floor(round(deadline / LATENCY, 9)))
""",
        """
# a string (the wrong type)
def workers_for_deadline(n_requests, latency, deadline):
    waves = math.floor(round(deadline / latency, 9))
    return f"{math.ceil(n_requests / waves)} threads"
""",
        """
# an async def (the wrong kind of function)
async def workers_for_deadline(n_requests, latency, deadline):
    return math.ceil(n_requests / math.floor(round(deadline / latency, 9)))
""",
    ],
]

RIGHT_ANSWERS = [
    [
        """
# k workers, each sending requests until none is left
async def fetch_politely(target, n_requests, k):
    statuses, left = [], list(range(n_requests))

    async def worker(session):
        while left:
            left.pop()
            statuses.append(await get_status(session, target))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(k)))
    return statuses
""",
        """
# the connector's own limit: at most k connections
async def fetch_politely(target, n_requests, k):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=k)) as session:
        return list(await asyncio.gather(*(get_status(session, target) for _ in range(n_requests))))
""",
        """
# batches of k, one after another (each batch waits for its slowest)
async def fetch_politely(target, n_requests, k):
    statuses = []
    async with aiohttp.ClientSession() as session:
        for start in range(0, n_requests, k):
            batch = range(start, min(start + k, n_requests))
            statuses += await asyncio.gather(*(get_status(session, target) for _ in batch))
    return statuses
""",
        """
# acquire and release by hand, and tasks made first
async def fetch_politely(target, n_requests, k):
    limit = asyncio.Semaphore(k)
    async with aiohttp.ClientSession(timeout=SILENCE) as session:
        async def one():
            await limit.acquire()
            try:
                return await get_status(session, target)
            finally:
                limit.release()

        tasks = [asyncio.create_task(one()) for _ in range(n_requests)]
        return [await task for task in tasks]
""",
    ],
    [
        """
# a small tolerance added before flooring, and ceiling division with integers
def workers_for_deadline(n_requests, latency, deadline):
    waves = int(deadline / latency + 1e-9)
    return -(-n_requests // waves)
""",
        """
# the fewest threads, searched for
def workers_for_deadline(n_requests, latency, deadline):
    workers = 1
    while math.ceil(n_requests / workers) * latency > deadline + 1e-9:
        workers += 1
    return workers
""",
        """
# exact decimal arithmetic from the numbers as written
from decimal import Decimal


def workers_for_deadline(n_requests, latency, deadline):
    waves = int(Decimal(str(deadline)) // Decimal(str(latency)))
    return math.ceil(n_requests / waves)
""",
    ],
]


@pytest.mark.parametrize("exercise", range(len(WRONG_ANSWERS)))
def test_05_checks_accept_right_answers_and_say_not_yet_to_the_starter_and_each_wrong_answer(verdicts, exercise):
    assert_judged_rightly(verdicts[exercise])


def test_05_sweep_has_the_shape_of_each_method(executed):
    text = text_of(executed("05_scaling.ipynb"))
    rows = {int(n): [float(total) for total in totals] for n, totals in
            ((match[0], re.findall(r"([\d.]+) s \(", match[1])) for match in
             re.findall(r"^ +(\d+) \|(.*)$", text, re.MULTILINE))}
    assert sorted(rows) == SWEEP
    sync, default, sized, native = zip(*(rows[n] for n in SWEEP))
    # Sync grows about linearly: N x latency, each point within a generous margin.
    for n, total in zip(SWEEP, sync):
        assert n * LATENCY * 0.95 <= total < n * LATENCY * 1.5 + 0.3
    assert sync[-1] / sync[0] > 0.6 * SWEEP[-1] / SWEEP[0]
    # The default pool grows in waves of its real size; the native client stays near one latency.
    waves = math.ceil(SWEEP[-1] / number(r"the default pool has (\d+) threads", text))
    assert default[-1] >= waves * LATENCY * 0.95
    assert native[-1] < LATENCY * 1.5 + 0.3
    assert native[-1] < sync[-1] / 3


def test_05_reads_the_default_pool_size_from_a_pool(executed):
    text = text_of(executed("05_scaling.ipynb"))
    workers = number(r"the default pool has (\d+) threads", text)
    assert workers == DEFAULT_WORKERS  # this interpreter, this machine
    assert f"min(32, ({CPU_COUNT} or 1) + 4)" in text


def test_05_tail_politeness_threads_and_a_native_client_at_scale(executed):
    text = text_of(executed("05_scaling.ipynb"))
    # With jitter, the total follows the slowest request, well above the mean.
    slowest = number(r"slowest ([\d.]+) s", text)
    mean = number(r"mean ([\d.]+) s", text)
    total = number(r"async total ([\d.]+) s", text)
    assert slowest <= total < slowest + 0.15 and total > mean
    assert f"async total {total:.3f} s: near the slowest request, not the mean" in text
    # The semaphore caps what the server sees.
    assert "requests the server held at once, at the peak: 5\n" in text
    assert f"{N_REQUESTS} requests, at most 5 at once: {math.ceil(N_REQUESTS / 5)} waves" in text
    # Threads against coroutines: the pool adds threads and memory, the coroutines no threads.
    line = r"{} {}: peak (\d+) threads \((\d+) before\), memory \+([\d.]+) MiB; total ([\d.]+) s, 0 failed"
    coroutines = re.search(line.format(BIG_N, "coroutines"), text)
    threads = re.search(line.format(BIG_N, "threads"), text)
    assert coroutines and threads, text
    # A pool reuses a thread whose answer is in before the next call is queued, and on a busy
    # machine starting threads is slow, so fewer than BIG_N start (92 of 200 seen under load).
    assert int(coroutines[1]) - int(coroutines[2]) <= 2
    assert int(threads[1]) - int(threads[2]) >= 20
    assert re.search(r"the pool started \d+ threads, \d+ KiB of memory each", text)
    # The native client stays near one latency at the largest count tested.
    assert float(coroutines[4]) < LATENCY * 3 + 0.5
    # Measured beside it, httpx is slower at the largest count, and slows as the count grows.
    counts = [BIG_N // 8, BIG_N // 4, BIG_N // 2]
    timings = {n: re.search(rf"^ +{n} requests: aiohttp +([\d.]+) s, httpx +([\d.]+) s", text, re.MULTILINE)
               for n in counts}
    assert all(timings.values()), text
    assert float(timings[counts[-1]][2]) > float(timings[counts[-1]][1])
    assert float(timings[counts[-1]][2]) > float(timings[counts[0]][2])
    assert number(rf"at {counts[-1]} requests, httpx took ([\d.]+) times as long as aiohttp", text) > 1
    assert re.search(r"Python [\d.]+: 12 requests, statuses \[200\]", text)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no open-file limit of this kind")
def test_05_open_files_are_the_coroutines_ceiling(executed):
    text = text_of(executed("05_scaling.ipynb"))
    free = number(rf"soft limit {MAC_LIMIT}, \d+ files already open, so (\d+) free", text)
    over = number(r"free; (\d+) requests at once, no cap", text)  # under 1,000: no comma
    assert over > MAC_LIMIT  # more requests than the limit has files
    # Without a cap, about the requests beyond the free files fail, with the system's message.
    failed = number(r"no cap: (\d+) failed", text)
    assert (over - free) * 0.5 <= failed <= over - free + 64
    assert "ClientConnectorError: Cannot connect to host" in text and "[Too many open files]" in text
    # With the connector capped below the limit, none fails; they go in waves instead.
    cap = number(r"the same with TCPConnector\(limit=(\d+)\): 0 failed", text)
    assert 1 <= cap < free
    assert f"{math.ceil(over / cap)} waves of at most {int(cap)} connections" in text


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no open-file limit of this kind")
def test_05_runs_clean_under_a_macs_open_file_limit(tmp_path):
    """The kernel starts with the macOS default soft limit: the set-up raises it, says so, and
    no request of the notebook fails, the BIG_N coroutines and threads included."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 4 * BIG_N:
        pytest.skip(f"the hard open-file limit here, {hard}, leaves nothing to raise the soft one to")

    def lower_the_limit():  # in the child only: the runner, and the kernel it starts, inherit it
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAC_LIMIT, hard))

    command = [sys.executable, "-m", "tools.notebooks", str(tmp_path), str(NOTEBOOK)]
    for name, value in small_parameters(NOTEBOOK.name).items():
        command += ["-p", name, repr(value)]
    done = subprocess.run(command, cwd=NOTEBOOKS.parent, preexec_fn=lower_the_limit,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]  # a failed request fails its cell, and the run
    text = text_of(nbformat.read(tmp_path / NOTEBOOK.name, as_version=4))
    assert re.search(rf"open-file limit [\d,]+, raised from {MAC_LIMIT}\b", text), text
    for kind in ("coroutines", "threads"):
        assert re.search(rf"{BIG_N} {kind}: peak .*, 0 failed", text), text
    assert re.search(r"TCPConnector\(limit=\d+\): 0 failed", text)


def test_moving_the_slider_reruns_the_requests_and_redraws(tmp_path):
    notebook, seen = slide_and_read("05_scaling.ipynb", tmp_path, "await live.wait()")
    check_live_redraw(notebook, seen, r"aiohttp (?P<total>[\d.]+) s", ideal=LATENCY)


def test_the_trace_shows_the_semaphores_waits(executed):
    text = text_of(executed("05_scaling.ipynb"))
    waited = number(r"(\d+) of \d+ tasks waited for a slot", text)
    assert waited == N_REQUESTS - 5  # POLITE_K = 5: all but the first wave
    longest = number(r"waited for a slot, the longest ([\d.]+) s", text)
    assert longest >= (math.ceil(N_REQUESTS / 5) - 1) * LATENCY * 0.9


def test_05_aiohttp_looks_up_a_host_name_but_not_an_ip_address(executed):
    """An IP address needs no lookup; a host name is looked up by getaddrinfo in a thread of the
    default pool when the resolver is aiohttp's ThreadedResolver (with aiodns installed, c-ares
    looks it up, in a thread of its own that starts with each session)."""
    text = text_of(executed("05_scaling.ipynb"))
    resolver = re.search(r"the default resolver here is (\w+)", text)[1]
    assert re.search(rf"127\.0\.0\.1, an IP address: {N_REQUESTS} requests, no getaddrinfo call;", text)
    by_name = re.search(rf"localhost, a host name: {N_REQUESTS} requests, (.*?);", text)[1]
    if resolver == "ThreadedResolver":
        # One lookup for all the requests (aiohttp shares it, and caches the answer), in a thread
        # of the default pool, which asyncio names asyncio_0, asyncio_1...
        assert re.fullmatch(r"1 getaddrinfo call\(s\), in thread\(s\) \['asyncio_\d+'\]", by_name), by_name
    else:
        # aiodns installed: c-ares looks names up, in a thread that starts with each session, so
        # the thread count rises even for the IP address, which needs no lookup.
        assert re.search(r"the default resolver here is AsyncResolver \(aiodns [\w.]+, pycares [\w.]+\)", text)
        assert by_name == "no getaddrinfo call"
        before, peak = re.search(r"127\.0\.0\.1, an IP address: .* (\d+) before, (\d+) at the peak", text).groups()
        assert int(peak) > int(before)


def test_05_measures_the_sync_line_on_the_drawn_axes(executed):
    text = text_of(executed("05_scaling.ipynb"))
    angle = number(r"as drawn, the sync ideal rises at ([\d.]+) degrees", text)
    across = number(r"a decade is (\d+) pixels across", text)
    up = number(r"pixels across and (\d+) pixels up", text)
    assert abs(angle - math.degrees(math.atan2(up, across))) < 0.5
    assert angle < 40  # not 45: a decade of seconds is drawn shorter than a decade of requests here


def test_05_a_semaphore_is_not_a_rate(executed):
    text = text_of(executed("05_scaling.ipynb"))
    rates = [float(rate) for rate in re.findall(r"Semaphore\(5\), latency [\d.]+ s: (\d+) requests per second", text)]
    assert len(rates) == 2
    assert rates[1] > 2 * rates[0]  # a tenth of the latency, at least twice the rate, through the same cap


def test_05_to_thread_copies_the_context_and_taskgroup_cancels_where_gather_does_not(executed):
    text = text_of(executed("05_scaling.ipynb"))
    assert ("asyncio.to_thread sees 'set in the coroutine'; loop.run_in_executor sees 'not set'") in text
    assert f"gather_under_wait_for: RuntimeError; then {N_REQUESTS} of the {N_REQUESTS} requests finished" in text
    if sys.version_info >= (3, 11):
        assert f"task_group: ExceptionGroup; then 0 of the {N_REQUESTS} requests finished" in text
    else:
        assert "no TaskGroup before 3.11" in text


def test_05_httpx_defaults_and_a_pool_timeout_are_measured(executed):
    text = text_of(executed("05_scaling.ipynb"))
    n = min(BIG_N, 300)
    took = number(rf"httpx's defaults, {n} requests at once: ([\d.]+) s", text)
    assert took >= math.ceil(n / 100) * LATENCY * 0.95
    # How many answered is said beside the failures (whatever this machine makes of the defaults).
    answered = number(rf"httpx's defaults, {n} requests at once: .* (\d+) answered, failures: ", text)
    assert 0 <= answered <= n
    # Half a latency to get a connection, in a pool of 10: the first ten answer, and the later
    # waves, which wait about a latency or more, fail with PoolTimeout.
    small = re.search(r"a pool of 10 with pool=[\d.]+ s, 30 requests at once: [\d.]+ s, (\d+) answered, failures: (.*)",
                      text)
    assert small, text
    assert int(small[1]) == 10 and small[2] == "{'PoolTimeout': 20}", small[0]


def test_05_aiohttp_default_timeout_is_printed(executed):
    text = text_of(executed("05_scaling.ipynb"))
    assert re.search(r"aiohttp's default timeout: ClientTimeout\(total=300,.*sock_connect=30", text)


def test_05_a_real_site_gets_every_count_lowered_and_said(tmp_path):
    """With URL set (here the test's own local server, standing in for a real site), the set-up
    lowers each count and prints it, and the notebook runs without error."""
    import helpers

    with helpers.start_server(latency=LATENCY) as stand_in:
        notebook = execute(NOTEBOOKS / NAME, tmp_path, parameters={"URL": stand_in.url, "BIG_N": 200,
                                                                   "SWEEP": [1, 3, 30]})
    text = text_of(notebook)
    assert "a real site: no run sends it more than 20 requests at once" in text
    assert "SWEEP is [1, 3] (it was [1, 3, 30])" in text and "BIG_N is 20 (it was 200)" in text
    assert "skipped: this needs a Unix open-file limit and the local server" in text
    assert "Not yet: fetch_politely(target, 9, 3): this check counts requests at the server" in text
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
              if output.output_type == "error"]
    assert errors == []


def test_05_shares_get_status_and_silence_with_helpers_fetching():
    """05 teaches get_status and SILENCE; helpers.fetching holds the same for 07."""
    import inspect

    from helpers import fetching

    notebook = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    source = next(cell.source for cell in notebook.cells if "async def get_status(" in cell.source)
    for line in ("async with session.get(target) as response:", "await response.read()", "return response.status"):
        assert line in source and line in inspect.getsource(fetching.get_status)
    assert "SILENCE = aiohttp.ClientTimeout(sock_connect=PATIENCE, sock_read=PATIENCE)" in source
    assert fetching.silence(7) == fetching.aiohttp.ClientTimeout(sock_connect=7, sock_read=7)


def test_fetching_get_status_returns_or_raises_a_status_and_checks_its_arguments(fresh_server):
    import asyncio

    import aiohttp

    from helpers.fetching import SILENCE, get_status, silence

    assert SILENCE == silence(10)
    for bad in (0, -1, True, "10", 3601):
        with pytest.raises(ValueError, match="patience must be a number of seconds"):
            silence(bad)

    async def statuses():
        async with aiohttp.ClientSession(timeout=silence(5)) as session:
            ok = await get_status(session, fresh_server.url)
            unavailable = await get_status(session, fresh_server.url_for(status=503))
            with pytest.raises(aiohttp.ClientResponseError):
                await get_status(session, fresh_server.url_for(status=503), raise_for_status=True)
            with pytest.raises(TypeError, match="target must be a URL"):
                await get_status(session, 5)
        with pytest.raises(TypeError, match="session must be an aiohttp.ClientSession"):
            await get_status(None, fresh_server.url)
        return ok, unavailable

    assert asyncio.run(statuses()) == (200, 503)


def test_fetching_watch_lookups_notes_each_getaddrinfo_with_its_thread_inside_the_block_only():
    import asyncio
    import socket

    from helpers.fetching import Lookup, watch_lookups

    async def look_up():
        loop = asyncio.get_running_loop()
        with watch_lookups() as outer:
            await loop.getaddrinfo("localhost", 80)
            with watch_lookups() as inner:
                socket.getaddrinfo("localhost", 80)
        socket.getaddrinfo("localhost", 80)  # after the blocks: noted nowhere
        return outer, inner

    outer, inner = asyncio.run(look_up())
    assert re.fullmatch(r"asyncio_\d+", outer[0].thread) and outer[0].host == "localhost"
    assert outer[1:] == inner == [Lookup("localhost", "MainThread")]


def run_cells(tmp_path, ids, **parameters):
    """Run only the parameter cells and the cells with these ids, with the small parameters and
    these; return what they printed."""
    notebook = prepare(NOTEBOOK, {**small_parameters(NAME), **parameters})
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") in ids
                      or {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", []))]
    client_for(notebook, tmp_path, timeout=300).execute()
    return text_of(notebook)


def test_05_one_request_gets_verdicts_that_hold_for_one(tmp_path):
    """With N_REQUESTS = 1 the tail verdict cannot say the total is the slowest and not the
    mean (they are the same request), and one wave is one wave."""
    text = run_cells(tmp_path, {"nb05-004", "nb05-009", "nb05-012", "nb05-027", "nb05-030", "nb05-031"},
                     N_REQUESTS=1)
    assert re.search(r"async total [\d.]+ s: one request, so its slowest and its mean are the same", text), text
    assert "1 requests, at most 5 at once: 1 wave, ideal" in text, text
