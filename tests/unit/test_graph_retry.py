"""Retry policy, Graph error parsing and the HTTP layer's retry decisions.

The HTTP layer is exercised over a scripted requests transport adapter (below the session, so
our own code runs unchanged); the flow tests do the same over real HTTPS against the fake
tenant.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from kiosk.config import GraphSettings
from kiosk.entra.errors import (
    ConsentMissingError,
    CredentialExpiredError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphRequestError,
    GraphThrottledError,
    GraphUnauthorizedError,
    InvalidClientError,
    LostResponseError,
    NetworkError,
    UnknownTenantError,
    auth_error_from_result,
    graph_error_from_response,
    parse_graph_error,
    redact,
)
from kiosk.entra.http import GraphHttp, KioskSession, RetryPolicy, parse_retry_after
from kiosk.model.timing import Timing
from tests.unit.graph_rig import TOKEN, ScriptedAdapter, Step, Tokens, graph_body

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------ retry policy


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after(" 2.5 ", NOW) == 2.5
    later = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert parse_retry_after(later, NOW) == pytest.approx(12.0)
    earlier = format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, NOW) == 0.0
    assert parse_retry_after("-4", NOW) == 0.0


@pytest.mark.parametrize("bad", [None, "", "soon", "nan", "Mon, 99 Foo 2026"])
def test_retry_after_garbage_is_ignored(bad: str | None) -> None:
    assert parse_retry_after(bad, NOW) is None


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=60.0)
    assert policy.delay(1, "3600", NOW) == 60.0
    assert policy.delay(1, "4", NOW) == 4.0


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, rng=random.Random(7))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = [policy.delay(attempt) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # full jitter: spread over the whole range, not clustered at the ceiling
        assert min(delays) < ceiling * 0.2
        assert max(delays) > ceiling * 0.8


def test_policy_from_settings() -> None:
    policy = RetryPolicy.from_settings(GraphSettings(max_retries=3, retry_after_cap_seconds=9.0))
    assert policy.max_retries == 3
    assert policy.delay(1, "100") == 9.0


# ------------------------------------------------------------------------------ error parsing


def test_graph_error_json_is_parsed() -> None:
    assert parse_graph_error(graph_body("Request_ResourceNotFound", "Gone.")) == (
        "Request_ResourceNotFound",
        "Gone.",
        "inner-rid",
        "c1",
    )
    assert parse_graph_error(b"<html>502 Bad Gateway</html>") == ("", "", "", "")
    assert parse_graph_error(b'{"error": "nope"}') == ("", "", "", "")
    assert parse_graph_error(b"\xff\xfe") == ("", "", "", "")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, GraphRequestError),
        (401, GraphUnauthorizedError),
        (403, GraphPermissionError),
        (404, GraphNotFoundError),
        (409, GraphRequestError),
        (429, GraphThrottledError),
    ],
)
def test_graph_error_classes_and_request_id(status: int, cls: type[Exception]) -> None:
    err = graph_error_from_response(
        status, graph_body("SomeCode", "Some message."), {"request-id": "hdr-rid"}, "Doing X"
    )
    assert type(err) is cls
    assert err.status == status
    assert err.code == "SomeCode"
    assert err.message == "Some message."
    assert err.request_id == "hdr-rid"  # the header wins over innerError
    assert "hdr-rid" in str(err) and "SomeCode" in str(err) and "Doing X" in str(err)
    assert err.next_step


def test_server_text_never_carries_a_token() -> None:
    body = graph_body("InvalidAuthenticationToken", f"Token {TOKEN} is bad; Bearer abcdefghijk")
    err = graph_error_from_response(401, body, {}, "X")
    assert TOKEN not in str(err)
    assert "abcdefghijk" not in str(err)
    assert redact("secret=hunter22 is wrong", "hunter22") == "secret=[redacted] is wrong"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (7000215, InvalidClientError),
        (7000222, CredentialExpiredError),
        (700016, InvalidClientError),
        (700027, InvalidClientError),
        (90002, UnknownTenantError),
        (65001, ConsentMissingError),
        (500011, ConsentMissingError),
    ],
)
def test_aadsts_codes_map_to_clear_errors(code: int, cls: type[Exception]) -> None:
    result = {
        "error": "invalid_client",
        "error_description": f"AADSTS{code}: Invalid client secret provided: s3cr3t-value.",
        "error_codes": [code],
        "correlation_id": "corr-1",
    }
    err = auth_error_from_result(result, "s3cr3t-value")
    assert type(err) is cls
    assert err.aadsts == code
    assert f"AADSTS{code}" in str(err)
    assert "corr-1" in str(err)
    assert "s3cr3t-value" not in str(err)


def test_unknown_aadsts_keeps_code_and_redacts() -> None:
    err = auth_error_from_result(
        {"error": "invalid_request", "error_description": "AADSTS123456: odd. key=s3cr3t-value"},
        "s3cr3t-value",
    )
    assert err.aadsts == 123456
    assert "AADSTS123456" in str(err)
    assert "s3cr3t-value" not in str(err)


# ------------------------------------------------------------------------------ HTTP layer


def _http(
    steps: list[Step], max_retries: int = 3, **kw: Any
) -> tuple[GraphHttp, ScriptedAdapter, list[float], Tokens]:
    session = KioskSession(timeout=4.0)
    adapter = ScriptedAdapter(steps)
    session.mount("https://", adapter)
    slept: list[float] = []
    tokens = Tokens()
    http = GraphHttp(
        session,
        tokens,
        RetryPolicy(max_retries=max_retries, base_delay=0.5, rng=random.Random(1)),
        sleep=slept.append,
        now=lambda: NOW,
        **kw,
    )
    return http, adapter, slept, tokens


URL = "https://graph.example/v1.0/users/u1"


def test_429_honours_retry_after_then_succeeds() -> None:
    http, adapter, slept, _ = _http([(429, {"Retry-After": "2"}), 200])
    resp = http.request("GET", URL, what="Get")
    assert resp.status_code == 200
    assert slept == [2.0]
    assert len(adapter.sent) == 2
    # one client-request-id for the call and its retry, so Graph's logs tie them together
    ids = {r.headers["client-request-id"] for r in adapter.sent}
    assert len(ids) == 1 and len(ids.pop()) == 36


@pytest.mark.parametrize("status", [503, 504])
def test_503_504_back_off_with_jitter_until_exhausted(status: int) -> None:
    http, adapter, slept, _ = _http([status] * 4, max_retries=3)
    with pytest.raises(GraphThrottledError) as info:
        http.request("GET", URL, what="Get")
    assert len(adapter.sent) == 4  # first try + 3 retries
    assert len(slept) == 3
    assert all(0.0 <= s <= 0.5 * 2**i for i, s in enumerate(slept))
    assert info.value.status == status
    assert info.value.request_id == "rid-4"
    assert "after 4 attempts" in str(info.value)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 412, 500, 502])
def test_other_errors_are_not_retried(status: int) -> None:
    http, adapter, slept, _ = _http([status, 200])
    with pytest.raises(Exception) as info:
        http.request("GET", URL, what="Get")
    assert len(adapter.sent) == 1
    assert slept == []
    assert getattr(info.value, "status", None) == status
    assert getattr(info.value, "code", None) == f"Code{status}"


def test_connection_errors_are_retried() -> None:
    http, adapter, slept, _ = _http(
        [requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout, 200]
    )
    assert http.request("GET", URL, what="Get").status_code == 200
    assert len(adapter.sent) == 3
    assert len(slept) == 2


def test_connection_errors_exhausted_give_network_error() -> None:
    http, _adapter, _slept, _ = _http([requests.exceptions.ConnectionError] * 3, max_retries=2)
    with pytest.raises(NetworkError) as info:
        http.request("GET", URL, what="Get")
    assert info.value.next_step


def test_401_gets_one_fresh_token_and_one_retry() -> None:
    http, adapter, _slept, tokens = _http([401, 200])
    assert http.request("GET", URL, what="Get").status_code == 200
    assert tokens.calls == [False, True]
    assert adapter.sent[1].headers["Authorization"] == "Bearer " + TOKEN + "2"


def test_401_twice_is_an_error_not_a_loop() -> None:
    http, adapter, _slept, tokens = _http([401, 401, 200])
    with pytest.raises(GraphUnauthorizedError) as info:
        http.request("GET", URL, what="Get")
    assert len(adapter.sent) == 2
    assert tokens.calls == [False, True]
    assert TOKEN not in str(info.value)


def test_post_with_lost_answer_is_not_replayed() -> None:
    http, adapter, _slept, _ = _http([requests.exceptions.ConnectionError("RemoteDisconnected")])
    with pytest.raises(LostResponseError):
        http.request("POST", URL, what="Register", json_body={}, replay_safe=False)
    assert len(adapter.sent) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_with_5xx_is_lost_not_replayed(status: int) -> None:
    http, adapter, _slept, _ = _http([status, 201])
    with pytest.raises(LostResponseError) as info:
        http.request("POST", URL, what="Register", json_body={}, replay_safe=False)
    assert len(adapter.sent) == 1
    assert info.value.status == status


def test_post_429_is_retried_because_nothing_happened() -> None:
    http, adapter, slept, _ = _http([(429, {"Retry-After": "1"}), 201])
    resp = http.request("POST", URL, what="Register", json_body={}, replay_safe=False)
    assert resp.status_code == 201
    assert slept == [1.0]
    assert len(adapter.sent) == 2


def test_post_that_never_connected_is_retried() -> None:
    http, adapter, _slept, _ = _http([requests.exceptions.ConnectTimeout, 201])
    resp = http.request("POST", URL, what="Register", json_body={}, replay_safe=False)
    assert resp.status_code == 201
    assert len(adapter.sent) == 2


def test_every_attempt_is_timed_with_its_request_id() -> None:
    ticks = iter([0.0, 0.120, 1.0, 1.045])
    seen: list[Timing] = []
    http, _adapter, _slept, _ = _http([503, 200], clock=lambda: next(ticks), on_timing=seen.append)
    http.request("GET", URL + "?$select=id", what="Get")
    assert [(t.status, t.request_id, t.attempt) for t in seen] == [
        (503, "rid-1", 1),
        (200, "rid-2", 2),
    ]
    assert seen[0].milliseconds == pytest.approx(120.0)
    assert seen[1].milliseconds == pytest.approx(45.0)
    assert seen[0].path == "/v1.0/users/u1"  # no query string in the audit trail


def test_every_call_has_a_timeout() -> None:
    http, adapter, _slept, _ = _http([200])
    http.request("GET", URL, what="Get")
    assert adapter.kwargs[0]["timeout"] == 4.0


def test_session_verification_cannot_be_widened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/other-bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/other-bundle.pem")
    pinned = KioskSession(timeout=1.0, ca_bundle=str(ca))
    adapter = ScriptedAdapter([200, 200])
    pinned.mount("https://", adapter)
    pinned.get(URL)
    pinned.get(URL, verify=False)  # even an explicit False is not honoured
    assert [k["verify"] for k in adapter.kwargs] == [str(ca), str(ca)]
    system = KioskSession(timeout=1.0)
    adapter2 = ScriptedAdapter([200])
    system.mount("https://", adapter2)
    system.get(URL)
    assert adapter2.kwargs[0]["verify"] is True


def test_environment_proxies_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "login.example")
    session = KioskSession(timeout=1.0)
    adapter = ScriptedAdapter([200, 200, 200])
    session.mount("https://", adapter)
    session.get("https://graph.example/v1.0/me")
    session.get("https://login.example/t/oauth2/v2.0/token")
    session.get("https://graph.example/v1.0/me", proxies={"https": "http://other:8080"})
    proxies = [k["proxies"] for k in adapter.kwargs]
    assert proxies[0].get("https") == "http://proxy.example:3128"
    assert "https" not in proxies[1]  # NO_PROXY honoured
    assert proxies[2]["https"] == "http://other:8080"  # the call's own setting wins
