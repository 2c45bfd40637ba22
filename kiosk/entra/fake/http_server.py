"""HTTP/1.1 over TLS for the fake tenant: keep-alive, Nagle off, handshakes off the accept loop.

The socket side only: every request is handed whole to a :class:`Dispatcher` (the
:class:`~kiosk.entra.fake.server.FakeTenant`), which answers with an :class:`Outcome`: a
response to write, or nothing (the connection is then closed without an answer), or a response
to cut short.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from kiosk.entra.fake.wire import Request, Response

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024
"""Largest request body read (a register body is a few kilobytes)."""


@dataclass
class Outcome:
    """What the server does with one request: answer it, or close the connection silently."""

    response: Response | None
    truncate: bool = False
    delay_s: float = 0.0
    """Extra delay (a ``slow`` fault), on top of the round-trip floor."""


class Dispatcher(Protocol):
    def dispatch(self, req: Request) -> Outcome: ...

    def track(self, conn: ssl.SSLSocket, add: bool) -> None: ...

    def connection_setup_s(self) -> float: ...


class TenantHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], tenant: Dispatcher, context: ssl.SSLContext
    ) -> None:
        self.tenant = tenant
        self.context = context
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, on the connection's own thread, so one slow client
        # never holds up accept().
        request.settimeout(10.0)
        # A new connection costs its TCP and TLS handshakes in round trips before the first
        # request can go: charged here, before the ServerHello, so a client that opens a
        # connection per call pays what it would pay over a real network.
        setup = self.tenant.connection_setup_s()
        if setup > 0:
            time.sleep(setup)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("fake tenant: TLS handshake failed: %s", exc.__class__.__name__)
            return
        self.tenant.track(conn, True)
        try:
            _Handler(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            self.tenant.track(conn, False)
            with contextlib.suppress(OSError):
                conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120.0
    server_version = "fake-tenant"
    sys_version = ""
    server: TenantHttpServer

    def parse_request(self) -> bool:
        # The request line has just been read: the round-trip floor counts from here, so the
        # fake's own header parsing is not charged to the client either.
        self._arrived = time.monotonic()
        return super().parse_request()

    def _serve(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            if length > MAX_BODY:
                self.close_connection = True
                self._write(Response(413, b"", ""), truncate=False)
                return
            body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, self.path, headers, body, self._arrived)
        outcome = self.server.tenant.dispatch(req)
        if outcome.response is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(outcome.response, outcome.truncate)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

    def _read_chunked(self, limit: int = MAX_BODY) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line or b"0", 16)
            except ValueError:
                raise OSError("bad chunk size in request body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                raise OSError("request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def _write(self, resp: Response, truncate: bool) -> None:
        body = resp.body
        length = len(body)
        if truncate:
            body = body[: max(1, len(body) // 2)]
            self.close_connection = True
        try:
            phrase = HTTPStatus(resp.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {resp.status} {phrase}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Length: {length}",
        ]
        if resp.content_type:
            lines.append(f"Content-Type: {resp.content_type}")
        lines += [f"{k}: {v}" for k, v in resp.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        if truncate:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        log.debug("fake tenant: %s %s -> %s", self.command, self.path.split("?")[0], resp.status)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry no secrets, but keep the console quiet: debug log only.
        log.debug("fake tenant: " + format, *args)
