"""A misbehaving Graph (a small server on the loopback interface, real HTTP) cannot make the
kiosk read without end, wait without end, page without end, or follow it elsewhere."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from kiosk.config import Settings, TenantSettings
from kiosk.entra.errors import GraphError, GraphResponseError, NetworkError
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import GraphHttp, KioskSession, RetryPolicy
from kiosk.entra.limits import MAX_RESPONSE_BYTES
from tests.unit.graph_rig import Tokens


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/huge-declared":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(600 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b"{" + b" " * 1024)
        elif self.path == "/huge-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b" " * 1024 * 1024
            try:
                for _ in range(100):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            except OSError:
                pass  # the kiosk hung up: what it should do
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif self.path == "/trickle-headers":
            try:
                for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    self.wfile.write(bytes([ch]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif self.path.startswith(("/v1.0/groups/g1/transitiveMembers", "/v1.0/loop")):
            self._json({"value": [], "@odata.nextLink": f"http://127.0.0.1:{port}/v1.0/loop"})
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://evil.example/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _http(deadline: float = 30.0) -> GraphHttp:
    session = KioskSession(timeout=5.0, loopback_http=True)
    return GraphHttp(
        session, Tokens(), RetryPolicy(max_retries=0), sleep=lambda _s: None,
        call_deadline=deadline,
    )


def test_a_declared_600_mb_body_is_refused_before_reading(base: str) -> None:
    with pytest.raises(GraphResponseError, match="at most"):
        _http().request("GET", base + "/huge-declared", what="List")


def test_a_streamed_body_is_cut_at_the_cap(base: str) -> None:
    start = time.monotonic()
    with pytest.raises(GraphResponseError, match="longer than"):
        _http().request("GET", base + "/huge-chunked", what="List")
    assert MAX_RESPONSE_BYTES < 100 * 1024 * 1024
    assert time.monotonic() - start < 20


def test_a_trickling_answer_ends_at_the_call_deadline(base: str) -> None:
    start = time.monotonic()
    with pytest.raises(NetworkError, match=r"within 1\.5 seconds"):
        _http(deadline=1.5).request("GET", base + "/trickle", what="Get")
    assert time.monotonic() - start <= 1.5 * 1.1


def test_trickling_headers_end_at_the_call_deadline(base: str) -> None:
    start = time.monotonic()
    with pytest.raises(NetworkError, match=r"within 1\.5 seconds"):
        _http(deadline=1.5).request("GET", base + "/trickle-headers", what="Get")
    assert time.monotonic() - start <= 1.5 * 1.1


def test_a_next_link_to_itself_is_refused_not_followed_forever(base: str) -> None:
    settings = Settings(tenant=TenantSettings(graph_url=base))
    session = KioskSession(timeout=5.0, loopback_http=True)
    client = GraphClient(settings, Tokens(), session, sleep=lambda _s: None)
    with pytest.raises(GraphResponseError, match="repeats an earlier page"):
        list(client.iter_group_users("g1"))


def test_a_redirect_is_an_error_never_followed(base: str) -> None:
    with pytest.raises(GraphError) as err:
        _http().request("GET", base + "/redirect", what="Get")
    assert "302" in str(err.value.detail) or err.value.status == 302


def test_plain_http_is_refused_by_default() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        with pytest.raises(requests.exceptions.InvalidSchema, match="only speaks HTTPS"):
            KioskSession(timeout=1.0).get(f"http://127.0.0.1:{port}/")
    finally:
        listener.close()
