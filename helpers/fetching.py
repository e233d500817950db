"""Small aiohttp pieces that notebooks 05 and 07 share: one request's status, and a timeout on silence.

Notebook 05 introduces them, in its section on a native async client; 07 uses them again::

    from helpers.fetching import get_status, silence

    SILENCE = silence(PATIENCE)  # give up after PATIENCE seconds of silence, connecting or reading
    async with aiohttp.ClientSession(timeout=SILENCE) as session:
        status = await get_status(session, url)  # 200

``SILENCE`` here is the same timeout for the parameter cells' default ``PATIENCE`` of 10 s; a
notebook whose ``PATIENCE`` may change builds its own with ``silence(PATIENCE)``.
"""

from __future__ import annotations

import aiohttp
import yarl

__all__ = ["DEFAULT_PATIENCE", "SILENCE", "get_status", "silence"]

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
