"""The fake tenant driven like real Graph by a client that is not ours: plain ``requests``
calls written from the examples in Microsoft's documentation (token by client credentials,
direct group members with paging, creation options, create without a display name on v1.0,
list, delete by the listed id, JSON batching, the FIDO2 policy), and its answers checked to
carry every member of the documented shapes (tests/fixtures/graph_docs.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from kiosk.entra.fake.server import FakeTenant
from tests.fixtures import graph_docs as docs
from tests.fixtures.tenant import graph_headers, virtual_key_registration


def _session(tenant: FakeTenant) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(tenant.ca_file)
    s.headers.update(graph_headers(tenant, s))
    return s


def test_a_client_written_from_the_documentation_works_unchanged(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    tenant = fake_tenant_factory(page_size=2, id_spelling="padcount")
    ada = tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")
    bob = tenant.state.add_user("bob@contoso.onmicrosoft.com", "Bob")
    wave = tenant.state.add_group("Wave 2", [bob])
    laptop = tenant.state.add_device("LAPTOP-1")
    group = tenant.state.add_group("Rollout", [ada, wave, laptop])
    g = _session(tenant)
    base = tenant.graph_url + "/v1.0"

    # GET /groups/{id}/members: direct members only, every item typed, paged by nextLink
    members: list[dict[str, Any]] = []
    url: str | None = f"{base}/groups/{group.id}/members"
    while url:
        page = g.get(url, timeout=10).json()
        if not members:  # the first page: a user first, and a next link
            assert docs.missing_members(docs.MEMBERS_PAGE, page) == []
        members += page["value"]
        url = page.get("@odata.nextLink")
    assert [(m["@odata.type"], m["id"]) for m in members] == [
        ("#microsoft.graph.user", ada.id),
        ("#microsoft.graph.group", wave.id),
        ("#microsoft.graph.device", laptop.id),
    ]

    # creation options: the beta function parameter, and the same wish as a query option,
    # which Graph does not know: logged and ignored (the 5-minute default applies)
    opts = g.get(f"{tenant.graph_url}/beta/users/{ada.id}/authentication/fido2Methods/"
                 "creationOptions(challengeTimeoutInMinutes=60)", timeout=10).json()
    assert docs.missing_members(docs.CREATION_OPTIONS_BETA, opts) == []
    plain = g.get(f"{base}/users/{ada.id}/authentication/fido2Methods/creationOptions",
                  params={"challengeTimeoutInMinutes": "60"}, timeout=10)
    assert plain.status_code == 200
    assert docs.missing_members(docs.CREATION_OPTIONS_V1, plain.json()) == []
    assert any(opt == "challengeTimeoutInMinutes" for _p, opt in tenant.graph.ignored_options)
    unknown = g.get(f"{base}/users/{ada.id}", params={"$frobnicate": "1"}, timeout=10)
    assert unknown.status_code == 400
    assert docs.missing_members(docs.ERROR, unknown.json()) == []

    # create on v1.0 without a display name: Graph names it; the answer as documented
    created = g.post(f"{base}/users/{ada.id}/authentication/fido2Methods",
                     json={"publicKeyCredential": virtual_key_registration(plain.json())},
                     timeout=10)
    assert created.status_code == 201, created.text
    assert docs.missing_members(docs.CREATED_METHOD_V1, created.json()) == []
    assert created.json()["displayName"]

    listed = g.get(f"{base}/users/{ada.id}/authentication/fido2Methods", timeout=10).json()
    assert docs.missing_members(docs.METHOD_LIST, listed) == []
    (method,) = listed["value"]
    assert method["id"] == created.json()["id"] and method["id"][-1] in "012"

    # JSON batching: two GETs in one round trip, answered by id
    batch = g.post(f"{base}/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ada.id}"},
        {"id": "2", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com"},
    ]}, timeout=10).json()
    failed_first = {"responses": sorted(batch["responses"], key=lambda r: -r["status"])}
    assert docs.missing_members(docs.BATCH_RESPONSE, failed_first) == []
    assert {r["id"]: r["status"] for r in batch["responses"]} == {"1": 200, "2": 404}

    # the listed id goes into the URL as it is: Graph's method ids are URL-safe
    gone = g.delete(f"{base}/users/{ada.id}/authentication/fido2Methods/{method['id']}",
                    timeout=10)
    assert gone.status_code == 204
    assert tenant.state.methods_of(ada.id) == []

    policy = g.get(f"{base}/policies/authenticationMethodsPolicy/"
                   "authenticationMethodConfigurations/fido2", timeout=10).json()
    assert docs.missing_members(docs.FIDO2_POLICY_LEGACY, policy) == []

    # a client that sends the token alone, without "Bearer " (Graph takes it)
    bare = str(g.headers["Authorization"]).removeprefix("Bearer ")
    alone = g.get(f"{base}/users/{ada.id}", headers={"Authorization": bare}, timeout=10)
    assert alone.status_code == 200, alone.text


def test_passkey_profile_policy_has_the_documented_shape(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    from kiosk.entra.fake.fido2_policy import PasskeyProfile

    tenant = fake_tenant_factory()
    tenant.policy.fido2.profiles = [PasskeyProfile("Default passkey profile")]
    g = _session(tenant)
    policy = g.get(f"{tenant.graph_url}/beta/policies/authenticationMethodsPolicy/"
                   "authenticationMethodConfigurations/fido2", timeout=10).json()
    assert docs.missing_members(docs.FIDO2_POLICY_PROFILES, policy) == []


def test_a_new_connection_costs_its_handshakes(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    """With a 40 ms round trip, a call on a kept-alive connection costs about one round trip;
    a call on a new connection costs TCP and TLS set-up too (about three)."""
    tenant = fake_tenant_factory(rtt_ms=40.0)
    user = tenant.state.add_user("ada@contoso.onmicrosoft.com")
    url = f"{tenant.graph_url}/v1.0/users/{user.id}"
    kept = _session(tenant)
    kept.get(url, timeout=10)
    start = time.perf_counter()
    for _ in range(3):
        kept.get(url, timeout=10)
    reused = (time.perf_counter() - start) / 3
    fresh_total = 0.0
    headers = dict(kept.headers)
    for _ in range(3):
        with requests.Session() as one:
            one.trust_env = False
            one.verify = str(tenant.ca_file)
            start = time.perf_counter()
            one.get(url, headers=headers, timeout=10)
            fresh_total += time.perf_counter() - start
    fresh = fresh_total / 3
    assert reused >= 0.040
    assert fresh >= 0.120 and fresh > reused + 0.060
