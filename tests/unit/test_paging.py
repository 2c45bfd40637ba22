"""Reading long lists: the next link read from a page's head, and requests known to have left."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from kiosk.entra.fake.pki import create_pki
from kiosk.entra.http import GraphHttp, KioskSession, RetryPolicy
from kiosk.entra.on_sent import on_sent
from kiosk.entra.paging import HEAD_BYTES, RawPage, link_before_value, read_ahead
from kiosk.model.timing import Timing

LINK = "https://graph.microsoft.com/v1.0/groups/g/transitiveMembers?$top=999&$skiptoken=RFNw"


def _graph_page(link: str | None, users: int = 3) -> bytes:
    head = '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users"'
    if link is not None:
        head += ',"@odata.nextLink":' + json.dumps(link)
    value = [{"id": f"id-{i}", "displayName": f"User {i}"} for i in range(users)]
    return (head + ',"value":' + json.dumps(value) + "}").encode()


def test_graphs_order_gives_the_link_from_the_head() -> None:
    assert link_before_value(_graph_page(LINK, users=5000)) == LINK


def test_no_link_or_a_link_after_the_values_says_nothing() -> None:
    assert link_before_value(_graph_page(None)) is None  # the last page
    late = json.dumps({"value": [{"id": "1"}], "@odata.nextLink": LINK}).encode()
    assert link_before_value(late) is None  # decoded whole before the next request


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"<html>busy</html>",
        b'{"@odata.nextLink": 42, "value": []}',
        b'{"@odata.nextLink": "", "value": []}',
        b'{"@odata.context" "x", "@odata.nextLink": "https://a/b", "value": []}',
        b'{"@odata.nextLink": "https://graph.microsoft.com/v1.0/cut',
    ],
)
def test_heads_that_are_not_plain_json_say_nothing(body: bytes) -> None:
    assert link_before_value(body) is None


def test_whitespace_between_members_is_allowed() -> None:
    body = ('{ "@odata.context" : "c" ,\n  "@odata.nextLink" : ' + json.dumps(LINK)
            + ' ,\n "value" : [] }').encode()
    assert link_before_value(body) == LINK


def test_a_link_longer_than_the_head_is_left_to_the_full_decode() -> None:
    long_link = LINK + "x" * HEAD_BYTES
    assert link_before_value(_graph_page(long_link)) is None


def test_broken_utf8_after_the_link_does_not_hide_it() -> None:
    body = _graph_page(LINK)[:-2] + b',{"id":"\xff\xfe"}]}'
    assert link_before_value(body) == LINK


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_member = st.tuples(st.text(max_size=12), st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=3), max_leaves=5
))


@given(
    others=st.lists(_member, max_size=5),
    link=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    link_at=st.integers(min_value=0, max_value=6),
    value_at=st.integers(min_value=0, max_value=6),
    spaced=st.booleans(),
)
def test_the_head_never_disagrees_with_the_whole_page(
    others: list[tuple[str, Any]], link: str | None, link_at: int, value_at: int, spaced: bool
) -> None:
    members = [(k, v) for k, v in others if k not in ("value", "@odata.nextLink")]
    members.insert(min(value_at, len(members)), ("value", [{"id": "u"}]))
    if link is not None:
        members.insert(min(link_at, len(members)), ("@odata.nextLink", link))
    separators = (", ", ": ") if spaced else (",", ":")
    body = (
        "{" + separators[0].join(
            json.dumps(k) + separators[1] + json.dumps(v) for k, v in members
        ) + "}"
    ).encode()
    whole = json.loads(body)
    found = link_before_value(body)
    keys = [k for k, _ in members]
    if found is not None:
        assert found == whole["@odata.nextLink"]
    if link is not None and keys.index("@odata.nextLink") < keys.index("value"):
        duplicate = len(set(keys)) != len(keys)
        assert found == link or duplicate


# ------------------------------------------------------------------- requests known to have left


class _HoldingServer:
    """Answers one HTTP request only after ``release`` is set; says when the request arrived."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        raw, _ = self.listener.accept()
        conn = self.context.wrap_socket(raw, server_side=True) if self.context else raw
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            self.arrived.set()
            self.release.wait(10)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )

    def close(self) -> None:
        self.release.set()
        self.listener.close()


