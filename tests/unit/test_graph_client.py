"""Graph client pieces: URL building, paging safety, reconciliation of a lost registration."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from kiosk.config import Settings, TenantSettings
from kiosk.entra.auth import authority_url, graph_scope
from kiosk.entra.errors import GraphRequestError, GraphResponseError
from kiosk.entra.graph import (
    GraphClient,
    find_registered,
    looks_like_guid,
    odata_string,
    query_string,
    user_path,
)
from kiosk.entra.http import KioskSession
from kiosk.entra.models import Fido2Method
from kiosk.model.keys import CreatedCredential
from tests.unit.graph_rig import ScriptedAdapter, Tokens


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
    # No OData cast: Graph serves that only as an eventually consistent advanced query.
    assert "/v1.0/groups/g1/transitiveMembers?" in first
    assert "ConsistencyLevel" not in sent[0].headers
    assert "$top=999" in first and "$select=id,userPrincipalName,displayName,mail" in first
    assert [str(r.url) for r in sent[1:]] == [
        "https://graph.example/v1.0/p2",
        "https://graph.example/v1.0/p3",
    ]


def test_pages_in_graphs_order_give_the_same_users_and_requests() -> None:
    """Graph writes the next link before the values: it is followed before the page is decoded."""
    client, sent = _pages_client(
        [
            {"@odata.nextLink": "https://graph.example/v1.0/p2", "value": [_user(1), _user(2)]},
            {
                "@odata.context": "https://graph.example/v1.0/$metadata#users",
                "@odata.nextLink": "https://graph.example/v1.0/p3",
                "value": [{"@odata.type": "#microsoft.graph.device", "id": "d"}, _user(3)],
            },
            {"value": [_user(4)]},
        ]
    )
    users = list(client.iter_group_users("g1"))
    assert [u.id for u in users] == ["id-1", "id-2", "id-3", "id-4"]
    assert [str(r.url) for r in sent[1:]] == [
        "https://graph.example/v1.0/p2",
        "https://graph.example/v1.0/p3",
    ]


def test_a_next_link_read_ahead_to_another_host_is_refused_before_it_is_followed() -> None:
    client, sent = _pages_client(
        [{"@odata.nextLink": "https://evil.example/v1.0/p2", "value": [_user(1)]}]
    )
    with pytest.raises(GraphResponseError, match=r"evil\.example"):
        list(client.iter_group_users("g1"))
    assert len(sent) == 1


def test_a_page_naming_two_next_links_is_an_error_not_a_guess() -> None:
    body = (
        '{"@odata.nextLink":"https://graph.example/v1.0/p2","value":[],'
        '"@odata.nextLink":"https://graph.example/v1.0/other"}'
    )
    client, _sent = _pages_client([json.loads('{"value": []}')])
    client.session.adapters["https://"].send = _answer(body)  # type: ignore[method-assign]
    with pytest.raises(GraphResponseError, match="two different next links"):
        list(client.iter_group_users("g1"))


def _answer(body: str) -> Any:
    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code = 200
        resp.request = request
        resp.headers["Content-Type"] = "application/json"
        resp._content = body.encode()
        return resp

    return send


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


@given(st.text(min_size=1, max_size=60).filter(lambda t: not t.strip().startswith("$")))
def test_user_path_round_trips_through_percent_decoding(upn: str) -> None:
    path = user_path(upn)
    segment = path.removeprefix("users/")
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == upn.strip()


def test_scope_and_authority_follow_the_configured_cloud() -> None:
    assert graph_scope("https://graph.microsoft.com") == "https://graph.microsoft.com/.default"
    assert graph_scope("https://graph.microsoft.us/") == "https://graph.microsoft.us/.default"
    assert graph_scope("https://microsoftgraph.chinacloudapi.cn") == (
        "https://microsoftgraph.chinacloudapi.cn/.default"
    )
    assert authority_url("https://login.microsoftonline.us/", "contoso.us") == (
        "https://login.microsoftonline.us/contoso.us"
    )
    defaults = TenantSettings()
    assert defaults.login_url == "https://login.microsoftonline.com"
    assert graph_scope(defaults.graph_url) == "https://graph.microsoft.com/.default"
