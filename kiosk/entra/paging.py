"""Reading long Graph lists with as little time between pages as the network allows.

Following ``@odata.nextLink`` is strictly one page after another, so what counts is the time
from the moment a page's last byte arrives to the moment the next request leaves. Graph writes
the next link before the page's values (``{"@odata.context": ..., "@odata.nextLink": ...,
"value": [...]}``), so :func:`link_before_value` reads it from the first bytes of the page and
:func:`read_ahead` asks for the next page at once: decoding the page's JSON and everything the
caller does with it happen while the next request is under way. The page is handed to the
caller once that request is on the wire (:func:`~kiosk.entra.on_sent.on_sent`), or right after
its answer if the caller is still busy with the page before, so the caller's work never delays
a request.

A page whose link comes after its values (other OData servers; unusual JSON) is decoded whole
before the next request, exactly as a plain loop would.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kiosk.entra.on_sent import on_sent

HEAD_BYTES = 16384
"""How much of a page :func:`link_before_value` reads at most (Graph's links are < 2 KB)."""

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


@dataclass(frozen=True)
class RawPage:
    """One page as it came off the wire, not decoded yet."""

    number: int
    body: bytes
    status: int
    request_id: str


def link_before_value(body: bytes) -> str | None:
    """The ``@odata.nextLink`` that ``body`` carries before its ``value`` member, if it does.

    None when the head of the page does not say: the last page (no link), a link written after
    the values, or a head that is not a plain JSON object. Only the members before ``value`` are
    read, at most :data:`HEAD_BYTES`; the caller decodes the whole page later and checks that it
    names the same link.
    """
    head = body[:HEAD_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # cut inside a character, or not UTF-8 from here on
        text = head[: exc.start].decode("utf-8")
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return None
    pos += 1
    while True:
        try:
            key, pos = _DECODER.raw_decode(text, _skip(text, pos))
            pos = _skip(text, pos)
            if not isinstance(key, str) or key == "value" or not text.startswith(":", pos):
                return None
            member, pos = _DECODER.raw_decode(text, _skip(text, pos + 1))
        except ValueError:  # cut short by HEAD_BYTES, or not JSON
            return None
        if key == "@odata.nextLink":
            return member if isinstance(member, str) and member else None
        pos = _skip(text, pos)
        if not text.startswith(",", pos):
            return None
        pos += 1


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


Fetch = Callable[[str, int], RawPage]
"""Read page ``number`` at this URL (raises the request's errors)."""
Decode = Callable[[RawPage, str | None], tuple[list[Any], str | None]]
"""Decode a page: its value list and its checked next link; the second argument is the link
already read ahead (the decoded page must name the same one)."""
Follow = Callable[[str], str]
"""Check a next link before it is followed (raises if it must not be)."""


def read_ahead(
    url: str, fetch: Fetch, decode: Decode, follow: Follow, ahead: int = 1
) -> Iterator[list[Any]]:
    """Each page's value list, following next links to the end, one request always in flight.

    A helper thread does the requests. It stays at most ``ahead`` pages ahead of the caller
    (besides the page being fetched and the one it has just read), so memory stays flat, and it
    stops when the caller stops iterating. Errors reach the caller in order: every page read
    before the failing request first, then the error as the request raised it.
    """
    walker = _Walker(url, fetch, decode, follow, ahead)
    worker = threading.Thread(target=walker.walk, name="graph-pages", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = walker.pages.get()
            if kind == "raw":
                raw, link = item
                yield decode(raw, link)[0]
            elif kind == "page":
                yield item
            elif kind == "end":
                return
            else:
                raise item
    finally:
        walker.stop.set()


class _Walker:
    """The helper thread's side of :func:`read_ahead`: fetches the pages, hands them over."""

    def __init__(self, url: str, fetch: Fetch, decode: Decode, follow: Follow, ahead: int):
        self.pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, ahead))
        self.stop = threading.Event()
        self._url = url
        self._fetch = fetch
        self._decode = decode
        self._follow = follow

    def put(self, item: tuple[str, Any]) -> bool:
        """Hand ``item`` to the caller, waiting for room; False once the caller has stopped."""
        while not self.stop.is_set():
            try:
                self.pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def walk(self) -> None:
        ready: tuple[str, Any] | None = None
        next_url: str | None = self._url
        number = 0
        try:
            while next_url is not None:
                number += 1
                handing: list[tuple[str, Any]] = [ready] if ready is not None else []
                raw = self._fetch_handing_over(next_url, number, handing)
                if raw is None:
                    return  # the caller has stopped
                early = link_before_value(raw.body)
                if early is not None:
                    next_url = self._follow(early)
                    ready = ("raw", (raw, next_url))
                else:
                    value, next_url = self._decode(raw, None)
                    ready = ("page", value)
            if ready is not None and not self.put(ready):
                return
            self.put(("end", None))
        except BaseException as exc:  # handed to the caller's thread
            self.put(("error", exc))

    def _fetch_handing_over(
        self, url: str, number: int, handing: list[tuple[str, Any]]
    ) -> RawPage | None:
        """Fetch page ``number``; the page before it (in ``handing``) goes to the caller as soon
        as the request is on the wire, or right after it. None when the caller has stopped."""

        def hand_over(held: list[tuple[str, Any]] = handing) -> None:
            # Never blocks: this runs inside whatever request the thread writes first
            # (a token renewal too, under the token lock), and inside its timing.
            if held:
                try:
                    self.pages.put_nowait(held[0])
                    held.clear()
                except queue.Full:
                    pass  # the caller is busy: handed over after the request below

        try:
            with on_sent(hand_over):
                raw = self._fetch(url, number)
        except BaseException:
            if handing:  # the pages read before a failure reach the caller first
                self.put(handing.pop())
            raise
        if handing and not self.put(handing.pop()):
            return None
        if self.stop.is_set():
            return None
        return raw
