"""Graph's JSON batching for the fake tenant: ``POST /{v1.0|beta}/$batch``.

The body is checked as Graph checks it (a JSON object with a ``requests`` list of at most
:data:`MAX_REQUESTS` items, each with a unique ``id`` (case-insensitive), a ``method`` and a
relative ``url``; a ``body`` needs a ``Content-Type`` header; ``dependsOn`` may only name
earlier items); anything else is a 400 for the whole batch.

Each item then goes through the tenant's own routes exactly as a request of its own would
(bearer token check, fault plan per route, so ``429@user:2`` throttles the second user lookup
whether it came alone or in a batch), gets its own request id (in the item's headers and in
the tenant's ``issued`` record) and is answered inside the batch's 200. The round-trip floor
is paid once, by the batch. Answers come back in an order unrelated to the request's, as Graph
is free to do.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

from kiosk.entra.fake.http_server import Outcome
from kiosk.entra.fake.wire import (
    GraphError,
    Request,
    Response,
    graph_error_response,
    new_request_id,
)

MAX_REQUESTS = 20
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})


class BatchTenant(Protocol):
    """The tenant as a batch sees it (the fake's server implements it)."""

    def answer(self, req: Request, ids: tuple[str, str]) -> tuple[str, Outcome]:
        """(route name, outcome) of one request through the tenant's routes and faults."""
        ...

    def record(
        self, req: Request, route: str, status: int, ids: tuple[str, str], *, answered: bool = True
    ) -> None:
        """Keep one answered request where tests read what the tenant saw."""
        ...


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _steps(body: bytes) -> list[dict[str, Any]]:
    """The checked ``requests`` list, or a 400 saying what is wrong with the batch."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad("Invalid batch payload format.") from None
    steps = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(steps, list):
        raise _bad("Invalid batch payload format: a requests list is required.")
    if not steps:
        raise _bad("Invalid batch payload format: the requests list is empty.")
    if len(steps) > MAX_REQUESTS:
        raise _bad(f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for step in steps:
        if not isinstance(step, dict):
            raise _bad("Invalid batch payload format: each request must be an object.")
        sid = step.get("id")
        if not isinstance(sid, str) or not sid.strip():
            raise _bad("Invalid batch payload format: each request needs an id.")
        if sid.casefold() in seen:
            raise _bad(f"Batch request id '{sid}' is used more than once.")
        method, url = step.get("method"), step.get("url")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise _bad(f"Batch request '{sid}': method is missing or not supported.")
        if not isinstance(url, str) or not url.strip():
            raise _bad(f"Batch request '{sid}': url is required.")
        if urlsplit(url).scheme or url.startswith("//"):
            raise _bad(f"Batch request '{sid}': the url must be relative, like /users.")
        headers = step.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise _bad(f"Batch request '{sid}': headers must be an object of strings.")
        if "body" in step and "content-type" not in {k.lower() for k in headers}:
            raise _bad(f"Batch request '{sid}': a body needs a Content-Type header.")
        depends = step.get("dependsOn", [])
        if not isinstance(depends, list) or not all(
            isinstance(d, str) and d.casefold() in seen for d in depends
        ):
            raise _bad(f"Batch request '{sid}': dependsOn names a request not before it.")
        seen.add(sid.casefold())
    return steps


def _sub_request(outer: Request, step: dict[str, Any], prefix: str, version: str) -> Request:
    kept = ("authorization", "client-request-id")
    headers = {k: v for k, v in outer.headers.items() if k in kept}
    headers.update({str(k).lower(): str(v) for k, v in step.get("headers", {}).items()})
    body = step.get("body")
    data = b"" if body is None else json.dumps(body).encode("utf-8")
    url = str(step["url"]).strip().lstrip("/")
    return Request(str(step["method"]).upper(), f"/{prefix}/{version}/{url}", headers, data)


def _answer_item(tenant: BatchTenant, sub: Request, crid: str) -> tuple[str, str, Outcome]:
    """(route, request id, outcome) of one item, through the tenant's routes and faults."""
    rid = new_request_id()
    if "$batch" in sub.segments:
        err = _bad("A batch cannot contain another batch.")
        return "unknown", rid, Outcome(graph_error_response(err, rid, crid))
    route, outcome = tenant.answer(sub, (rid, crid))
    return route, rid, outcome


def _item_json(sid: str, rid: str, outcome: Outcome, crid: str) -> dict[str, Any]:
    resp = outcome.response
    if resp is None:
        # A dropped connection cannot happen inside a batch: Graph reports a failed step.
        resp = graph_error_response(
            GraphError(500, "generalException", "General exception while processing."), rid, crid
        )
    headers = {"Content-Type": resp.content_type, **resp.headers}
    headers.setdefault("request-id", rid)
    headers.setdefault("client-request-id", crid or rid)
    item: dict[str, Any] = {"id": sid, "status": resp.status, "headers": headers}
    if resp.body:
        try:
            item["body"] = json.loads(resp.body)
        except ValueError:  # a broken-body fault: the step's body goes as text
            item["body"] = resp.body.decode("utf-8", "replace")
    return item


def answer_batch(tenant: BatchTenant, req: Request, prefix: str, version: str) -> Response:
    """The 200 answer to a valid batch (each step answered on its own), or a 400."""
    steps = _steps(req.body)
    crid = req.header("client-request-id").replace("\r", "").replace("\n", "")[:100]
    answers: list[dict[str, Any]] = []
    extra_delay = 0.0
    for step in steps:
        sub = _sub_request(req, step, prefix, version)
        route, rid, outcome = _answer_item(tenant, sub, crid)
        extra_delay = max(extra_delay, outcome.delay_s)
        item = _item_json(str(step["id"]), rid, outcome, crid)
        tenant.record(sub, route, item["status"], (rid, crid))
        answers.append(item)
    if extra_delay:
        time.sleep(extra_delay)  # a slow step holds up the whole batch
    answers.sort(key=lambda a: hashlib.sha256(str(a["id"]).encode()).digest())
    return Response.json(200, {"responses": answers}, "application/json; charset=utf-8")