def test_the_callback_runs_once_the_request_has_left_and_before_its_answer(
    tmp_path: Path,
) -> None:
    for scheme in ("http", "https"):
        ca = ""
        context = None
        if scheme == "https":
            pki = create_pki(tmp_path / scheme)
            context, ca = pki.server_context(), str(pki.ca_file)
        server = _HoldingServer(context)
        session = KioskSession(timeout=5.0, ca_bundle=ca, loopback_http=True)
        calls: list[bool] = []

        def sent(server: _HoldingServer = server, calls: list[bool] = calls) -> None:
            # The server has the request and has not answered: it waits for this callback.
            calls.append(server.arrived.wait(5) and not server.release.is_set())
            server.release.set()

        try:
            with on_sent(sent):
                resp = session.get(f"{scheme}://127.0.0.1:{server.port}/page")
            assert resp.json() == {}
            assert calls == [True], scheme
        finally:
            server.close()


def test_the_callback_runs_at_the_end_when_nothing_was_sent() -> None:
    calls: list[str] = []
    session = KioskSession(timeout=0.5, loopback_http=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused
    with pytest.raises(requests.ConnectionError), on_sent(lambda: calls.append("end")):
        session.get(f"http://127.0.0.1:{port}/")
    assert calls == ["end"]


def test_nested_callbacks_each_run_once() -> None:
    calls: list[str] = []
    with on_sent(lambda: calls.append("outer")):
        with on_sent(lambda: calls.append("inner")):
            pass
        assert calls == ["inner"]
    assert calls == ["inner", "outer"]


# ------------------------------------------------- a busy caller never holds up the helper


class _Pages(BaseHTTPRequestHandler):
    """Six small pages in Graph's order, and a token endpoint (plain HTTP on loopback)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        n = int(self.path.rsplit("/p", 1)[1])
        body: dict[str, Any] = {"@odata.context": "c"}
        if n < 6:
            body["@odata.nextLink"] = f"http://127.0.0.1:{self.server.server_address[1]}/p{n + 1}"
        self._answer({**body, "value": [n]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer({"access_token": "t"})


def test_a_slow_caller_never_blocks_a_token_renewal_or_the_page_timings() -> None:
    """The hand-over runs inside the first request the helper writes, which may be a token
    renewal made under the token lock: it must not wait for the caller there (a caller that
    needs a token would wait forever), nor inside a request's timing."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    session = KioskSession(timeout=5.0, loopback_http=True)
    lock = threading.Lock()
    asked = [0]

    class Tokens:  # like TokenProvider: the login request is made holding the lock
        def token(self, *, force_refresh: bool = False) -> str:
            with lock:
                asked[0] += 1
                if asked[0] == 4:  # the token runs out while page 4 is asked for
                    session.post(base + "/token", data=b"grant_type=client_credentials")
                return "t"

    timings: list[Timing] = []
    http = GraphHttp(session, Tokens(), RetryPolicy(), on_timing=timings.append)

    def fetch(url: str, number: int) -> RawPage:
        return RawPage(number, http.request("GET", url, what="pages").content, 200, "")

    def decode(raw: RawPage, link: str | None) -> tuple[list[Any], str | None]:
        data = json.loads(raw.body)
        return data["value"], data.get("@odata.nextLink")

    seen: list[int] = []
    try:
        for page in read_ahead(base + "/p1", fetch, decode, lambda link: link):
            seen += page
            time.sleep(0.3)  # the caller is busy with the page
            assert lock.acquire(timeout=5), "the helper kept the token lock while waiting"
            lock.release()
    finally:
        server.shutdown()
    assert seen == [1, 2, 3, 4, 5, 6]
    assert all(t.milliseconds < 250 for t in timings), [round(t.milliseconds) for t in timings]
