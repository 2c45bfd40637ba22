"""What travels over the wire in the fake tenant: requests, responses, Graph and AADSTS errors.

No sockets here; :mod:`kiosk.entra.fake.server` turns these into HTTP/1.1 bytes.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

JSON = "application/json"
GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Graph's timestamp form: ISO 8601, UTC, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    """The request target as sent: path plus query, still percent-encoded."""
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes = b""
    arrived: float = 0.0
    """``time.monotonic()`` when its request line came in (0: not known, say now)."""

    @property
    def raw_path(self) -> str:
        return urlsplit(self.target).path

    @property
    def segments(self) -> list[str]:
        """Path segments, each percent-decoded on its own (so ``%2F`` stays inside a segment)."""
        return [unquote(s) for s in self.raw_path.split("/") if s != ""]

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, last one wins; blank values kept."""
        parsed = parse_qs(urlsplit(self.target).query, keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, content_type: str = JSON) -> Response:
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(status, data, content_type)


GZIP_MIN_BYTES = 1024
"""Bodies at least this long are gzipped when the client accepts it (Graph leaves tiny ones)."""
GZIP_LEVEL = 1
"""zlib level when gzip is on: 1 compresses a 999-user page 188 KB -> 33 KB in about 1.4 ms;
6 saves 3 KB more for twice the time (docs/benchmarks.md, "## Graph")."""


def accepts_gzip(accept_encoding: str) -> bool:
    """True when an ``Accept-Encoding`` value allows gzip (``gzip`` or ``*``, q not zero)."""
    allowed: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[name] = q > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


def gzip_response(resp: Response, accept_encoding: str, level: int = GZIP_LEVEL) -> None:
    """Compress ``resp`` in place as Graph does, when the client accepts gzip and it is worth it.

    ``level`` 0 turns compression off (to measure without it). Sets ``Content-Encoding: gzip``
    and ``Vary: Accept-Encoding``; the server writes ``Content-Length`` from the compressed body.
    """
    if len(resp.body) < GZIP_MIN_BYTES or "Content-Encoding" in resp.headers:
        return
    if level <= 0 or not accepts_gzip(accept_encoding):
        return
    packer = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    resp.body = packer.compress(resp.body) + packer.flush()
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"


class GraphError(Exception):
    """A Graph failure, answered as Graph's error JSON by :func:`graph_error_response`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def new_request_id() -> str:
    return str(uuid.uuid4())


def graph_error_response(err: GraphError, request_id: str, client_request_id: str) -> Response:
    """``{"error": {"code", "message", "innerError": {...}}}`` exactly as Graph shapes it."""
    # As real answers show it: the message again, and a client request id even when the
    # client sent none (then the request id).
    inner = {
        "message": err.message,
        "date": iso(utcnow()).rstrip("Z"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    resp = Response.json(
        err.status, {"error": {"code": err.code, "message": err.message, "innerError": inner}}
    )
    resp.headers.update(err.headers)
    return resp


class TokenError(Exception):
    """An Entra token endpoint failure with its AADSTS code (answered in AAD's error form)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"{error} AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description


def token_error_response(err: TokenError, trace_id: str, correlation_id: str) -> Response:
    now = utcnow()
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{err.aadsts}: {err.description}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
    )
    return Response.json(
        err.status,
        {
            "error": err.error,
            "error_description": description,
            "error_codes": [err.aadsts],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={err.aadsts}",
        },
    )
