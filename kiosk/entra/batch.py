"""Graph JSON batching for many GETs: up to :data:`BATCH_MAX` per ``POST /$batch`` round trip.

:class:`BatchGetter` sends GETs (relative URLs such as ``/users/a%40b.com?$select=id``) in
batches of at most 20, :data:`BATCHES_IN_FLIGHT` batches at a time, and returns each one's
final :class:`ItemAnswer`:

* The batch POST itself goes through :class:`~kiosk.entra.http.GraphHttp`: token, a fresh
  token after a 401, and retries of a whole batch refused with 429/503/504 or lost on the way.
  A batch that fails for good gives every item in it that error, and every batch not sent
  yet too (failing the whole batch says nothing about its items: the next batch would fail
  the same way, so an import with Graph unreachable fails in one batch's retries, not in
  hundreds).
* Inside a 200, items fail one by one. Throttled and server-side failures (429, 5xx) and items
  missing from the answer are sent again, alone with the others still pending, after the
  longest ``Retry-After`` among them (capped by the :class:`~kiosk.entra.http.RetryPolicy`, or
  its backoff when there is none), up to the policy's retry count; an item 401 once with a
  fresh token. Every other status (a 404 above all) is final at once.
* Every item attempt is reported like a call of its own (:mod:`kiosk.entra.calls`): method,
  the item's path as if sent alone, status, the request id Graph gave the item, the batch's
  client request id, and the batch's milliseconds.
"""

from __future__ import annotations

import contextvars
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from kiosk.entra import calls
from kiosk.entra.errors import (
    AuthError,
    GraphError,
    GraphResponseError,
    GraphThrottledError,
    graph_error_from_response,
)
from kiosk.entra.graph_data import parse_user
from kiosk.entra.http import RETRY_STATUSES, GraphHttp
from kiosk.entra.models import User
from kiosk.model.timing import Timing

BATCH_MAX = 20
"""Graph takes at most 20 requests in one batch."""
BATCHES_IN_FLIGHT = 4
"""Batches sent at the same time (Graph's own advice for concurrency per app and tenant)."""
UNBATCHED_WORKERS = 8
"""Lookups at once without batching (:func:`one_by_one`)."""


@dataclass(frozen=True)
class ItemAnswer:
    """Graph's final answer to one batched request."""

    status: int
    """HTTP status of the item (0: Graph never answered it)."""
    headers: Mapping[str, str]
    body: Any
    """The item's JSON body (a dict for users and errors), or None."""
    attempts: int

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def body_bytes(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode("utf-8")


T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], bool]
"""Told how many lookups are answered so far; False: send no more."""

ItemResult = ItemAnswer | GraphError | AuthError
"""An item's answer, or the error that ended its whole batch."""


@dataclass
class _Step:
    key: str
    url: str
    attempts: int = 0


@dataclass
class _GiveUp:
    """The first error that failed a whole batch, shared by the batches of one call."""

    error: GraphError | AuthError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first(self, error: GraphError | AuthError) -> None:
        with self.lock:
            if self.error is None:
                self.error = error


@dataclass
class _Tally:
    """Answers counted as they come in (on the lookups' own threads), told to ``progress``
    one at a time; once it says stop, no further batch or lookup starts (those already
    sent finish and are kept)."""

    progress: Progress | None
    answered: int = 0
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, work: Callable[[], dict[str, R]]) -> dict[str, R]:
        if self.stopped:
            return {}
        got = work()
        if self.progress is not None:
            with self.lock:
                self.answered += len(got)
                if not self.stopped and not self.progress(self.answered):
                    self.stopped = True
        return got


@dataclass
class _Round:
    """What one batch answer means for the steps that were in it."""

    final: dict[str, ItemAnswer] = field(default_factory=dict)
    again: dict[str, _Step] = field(default_factory=dict)
    wait: float = 0.0
    refresh: bool = False


def _retryable(status: int) -> bool:
    return status in (0, 429) or status >= 500


