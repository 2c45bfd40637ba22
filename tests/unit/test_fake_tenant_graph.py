"""The fake tenant's directory endpoints: users, groups, transitive members, paging, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from kiosk.config import parse
from kiosk.entra.fake.demo_tenant import make_demo_tenant
from kiosk.entra.fake.server import FakeTenant
from tests.fixtures.tenant import graph_headers


@pytest.fixture
def graph(fake_tenant: FakeTenant, tenant_session: requests.Session):
    headers = graph_headers(fake_tenant, tenant_session)

    def get(path: str, **kw: Any) -> requests.Response:
        url = path if path.startswith("https://") else fake_tenant.graph_url + path
        return tenant_session.get(url, headers={**headers, **kw.pop("headers", {})},
                                  timeout=10, **kw)

    return get


ADVANCED = {"ConsistencyLevel": "eventual"}
"""With ``$count=true``: Graph's advanced query parameters, which an OData cast needs."""


def users_path(version: str, gid: str, query: str = "") -> str:
    """Transitive members cast to users, as an advanced query."""
    return f"/{version}/groups/{gid}/transitiveMembers/microsoft.graph.user?$count=true{query}"


def all_pages(graph, path: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    url: str | None = path
    headers = ADVANCED if "/microsoft.graph.user" in path else {}
    while url:
        body = graph(url, headers=headers).json()
        items += body["value"]
        pages += 1
        url = body.get("@odata.nextLink")
    return items, pages


def test_user_by_id_and_by_upn(fake_tenant, graph):
    ada = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")
    by_id = graph(f"/v1.0/users/{ada.id}").json()
    by_upn = graph("/v1.0/users/" + quote("ADA@contoso.onmicrosoft.com")).json()
    assert by_id["id"] == by_upn["id"] == ada.id
    assert by_id["userPrincipalName"] == "ada@contoso.onmicrosoft.com"
    assert by_id["displayName"] == "Ada Lovelace"


def test_a_guest_upn_needs_its_hashes_encoded(fake_tenant, graph):
    guest = fake_tenant.state.add_guest("bob@partner.example", "Bob")
    assert "#EXT#" in guest.user_principal_name
    ok = graph("/v1.0/users/" + quote(guest.user_principal_name, safe=""))
    assert ok.status_code == 200 and ok.json()["id"] == guest.id
    # Unencoded, '#' starts a fragment: the server only sees the part before it.
    raw = graph("/v1.0/users/" + guest.user_principal_name)
    assert raw.status_code == 404


def test_unknown_user_is_404_in_graph_error_form(graph):
    resp = graph("/v1.0/users/nobody@contoso.onmicrosoft.com",
                 headers={"client-request-id": "abc-123"})
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert err["code"] == "Request_ResourceNotFound"
    assert err["innerError"]["request-id"] == resp.headers["request-id"]
    assert err["innerError"]["client-request-id"] == "abc-123"
    assert resp.headers["client-request-id"] == "abc-123"


def test_select_limits_user_properties_and_unknown_ones_are_400(fake_tenant, graph):
    ada = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada")
    body = graph(f"/v1.0/users/{ada.id}?$select=id,userPrincipalName").json()
    assert set(body) == {"@odata.context", "id", "userPrincipalName"}
    bad = graph(f"/v1.0/users/{ada.id}?$select=id,favouriteColour")
    assert bad.status_code == 400 and "favouriteColour" in bad.json()["error"]["message"]


def test_group_by_display_name_with_escaped_quote(fake_tenant, graph):
    group = fake_tenant.state.add_group("O'Brien's team")
    fake_tenant.state.add_group("Other")
    flt = quote("displayName eq 'O''Brien''s team'")
    found = graph(f"/v1.0/groups?$filter={flt}").json()["value"]
    assert [g["id"] for g in found] == [group.id]
    unescaped = graph("/v1.0/groups?$filter=" + quote("displayName eq 'O'Brien's team'"))
    assert unescaped.status_code == 400
    assert graph(f"/v1.0/groups/{group.id}").json()["displayName"] == "O'Brien's team"


def test_paging_follows_next_links_to_the_end(fake_tenant, graph):
    fake_tenant.graph.page_size = 4
    group = make_demo_tenant(fake_tenant.state, 11)
    users, pages = all_pages(
        graph, users_path("v1.0", group.id, "&$select=id,userPrincipalName&$top=999"))
    assert pages == 3
    assert len(users) == 11 == len({u["id"] for u in users})
    assert all(set(u) == {"id", "userPrincipalName"} for u in users)


def test_transitive_members_flatten_nested_groups_once(fake_tenant, graph):
    st = fake_tenant.state
    a, b, c = (st.add_user(f"{n}@contoso.onmicrosoft.com") for n in "abc")
    inner = st.add_group("inner", [b, c])
    middle = st.add_group("middle", [inner, a])  # a appears twice: directly and via middle
    laptop = st.add_device("LAPTOP-1")
    top = st.add_group("top", [a, middle, laptop])
    st.add_members(inner, [top])  # a cycle must not loop
    users, _ = all_pages(graph, users_path("beta", top.id))
    assert sorted(u["userPrincipalName"][0] for u in users) == ["a", "b", "c"]
    everything, _ = all_pages(graph, f"/beta/groups/{top.id}/transitiveMembers")
    types = sorted(o["@odata.type"] for o in everything)
    assert types.count("#microsoft.graph.user") == 3
    assert types.count("#microsoft.graph.group") == 2
    assert "#microsoft.graph.device" in types


def test_a_cast_to_users_is_an_advanced_query(fake_tenant, graph):
    """Graph serves the OData cast on transitive members only with ConsistencyLevel and $count."""
    group = make_demo_tenant(fake_tenant.state, 3)
    plain = f"/v1.0/groups/{group.id}/transitiveMembers/microsoft.graph.user"
    for refused in (graph(plain), graph(plain + "?$count=true"), graph(plain, headers=ADVANCED)):
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    ok = graph(users_path("v1.0", group.id), headers=ADVANCED)
    assert ok.status_code == 200 and ok.json()["@odata.count"] == 3 == len(ok.json()["value"])


def test_top_above_999_is_refused(fake_tenant, graph):
    group = fake_tenant.state.add_group("g")
    resp = graph(f"/v1.0/groups/{group.id}/transitiveMembers?$top=1000")
    assert resp.status_code == 400


def test_a_tampered_skiptoken_is_refused(fake_tenant, graph):
    fake_tenant.graph.page_size = 2
    group = make_demo_tenant(fake_tenant.state, 5)
    first = graph(f"/v1.0/groups/{group.id}/transitiveMembers").json()
    link = first["@odata.nextLink"]
    assert graph(link + "x").status_code == 400


def test_pages_are_written_in_graphs_member_order(fake_tenant, graph):
    """Context, next link, then values, as Graph writes them (clients may read the link early)."""
    fake_tenant.graph.page_size = 2
    group = make_demo_tenant(fake_tenant.state, 5)
    first = graph(f"/v1.0/groups/{group.id}/transitiveMembers")
    assert list(first.json()) == ["@odata.context", "@odata.nextLink", "value"]
    pages = [first.json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append(graph(pages[-1]["@odata.nextLink"]).json())
    assert list(pages[-1]) == ["@odata.context", "value"]


def test_unknown_segment_is_400(graph):
    resp = graph("/v1.0/printers")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "BadRequest"


def test_every_answer_carries_a_request_id(fake_tenant, tenant_session, graph):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    answers = [
        graph(f"/v1.0/users/{user.id}"),
        graph("/v1.0/users/missing"),
        tenant_session.get(f"{fake_tenant.graph_url}/v1.0/users/{user.id}", timeout=10),
        tenant_session.post(f"{fake_tenant.authority}/oauth2/v2.0/token", data={}, timeout=10),
    ]
    assert [r.status_code for r in answers] == [200, 404, 401, 400]
    ids = [r.headers.get("request-id") for r in answers]
    assert all(ids) and len(set(ids)) == 4


def test_one_session_uses_one_connection(fake_tenant, tenant_session, graph):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    for _ in range(20):
        assert graph(f"/v1.0/users/{user.id}").status_code == 200
    assert fake_tenant.connections_accepted == 1


def test_demo_tenant_has_nested_groups_guests_and_non_user_members(fake_tenant, graph):
    group = make_demo_tenant(fake_tenant.state, 12)
    users, _ = all_pages(graph, users_path("v1.0", group.id))
    assert len(users) == 12
    assert sum("#EXT#" in u["userPrincipalName"] for u in users) == 1
    direct = fake_tenant.state.groups[group.id].members
    nested = [fake_tenant.state.groups[m] for m in direct if m in fake_tenant.state.groups]
    assert len(nested) == 1 and len(nested[0].members) == 2  # users 5 and 10
    everything, _ = all_pages(graph, f"/v1.0/groups/{group.id}/transitiveMembers")
    kinds = {o["@odata.type"] for o in everything}
    assert kinds == {"#microsoft.graph.user", "#microsoft.graph.group",
                     "#microsoft.graph.device", "#microsoft.graph.servicePrincipal"}


@pytest.mark.parametrize("credential", ["certificate", "secret"])
def test_kiosk_toml_snippet_parses_into_the_same_settings(fake_tenant, credential):
    parsed = parse(fake_tenant.kiosk_toml(credential), "snippet").tenant
    assert parsed == fake_tenant.tenant_settings(credential)
    assert fake_tenant.settings(credential).tenant == parsed
