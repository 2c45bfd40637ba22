"""Which Graph calls were made for what: collectors scoped around a piece of work.

:class:`~kiosk.entra.http.GraphHttp` reports every HTTP attempt (a
:class:`~kiosk.model.timing.Timing`: request id, client request id, status, milliseconds) to
every :class:`GraphCalls` collector active in the calling thread's context. The engine opens
one around an enrollment attempt, so the attempt's audit record carries exactly the calls made
for it (register, its retries, a reconciliation list, deletes), whatever else other threads
do meanwhile. Collectors nest (an attempt inside an entry); a new thread starts with none.

Nothing here holds a URL query, a header value or a body: only what :class:`Timing` keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar, Token
from types import TracebackType

from kiosk.model.timing import Timing

_active: ContextVar[tuple[GraphCalls, ...]] = ContextVar("kiosk_graph_calls", default=())


class GraphCalls:
    """Collects the Graph calls made in its ``with`` block, on this thread."""

    def __init__(self, calls: Iterable[Timing] = ()) -> None:
        self.calls: list[Timing] = list(calls)
        self._tokens: list[Token[tuple[GraphCalls, ...]]] = []

    def __enter__(self) -> GraphCalls:
        self._tokens.append(_active.set((*_active.get(), self)))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.reset(self._tokens.pop())

    @property
    def request_ids(self) -> list[str]:
        return [t.request_id for t in self.calls if t.request_id]


def report(timing: Timing) -> None:
    """Hand one attempt's timing to every collector active here (GraphHttp calls this)."""
    for collector in _active.get():
        collector.calls.append(timing)


def merged(*groups: Iterable[Timing]) -> list[Timing]:
    """The calls of all ``groups``, in order, each once (a call seen by two collectors)."""
    return list(dict.fromkeys(t for group in groups for t in group))


def call_name(method: str, path: str) -> str:
    """A short name for a Graph call from its method and URL path (ids left out)."""
    tail = path.rstrip("/")
    if tail.endswith("/$batch"):
        return "batch"
    if "/creationOptions" in tail:
        return "creation_options"
    if tail.endswith("/fido2Methods"):
        return "register" if method == "POST" else "list_methods"
    if "/fido2Methods/" in tail:
        return "delete_method" if method == "DELETE" else "get_method"
    if "/transitiveMembers" in tail:
        return "group_members"
    if "/groups" in tail:
        return "find_group"
    if "/users/" in tail:
        return "get_user"
    return "graph"
