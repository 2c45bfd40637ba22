"""Know when a request has left: run a callback once this thread's request is on the wire.

``requests`` sends a request and waits for its answer in one call, so a caller cannot do
something *between* the two. The long-list reader needs exactly that: it hands the page it has
just read to the caller only once the request for the next page is on its way, so the caller's
work on that page (decoding JSON, building users) never holds Python's lock while the next
request is still being written. :class:`SignallingAdapter` is the ``requests`` transport adapter
of :class:`~kiosk.entra.http.KioskSession`; its connections call the callback armed by
:func:`on_sent` right after writing a request.

The callback runs at most once, and always: if no request went out (an error before sending, a
proxy, a test's own adapter), it runs when the ``with`` block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kiosk.entra.limits import watch_connection

_armed = threading.local()


def _fire() -> None:
    callback: Callable[[], None] | None = getattr(_armed, "callback", None)
    if callback is not None:
        _armed.callback = None
        callback()


@contextmanager
def on_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Run ``callback`` once: when this thread's next request is written, or at the block's end."""
    done = False

    def once() -> None:
        nonlocal done
        if not done:
            done = True
            callback()

    outer: Callable[[], None] | None = getattr(_armed, "callback", None)
    _armed.callback = once
    try:
        yield
    finally:
        _armed.callback = outer
        once()


class _HTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        watch_connection(self)  # cut at the call's deadline (kiosk.entra.limits)
        _fire()


class _HTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        watch_connection(self)
        _fire()


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class SignallingAdapter(HTTPAdapter):
    """``requests``' own adapter whose direct connections signal :func:`on_sent`.

    Through a proxy the standard connections are used and the callback runs when the call
    returns instead (correct, only less overlap).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
