"""Small aiohttp pieces that notebooks 05 and 07 share: one request's status, and a timeout on silence;
and, for 05, a way to see a client's name lookups (``watch_lookups``).

Notebook 05 introduces them, in its section on a native async client; 07 uses them again::

    from helpers.fetching import get_status, silence

    SILENCE = silence(PATIENCE)  # give up after PATIENCE seconds of silence, connecting or reading
    async with aiohttp.ClientSession(timeout=SILENCE) as session:
        status = await get_status(session, url)  # 200

``SILENCE`` here is the same timeout for the parameter cells' default ``PATIENCE`` of 10 s; a
notebook whose ``PATIENCE`` may change builds its own with ``silence(PATIENCE)``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import yarl

__all__ = ["DEFAULT_PATIENCE", "SILENCE", "Lookup", "get_status", "silence", "watch_lookups"]

DEFAULT_PATIENCE = 10  # seconds: PATIENCE in every notebook's parameter cell


def silence(patience: float = DEFAULT_PATIENCE) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for ``patience`` seconds of silence: to connect, and for each wait between reads.

    These are the two bounds that requests' ``timeout=patience`` sets. It is not a deadline: a
    server that sends a byte now and then keeps a request going. aiohttp's own default,
    ``ClientTimeout(total=300, sock_connect=30)``, bounds the whole request at five minutes instead.
    """
    if isinstance(patience, bool) or not isinstance(patience, (int, float)) or not 0 < patience <= 3600:
        raise ValueError(f"patience must be a number of seconds above 0 and at most 3600, got {patience!r}")
    return aiohttp.ClientTimeout(sock_connect=patience, sock_read=patience)


SILENCE = silence()


async def get_status(session: aiohttp.ClientSession, target: str | yarl.URL, *,
                     raise_for_status: bool = False) -> int:
    """GET ``target`` with ``session``, read the whole body, and return the response's status code.

    The body is read so that the connection goes back to the session's pool for the next
    request. With ``raise_for_status=True`` a status of 400 or more raises
    ``aiohttp.ClientResponseError`` instead of being returned.
    """
    if not isinstance(session, aiohttp.ClientSession):
        raise TypeError(f"session must be an aiohttp.ClientSession, got {type(session).__name__}")
    if not isinstance(target, (str, yarl.URL)):
        raise TypeError(f"target must be a URL (a str), got {target!r}")
    async with session.get(target) as response:
        await response.read()
        if raise_for_status:
            response.raise_for_status()
        return response.status


@dataclass(frozen=True)
class Lookup:
    """One call of ``socket.getaddrinfo``: the host it looked up, and the name of the thread that called it."""

    host: str
    thread: str


_watching: list[list[Lookup]] = []  # one list per open watch_lookups block
_hook_lock = threading.Lock()
_hook_added = False


def _note_lookup(event: str, args: tuple) -> None:
    """The audit hook: Python calls it for every audited event, in the thread that raised it."""
    if event == "socket.getaddrinfo" and _watching:
        lookup = Lookup(str(args[0]), threading.current_thread().name)
        for seen in list(_watching):
            seen.append(lookup)


@contextlib.contextmanager
def watch_lookups() -> Iterator[list[Lookup]]:
    """Note every ``socket.getaddrinfo`` call of this process while the block runs, in any thread.

    Yields a list that fills with a ``Lookup`` per call: the host, and the thread that made the
    call (``asyncio_0``, ``asyncio_1``... are the threads of an event loop's default pool, where
    ``loop.getaddrinfo`` runs it). Python announces each call to audit hooks
    (``sys.addaudithook``, the ``socket.getaddrinfo`` event); the first block adds one hook, which
    stays for the life of the process (Python cannot remove one) and notes nothing outside a block.
    A resolver that does not call ``getaddrinfo`` (aiohttp's ``AsyncResolver``, through c-ares)
    leaves the list empty, and so does aiohttp given an IP address, which it does not look up.
    """
    global _hook_added
    with _hook_lock:
        if not _hook_added:
            sys.addaudithook(_note_lookup)
            _hook_added = True
    seen: list[Lookup] = []
    _watching.append(seen)
    try:
        yield seen
    finally:
        _watching.remove(seen)
