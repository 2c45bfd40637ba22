"""Reading Graph's answers: JSON checked before use, lists followed page by page.

The half of :class:`~kiosk.entra.graph.GraphClient` that knows no Graph resource: a GET that
must answer JSON, and Graph's paged lists (``@odata.nextLink`` checked to stay on Graph's own
host, pages bounded by :class:`~kiosk.entra.limits.PageGuard`, long lists read ahead with
:func:`~kiosk.entra.paging.read_ahead`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk.entra.errors import GraphResponseError
from kiosk.entra.graph_data import decode_json
from kiosk.entra.http import GraphHttp
from kiosk.entra.limits import PageGuard
from kiosk.entra.paging import RawPage, read_ahead

PAGES_AHEAD = 1
"""Pages read ahead of the caller (besides the one it holds and the one being fetched)."""


class GraphReader:
    """JSON answers and paged lists from Graph at ``base`` through ``http``."""

    def __init__(self, base: str, http: GraphHttp) -> None:
        self.base = base
        self.http = http

    def _url(self, path: str, version: str = "v1.0") -> str:
        return f"{self.base}/{version}/{path}"

    def _get_json(
        self, url: str, what: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        resp = self.http.request("GET", url, what=what, headers=headers)
        return self._json(resp, what)

    @staticmethod
    def _json(resp: requests.Response, what: str) -> dict[str, Any]:
        _check_json_type(resp, what)
        return decode_json(
            resp.content, resp.status_code, resp.headers.get("request-id", ""), what
        )

    def _check_next_link(self, link: object, what: str) -> str:
        if not isinstance(link, str) or not link:
            raise GraphResponseError(f"{what}: Graph's @odata.nextLink is not a URL.")
        ours, theirs = urlsplit(self.base), urlsplit(link)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            # Never send our bearer token to another host.
            raise GraphResponseError(
                f"{what}: Graph's @odata.nextLink points to {theirs.netloc or 'nowhere'}, "
                f"not {ours.netloc}; refusing to follow it."
            )
        return link

    def _page_raw(
        self, url: str, what: str, number: int, guard: PageGuard | None = None
    ) -> RawPage:
        """One page as read off the wire: a JSON answer, not decoded yet."""
        if guard is not None:
            guard.check(url, number)  # no loop, no endless listing
        resp = self.http.request("GET", url, what=f"{what} (page {number})")
        _check_json_type(resp, f"{what} (page {number})")
        return RawPage(number, resp.content, resp.status_code, resp.headers.get("request-id", ""))

    def _decode_page(
        self, raw: RawPage, what: str, read_ahead_link: str | None = None
    ) -> tuple[list[Any], str | None]:
        """A page's ``value`` list and its checked next link (None on the last page)."""
        where = f"{what} (page {raw.number})"
        data = decode_json(raw.body, raw.status, raw.request_id, where)
        value = data.get("value")
        if not isinstance(value, list):
            raise GraphResponseError(f"{where}: Graph's answer has no value list.")
        link = data.get("@odata.nextLink")
        if read_ahead_link is not None and link != read_ahead_link:
            raise GraphResponseError(
                f"{where}: Graph's answer names two different next links.",
                request_id=raw.request_id,
            )
        return value, (self._check_next_link(link, what) if link is not None else None)

    def _pages(self, url: str, what: str) -> Iterator[list[Any]]:
        """Each page's ``value`` list, following ``@odata.nextLink`` to the end (short lists)."""
        next_url: str | None = url
        number = 0
        guard = PageGuard(what)
        while next_url is not None:
            number += 1
            raw = self._page_raw(next_url, what, number, guard)
            value, next_url = self._decode_page(raw, what)
            yield value

    def _pages_ahead(self, url: str, what: str) -> Iterator[list[Any]]:
        """Like :meth:`_pages`, for long lists: the next page is asked for before this one is
        decoded, and the caller's work overlaps the next round trip (:mod:`kiosk.entra.paging`).
        """
        guard = PageGuard(what)
        return read_ahead(
            url,
            lambda next_url, number: self._page_raw(next_url, what, number, guard),
            lambda raw, link: self._decode_page(raw, what, link),
            lambda link: self._check_next_link(link, what),
            ahead=PAGES_AHEAD,
        )


def _check_json_type(resp: requests.Response, what: str) -> None:
    ctype = resp.headers.get("Content-Type", "")
    if not ctype.split(";")[0].strip().lower().endswith("json"):
        raise GraphResponseError(
            f"{what}: Graph answered HTTP {resp.status_code} with content type "
            f"{ctype or 'none'!r} instead of JSON.",
            status=resp.status_code,
            request_id=resp.headers.get("request-id", ""),
        )
