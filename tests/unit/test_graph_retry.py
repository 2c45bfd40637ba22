"""Retry policy, Graph error parsing and the HTTP layer's retry decisions.

The HTTP layer is exercised over a scripted requests transport adapter (below the session, so
our own code runs unchanged); the flow tests do the same over real HTTPS against the fake
tenant.
"""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from kiosk.config import GraphSettings, Settings, TenantSettings
from kiosk.entra.errors import (
    ConsentMissingError,
    CredentialExpiredError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphRequestError,
    GraphResponseError,
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
from kiosk.entra.graph import (
    GraphClient,
    find_registered,
    looks_like_guid,
    odata_string,
    query_string,
    user_path,
)
from kiosk.entra.http import GraphHttp, KioskSession, RetryPolicy, Timing, parse_retry_after
from kiosk.entra.models import Fido2Method
from kiosk.keys.types import CreatedCredential

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJraW9zayJ9.c2lnbmF0dXJlLXRleHQ"


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


def _graph_body(code: str, message: str, rid: str = "inner-rid") -> bytes:
    return json.dumps(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"request-id": rid, "client-request-id": "c1"},
            }
        }
    ).encode()


def test_graph_error_json_is_parsed() -> None:
    assert parse_graph_error(_graph_body("Request_ResourceNotFound", "Gone.")) == (
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
        status, _graph_body("SomeCode", "Some message."), {"request-id": "hdr-rid"}, "Doing X"
    )
    assert type(err) is cls
    assert err.status == status
    assert err.code == "SomeCode"
    assert err.message == "Some message."
    assert err.request_id == "hdr-rid"  # the header wins over innerError
    assert "hdr-rid" in str(err) and "SomeCode" in str(err) and "Doing X" in str(err)
    assert err.next_step


def test_server_text_never_carries_a_token() -> None:
    body = _graph_body("InvalidAuthenticationToken", f"Token {TOKEN} is bad; Bearer abcdefghijk")
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

Step = int | tuple[int, dict[str, str]] | type[Exception] | Exception