def _chunks(items: Sequence[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class BatchGetter:
    """Sends many GETs through Graph's ``$batch`` endpoint (see the module's notes)."""

    def __init__(
        self,
        http: GraphHttp,
        batch_url: str,
        version_path: str,
        *,
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
        clock: Callable[[], float] = time.monotonic,
        in_flight: int = BATCHES_IN_FLIGHT,
    ) -> None:
        self.http = http
        self.batch_url = batch_url
        self.version_path = version_path.rstrip("/")
        """URL path of the API version (``/v1.0`` below the host), for the items' timings."""
        self.sleep = sleep
        self.now = now
        self.clock = clock
        self.in_flight = max(1, in_flight)

    def get_all(
        self, items: Sequence[tuple[str, str]], what: str, progress: Progress | None = None
    ) -> dict[str, ItemResult]:
        """``{key: answer}`` for ``(key, relative url)`` pairs (keys unique).

        ``progress`` is told how many items are answered as each batch is (see
        :class:`_Tally`); once it says stop, no further batch is sent and the items of the
        batches never sent are left out of the result.
        """
        out: dict[str, ItemResult] = {}
        chunks = list(_chunks(items, BATCH_MAX))
        give_up = _GiveUp()
        tally = _Tally(progress)
        if len(chunks) <= 1 or self.in_flight == 1:
            for chunk in chunks:
                out.update(tally.run(functools.partial(self._chunk, chunk, what, give_up)))
            return out
        with ThreadPoolExecutor(self.in_flight, thread_name_prefix="graph-batch") as pool:
            # Each batch runs in a copy of the caller's context, so the caller's call
            # collectors (kiosk.entra.calls) see its calls.
            futures = [
                pool.submit(
                    contextvars.copy_context().run,
                    tally.run,
                    functools.partial(self._chunk, chunk, what, give_up),
                )
                for chunk in chunks
            ]
            for future in futures:
                out.update(future.result())
        return out

    def _chunk(
        self, chunk: list[tuple[str, str]], what: str, give_up: _GiveUp
    ) -> dict[str, ItemResult]:
        pending = {str(n): _Step(key, url) for n, (key, url) in enumerate(chunk, 1)}
        crid = str(uuid.uuid4())
        out: dict[str, ItemResult] = {}
        refreshed = False
        while pending:
            if give_up.error is not None:
                out.update({step.key: give_up.error for step in pending.values()})
                return out
            for step in pending.values():
                step.attempts += 1
            body = {
                "requests": [
                    {"id": sid, "method": "GET", "url": step.url} for sid, step in pending.items()
                ]
            }
            start = self.clock()
            try:
                resp = self.http.request(
                    "POST",
                    self.batch_url,
                    what=f"{what} (batch of {len(pending)})",
                    json_body=body,
                    headers={"client-request-id": crid},
                )
                answers = _parse(resp, what)
            except (GraphError, AuthError) as exc:
                give_up.first(exc)
                out.update({step.key: exc for step in pending.values()})
                return out
            ms = (self.clock() - start) * 1000.0
            result = self._sort(pending, answers, crid, ms, refreshed)
            out.update({pending[sid].key: answer for sid, answer in result.final.items()})
            pending = result.again
            if result.refresh:
                refreshed = True
                self.http.tokens.token(force_refresh=True)
            if pending and result.wait > 0:
                self.sleep(result.wait)
        return out

    def _sort(
        self,
        pending: dict[str, _Step],
        answers: dict[str, ItemAnswer],
        crid: str,
        ms: float,
        refreshed: bool,
    ) -> _Round:
        result = _Round()
        retries = self.http.policy.max_retries
        for sid, step in pending.items():
            got = answers.get(sid.casefold())
            answer = got or ItemAnswer(0, {}, None, step.attempts)
            answer = ItemAnswer(answer.status, answer.headers, answer.body, step.attempts)
            self._report(step, answer, crid, ms)
            if answer.status == 401 and not refreshed:
                result.refresh = True
                result.again[sid] = step
            elif _retryable(answer.status) and step.attempts <= retries:
                result.again[sid] = step
                wait = self.http.policy.delay(
                    step.attempts, answer.header("Retry-After") or None, self.now()
                )
                result.wait = max(result.wait, wait)
            else:
                result.final[sid] = answer
        return result

    def _report(self, step: _Step, answer: ItemAnswer, crid: str, ms: float) -> None:
        rid = answer.header("request-id")
        if not rid and isinstance(answer.body, dict):
            inner = answer.body.get("error", {})
            inner = inner.get("innerError", {}) if isinstance(inner, dict) else {}
            rid = str(inner.get("request-id", "")) if isinstance(inner, dict) else ""
        path = self.version_path + "/" + urlsplit(step.url).path.lstrip("/")
        calls.report(Timing("GET", path, answer.status, rid, crid, ms, step.attempts))


def _parse(resp: requests.Response, what: str) -> dict[str, ItemAnswer]:
    """Graph's batch answer as ``{id (case-folded): answer}``; a broken one is an error."""
    rid = resp.headers.get("request-id", "")
    ctype = resp.headers.get("Content-Type", "")
    try:
        if not ctype.split(";")[0].strip().lower().endswith("json"):
            raise ValueError(f"content type {ctype or 'none'!r}")
        data = json.loads(resp.content)
        items = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ValueError("no responses list")
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc) if not isinstance(exc, json.JSONDecodeError) else "not valid JSON"
        raise GraphResponseError(
            f"{what}: Graph's batch answer cannot be read ({reason}).",
            status=resp.status_code,
            request_id=rid,
        ) from None
    out: dict[str, ItemAnswer] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        sid, status = item.get("id"), item.get("status")
        if not isinstance(sid, str) or not isinstance(status, int) or isinstance(status, bool):
            continue
        headers = item.get("headers")
        clean = (
            {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
        )
        out[sid.casefold()] = ItemAnswer(status, clean, item.get("body"), 0)
    return out


def user_from_answer(key: str, answer: ItemResult) -> User | GraphError | AuthError:
    """The user in a batched ``GET /users/{key}`` answer, or the error :meth:`get_user` would
    have raised for the same answer (same class, same words)."""
    if not isinstance(answer, ItemAnswer):
        return answer
    what = f"Looking up user {key.strip()}"
    if 200 <= answer.status < 300:
        if not isinstance(answer.body, dict):
            return GraphResponseError(f"{what}: Graph's answer is not a JSON object.")
        try:
            return parse_user(answer.body, what)
        except GraphResponseError as exc:
            return exc
    if answer.status == 0:
        return GraphResponseError(
            f"{what}: Graph's batch answers never included this request "
            f"({answer.attempts} attempts)."
        )
    err = graph_error_from_response(answer.status, answer.body_bytes(), answer.headers, what)
    if answer.status not in RETRY_STATUSES:
        return err
    return GraphThrottledError(
        f"{err.detail.rstrip('.')} after {answer.attempts} attempts.",
        status=err.status,
        code=err.code,
        message=err.message,
        request_id=err.request_id,
        client_request_id=err.client_request_id,
    )


def one_by_one(
    lookup: Callable[[str], T], keys: Sequence[str], progress: Progress | None = None
) -> dict[str, T]:
    """``{key: lookup(key)}``, :data:`UNBATCHED_WORKERS` at a time: batching switched off.

    Each lookup runs in a copy of the caller's context, so its call collectors see the calls.
    ``progress`` as for :meth:`BatchGetter.get_all`, told as each lookup is answered.
    """
    tally = _Tally(progress)
    out: dict[str, T] = {}
    with ThreadPoolExecutor(UNBATCHED_WORKERS, thread_name_prefix="graph-user") as pool:
        futures = [
            pool.submit(
                contextvars.copy_context().run, tally.run, functools.partial(_one, lookup, k)
            )
            for k in keys
        ]
        for future in futures:
            out.update(future.result())
    return out


def _one(lookup: Callable[[str], T], key: str) -> dict[str, T]:
    return {key: lookup(key)}
