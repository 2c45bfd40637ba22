"""The fake tenant's POST /$batch, spoken to directly over HTTPS (no client of ours)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from kiosk.entra.fake.server import FakeTenant
from tests.fixtures.tenant import graph_headers


def _post(
    tenant: FakeTenant, session: requests.Session, body: Any, version: str = "v1.0",
    auth: bool = True,
) -> requests.Response:
    headers = graph_headers(tenant, session) if auth else {}
    return session.post(f"{tenant.graph_url}/{version}/$batch", json=body, headers=headers,
                        timeout=10)


def _get(i: int, url: str) -> dict[str, str]:
    return {"id": str(i), "method": "GET", "url": url}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"requests": [_get(i, "/users") for i in range(21)]}, "maximum of 20"),
        ({"requests": [{"method": "GET", "url": "/users/x"}]}, "needs an id"),
        ({"requests": [_get(1, "/users/a"), {**_get(1, "/users/b"), "id": "1"}]}, "more than once"),
        ({"requests": [{**_get(1, "/users/a"), "id": "A"}, {**_get(1, "/users/b"), "id": "a"}]},
         "more than once"),
        ({"requests": [_get(1, "https://graph.microsoft.com/v1.0/users/a")]}, "relative"),
        ({"requests": [{"id": "1", "url": "/users/a"}]}, "method"),
        ({"requests": [{"id": "1", "method": "POST", "url": "/users/a/authentication/"
                        "fido2Methods", "body": {}}]}, "Content-Type"),
        ({"requests": [{**_get(1, "/users/a"), "dependsOn": ["2"]}, _get(2, "/users/b")]},
         "dependsOn"),
        ({"requests": []}, "empty"),
        ({"calls": []}, "requests list"),
        ([1, 2], "requests list"),
    ],
)
def test_a_malformed_batch_is_refused_whole(
    fake_tenant: FakeTenant, tenant_session: requests.Session, body: Any, says: str
) -> None:
    fake_tenant.state.add_user(f"a@{fake_tenant.state.domain}", "A")
    resp = _post(fake_tenant, tenant_session, body)
    assert resp.status_code == 400
    assert says in resp.json()["error"]["message"]
    assert fake_tenant.routes_called("user") == []  # nothing inside was run


def test_each_step_is_answered_on_its_own(
    fake_tenant: FakeTenant, tenant_session: requests.Session
) -> None:
    domain = fake_tenant.state.domain
    ada = fake_tenant.state.add_user(f"ada@{domain}", "Ada")
    guest = fake_tenant.state.add_guest("bob@fabrikam.example", "Bob")
    steps = [
        _get(1, f"/users/ada%40{domain}?$select=id,displayName"),
        _get(2, f"users/{guest.user_principal_name.replace('#', '%23')}"),
        _get(3, f"/users/ghost@{domain}"),
        _get(4, f"/users/ada@{domain}?$select=shoeSize"),
        _get(5, "/nonsense"),
    ]
    resp = _post(fake_tenant, tenant_session, {"requests": steps}, version="beta")
    assert resp.status_code == 200
    answers = {a["id"]: a for a in resp.json()["responses"]}
    assert sorted(answers) == ["1", "2", "3", "4", "5"]
    assert answers["1"]["status"] == 200
    assert answers["1"]["body"] == {
        "@odata.context": f"{fake_tenant.graph_url}/beta/$metadata#users/$entity",
        "id": ada.id,
        "displayName": "Ada",
    }
    assert answers["2"]["body"]["id"] == guest.id
    assert answers["3"]["status"] == 404
    assert answers["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert answers["4"]["status"] == 400 and answers["5"]["status"] == 400
    # Every step has its own request id, and the tenant recorded it like a request.
    rids = {a["headers"]["request-id"] for a in answers.values()}
    assert len(rids) == 5
    assert rids <= {i.request_id for i in fake_tenant.issued}
    assert [s for _m, r, s in fake_tenant.requests if r == "batch"] == [200]


def test_faults_hit_single_steps_and_whole_batches(
    fake_tenant: FakeTenant, tenant_session: requests.Session
) -> None:
    domain = fake_tenant.state.domain
    for name in ("a", "b", "c"):
        fake_tenant.state.add_user(f"{name}@{domain}", name)
    fake_tenant.faults.schedule("429", "user", 2, retry_after=5)
    body = {"requests": [_get(i, f"/users/{n}@{domain}") for i, n in enumerate("abc", 1)]}
    answers = {a["id"]: a for a in _post(fake_tenant, tenant_session, body).json()["responses"]}
    assert [answers[i]["status"] for i in "123"] == [200, 429, 200]
    assert answers["2"]["headers"]["Retry-After"] == "5"
    assert answers["2"]["body"]["error"]["code"] == "TooManyRequests"

    fake_tenant.faults.schedule("503", "batch", 2, retry_after=3)
    refused = _post(fake_tenant, tenant_session, body)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"


def test_a_batch_without_a_token_is_refused_whole(
    fake_tenant: FakeTenant, tenant_session: requests.Session
) -> None:
    fake_tenant.state.add_user(f"a@{fake_tenant.state.domain}", "A")
    body = {"requests": [_get(1, f"/users/a@{fake_tenant.state.domain}")]}
    resp = _post(fake_tenant, tenant_session, body, auth=False)
    assert resp.status_code == 401
    assert fake_tenant.routes_called("user") == []


def test_the_round_trip_floor_is_paid_once_per_batch(
    fake_tenant: FakeTenant, tenant_session: requests.Session
) -> None:
    # Not a timing test of our client: the fake's own contract. 20 steps at 150 ms each
    # would take 3 s; the batch answers after one floor.
    domain = fake_tenant.state.domain
    for i in range(20):
        fake_tenant.state.add_user(f"u{i}@{domain}", str(i))
    headers = graph_headers(fake_tenant, tenant_session)
    fake_tenant.faults.rtt_ms = 150
    body = {"requests": [_get(i, f"/users/u{i}@{domain}") for i in range(20)]}
    resp = tenant_session.post(
        f"{fake_tenant.graph_url}/v1.0/$batch", json=body, headers=headers, timeout=10
    )
    assert resp.status_code == 200
    assert resp.elapsed.total_seconds() < 1.5
    assert resp.elapsed.total_seconds() >= 0.15
