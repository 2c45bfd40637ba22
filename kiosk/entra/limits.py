"""Limits on what Graph (or whoever answers in its place) can make the kiosk do.

- **Size**: a response body is read in chunks and refused past :data:`MAX_RESPONSE_BYTES`
  (decoded: a gzip bomb counts at its real size); a declared ``Content-Length`` above it is
  refused before reading. A 600 MB body costs a few chunks of memory, not 600 MB.
- **Time**: one :class:`Deadline` per call, retries and waits included
  (``graph.call_deadline_seconds``). Every socket read is given only the time left, so a
  server trickling one byte every few seconds cannot keep a call alive past it.
- **Pages**: a listing follows at most :data:`MAX_PAGES` next links and never the same one
  twice (a nextLink pointing to itself is refused, not followed forever).
- **Redirects and plain HTTP**: never followed (a 3xx is an error, see
  :class:`kiosk.entra.http.KioskSession`), and ``http://`` is refused except on the loopback
  interface when a test asks for it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from requests.adapters import BaseAdapter

from kiosk.entra.errors import GraphResponseError, NetworkError

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""Largest body the kiosk reads (a full page of 999 group members is about 1 MB)."""
MAX_PAGES = 5000
"""Most pages one listing follows (5000 x 999 members)."""
CHUNK = 64 * 1024


class Deadline:
    """The wall-clock end of one call, retries included."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.end = clock() + seconds

    def left(self) -> float:
        return self.end - self.clock()

    def error(self, what: str) -> NetworkError:
        return NetworkError(
            f"{what}: no complete answer within {self.seconds:g} seconds "
            "(graph.call_deadline_seconds)."
        )


_watch = threading.local()


@contextlib.contextmanager
def watched(deadline: Deadline) -> Iterator[None]:
    """While inside, each connection this thread sends a request on is cut at the deadline:
    a server trickling its status line or headers cannot hold the call past it either."""
    _watch.deadline, _watch.timers = deadline, []
    try:
        yield
    finally:
        for timer in _watch.timers:
            timer.cancel()
        _watch.deadline, _watch.timers = None, []


def watch_connection(conn: Any) -> None:
    """Called by the kiosk's connections once a request is written (:mod:`on_sent`)."""
    deadline: Deadline | None = getattr(_watch, "deadline", None)
    sock = getattr(conn, "sock", None)
    if deadline is None or sock is None:
        return

    def cut() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline.left()), cut)
    timer.daemon = True
    timer.start()
    _watch.timers.append(timer)


def _socket_timeout(resp: requests.Response, seconds: float) -> None:
    """Give the next socket read at most ``seconds`` (a slow server cannot stretch a read)."""
    with contextlib.suppress(AttributeError, OSError):
        # urllib3 2: the connection the body comes over.
        sock = getattr(resp.raw.connection, "sock", None)
        if sock is not None:
            sock.settimeout(max(0.01, seconds))


def read_body(
    resp: requests.Response, *, what: str, deadline: Deadline, cap: int = MAX_RESPONSE_BYTES
) -> bytes:
    """The whole body of a streamed response, refused past ``cap`` bytes or the deadline."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        resp.close()
        raise GraphResponseError(
            f"{what}: the answer would be {int(declared):,} bytes; the kiosk reads at most "
            f"{cap:,}."
        )
    if resp.raw is None or not hasattr(resp.raw, "read1"):
        held: bytes = resp.content  # an answer made in memory (an adapter without a socket)
        if len(held) > cap:
            raise GraphResponseError(f"{what}: the answer is longer than {cap:,} bytes.")
        return held
    body = bytearray()
    try:
        while True:
            left = deadline.left()
            if left <= 0:
                raise deadline.error(what)
            _socket_timeout(resp, left)
            chunk = resp.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > cap:
                raise GraphResponseError(
                    f"{what}: the answer is longer than {cap:,} bytes; the kiosk stopped "
                    "reading it."
                )
    except (GraphResponseError, NetworkError):
        resp.close()
        raise
    except Exception as exc:  # urllib3's read errors: a timeout, a cut connection
        resp.close()
        if deadline.left() <= 0:
            raise deadline.error(what) from None
        raise requests.exceptions.ChunkedEncodingError(type(exc).__name__) from None
    return bytes(body)


class PlainHttpRefused(BaseAdapter):
    """Mounted for ``http://``: the kiosk talks to login and Graph over HTTPS only."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raise requests.exceptions.InvalidSchema(
            "plain http:// is refused: the kiosk only speaks HTTPS to Entra and Graph"
        )

    def close(self) -> None:
        pass


class PageGuard:
    """One listing's next links: none followed twice, at most ``max_pages`` pages."""

    def __init__(self, what: str, max_pages: int = MAX_PAGES) -> None:
        self.what = what
        self.max_pages = max_pages
        self.seen: set[str] = set()

    def check(self, url: str, number: int) -> None:
        if number > self.max_pages:
            raise GraphResponseError(
                f"{self.what}: more than {self.max_pages} pages; the kiosk stopped following "
                "next links."
            )
        if url in self.seen:
            raise GraphResponseError(
                f"{self.what} (page {number}): Graph's @odata.nextLink repeats an earlier "
                "page; the kiosk stopped instead of following it in a loop."
            )
        self.seen.add(url)