class ScriptedAdapter(BaseAdapter):
    """A transport that answers from a script and records what was sent."""

    def __init__(self, steps: list[Step]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.sent: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.kwargs.append(kwargs)
        step = self.steps.pop(0)
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure")
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        resp = requests.Response()
        resp.status_code = status
        resp.request = request
        resp.url = str(request.url)
        resp.headers.update({"request-id": f"rid-{len(self.sent)}", **headers})
        if status >= 400:
            resp._content = _graph_body(f"Code{status}", f"Message {status}.")
        else:
            resp._content = b'{"ok": true}'
        resp.headers.setdefault("Content-Type", "application/json")
        return resp

    def close(self) -> None:
        pass


class Tokens:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return TOKEN + str(len(self.calls))


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


# ------------------------------------------------------------------------------ Graph client pieces


def test_user_paths_are_encoded() -> None:
    assert user_path("alice@contoso.com") == "users/alice@contoso.com"
    assert (
        user_path("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        == "users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    )
    assert user_path("a/b?c@x") == "users/a%2Fb%3Fc@x"
    assert user_path("$admin@x") == "users('$admin@x')"
    assert user_path("$o'neil@x") == "users('$o''neil@x')"


def test_group_filter_escapes_quotes() -> None:
    literal = odata_string("O'Brien's team")
    assert literal == "'O''Brien''s team'"
    query = query_string({"$filter": f"displayName eq {literal}"})
    assert query == "?$filter=displayName%20eq%20%27O%27%27Brien%27%27s%20team%27"
    assert "+" not in query_string({"$filter": "a b+c"}).replace("%2B", "")


def test_guid_detection() -> None:
    assert looks_like_guid("0b8a3f2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
    assert not looks_like_guid("Mailroom 0b8a3f2e")


def _pages_client(
    pages: list[dict[str, Any]],
) -> tuple[GraphClient, list[requests.PreparedRequest]]:
    sent: list[requests.PreparedRequest] = []

    class Pages(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append(request)
            resp = requests.Response()
            resp.status_code = 200
            resp.request = request
            resp.headers["Content-Type"] = "application/json"
            resp._content = json.dumps(pages[len(sent) - 1]).encode()
            return resp

        def close(self) -> None:
            pass

    settings = Settings(tenant=TenantSettings(graph_url="https://graph.example"))
    session = KioskSession(timeout=1.0)
    session.mount("https://", Pages())
    return GraphClient(settings, Tokens(), session, sleep=lambda _s: None), sent


def _user(n: int) -> dict[str, Any]:
    return {"id": f"id-{n}", "userPrincipalName": f"u{n}@x", "displayName": f"U {n}"}


def test_paging_follows_next_links_and_skips_non_users() -> None:
    client, sent = _pages_client(
        [
            {"value": [_user(1), _user(2)], "@odata.nextLink": "https://graph.example/v1.0/p2"},
            {
                "value": [{"@odata.type": "#microsoft.graph.device", "id": "d"}, _user(3)],
                "@odata.nextLink": "https://graph.example/v1.0/p3",
            },
            {"value": [_user(4)]},
        ]
    )
    users = list(client.iter_group_users("g1"))
    assert [u.id for u in users] == ["id-1", "id-2", "id-3", "id-4"]
    first = str(sent[0].url)
    assert "/v1.0/groups/g1/transitiveMembers/microsoft.graph.user?" in first
    assert "$top=999" in first and "$select=id,userPrincipalName,displayName,mail" in first
    assert [str(r.url) for r in sent[1:]] == [
        "https://graph.example/v1.0/p2",
        "https://graph.example/v1.0/p3",
    ]


def test_next_link_to_another_host_is_refused() -> None:
    client, sent = _pages_client(
        [{"value": [_user(1)], "@odata.nextLink": "https://evil.example/v1.0/p2"}]
    )
    with pytest.raises(GraphResponseError, match=r"evil\.example"):
        list(client.iter_group_users("g1"))
    assert len(sent) == 1  # the token never went to evil.example


def test_page_without_value_is_a_typed_error() -> None:
    client, _ = _pages_client([{"error": "nope"}])
    with pytest.raises(GraphResponseError, match="no value list"):
        list(client.iter_group_users("g1"))


CRED = CreatedCredential(
    credential_id=b"\x01\x02credential-id\xff",
    client_data_json=b"{}",
    attestation_object=b"\xa0",
    aaguid="ee882879-721c-4913-9775-3dfcce97072a",
    attestation_format="packed",
)
SENT = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def _method(mid: str, name: str, aaguid: str, created: datetime | None) -> Fido2Method:
    return Fido2Method(id=mid, display_name=name, created=created, aaguid=aaguid)


def test_reconcile_matches_the_credential_id_in_any_base64_flavour() -> None:
    std = base64.b64encode(CRED.credential_id).decode()  # '+', '/' and '=' padding
    methods = [
        _method("other", "YubiKey 5 1", CRED.aaguid, SENT),
        _method(std, "renamed by admin", "0" * 32, None),
    ]
    found = find_registered(methods, CRED, "YubiKey 5 1", SENT)
    assert found is not None and found.id == std


def test_reconcile_by_name_aaguid_and_time_when_ids_differ() -> None:
    name = "YubiKey 5 NFC 31400001"
    older = _method("m-old", name, CRED.aaguid, SENT - timedelta(days=3))
    ours = _method("m-new", name, CRED.aaguid.upper(), SENT + timedelta(seconds=2))
    other_key = _method("m-x", name, "cb69481e-8ff7-4039-93ec-0a2729a154a8", SENT)
    other_name = _method("m-y", "YubiKey 5 NFC 31400002", CRED.aaguid, SENT)
    found = find_registered([older, other_key, other_name, ours], CRED, name, SENT)
    assert found is not None and found.id == "m-new"
    assert find_registered([older, other_key, other_name], CRED, name, SENT) is None
    # Graph's clock a little behind ours still counts
    skewed = _method("m-s", name, CRED.aaguid, SENT - timedelta(minutes=2))
    assert find_registered([skewed], CRED, name, SENT) is skewed


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


def test_lost_register_then_refused_looks_again_before_giving_up() -> None:
    """A dropped answer, a method list that lags the write, then Graph refusing the replay
    (challenge already used): the second look finds the method; nothing registers twice."""
    method_json = {
        "id": base64.urlsafe_b64encode(CRED.credential_id).decode().rstrip("="),
        "displayName": "YubiKey 5 NFC 31400001",
        "createdDateTime": "2026-11-22T12:00:01Z",
        "aaGuid": CRED.aaguid,
    }
    script: list[tuple[str, int | type[Exception], dict[str, Any]]] = [
        ("POST", requests.exceptions.ConnectionError, {}),
        ("GET", 200, {"value": []}),  # the directory has not caught up yet
        ("POST", 400, {"error": {"code": "invalidChallenge", "message": "Challenge used."}}),
        ("GET", 200, {"value": [method_json]}),
    ]
    sent: list[str] = []

    class Graphish(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            method, outcome, body = script.pop(0)
            assert request.method == method
            sent.append(str(request.method))
            if isinstance(outcome, type):
                raise outcome("RemoteDisconnected")
            resp = requests.Response()
            resp.status_code = outcome
            resp.request = request
            resp.headers["Content-Type"] = "application/json"
            resp._content = json.dumps(body).encode()
            return resp

        def close(self) -> None:
            pass

    settings = Settings(tenant=TenantSettings(graph_url="https://graph.example"))
    session = KioskSession(timeout=1.0)
    session.mount("https://", Graphish())
    client = GraphClient(settings, Tokens(), session, sleep=lambda _s: None, now=lambda: SENT)
    method = client.register_fido2_method("u1", "YubiKey 5 NFC 31400001", CRED)
    assert method.id == method_json["id"]
    assert sent == ["POST", "GET", "POST", "GET"]
    assert script == []


def test_refused_register_without_a_lost_answer_is_just_refused() -> None:
    client, _ = _pages_client([])
    adapter = ScriptedAdapter([400])
    client.session.mount("https://", adapter)
    with pytest.raises(GraphRequestError):
        client.register_fido2_method("u1", "name", CRED)
    assert [r.method for r in adapter.sent] == ["POST"]  # no listing, no retry
