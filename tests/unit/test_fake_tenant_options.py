"""Creation options shaped like Graph's, and their challenge lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from kiosk.entra.fake.options import graph_id_encoding
from kiosk.entra.fake.server import FakeTenant
from kiosk.model.codec import b64_lenient, credential_id_readings
from tests.fixtures.tenant import graph_headers, virtual_key_registration


@pytest.fixture
def call(fake_tenant: FakeTenant, tenant_session: requests.Session):
    headers = graph_headers(fake_tenant, tenant_session)

    def do(method: str, path: str, body: Any = None) -> requests.Response:
        return tenant_session.request(method, fake_tenant.graph_url + path, json=body,
                                      headers=headers, timeout=10)

    return do


def options_path(user_id: str, minutes: int | None = None, version: str = "beta") -> str:
    tail = "" if minutes is None else f"(challengeTimeoutInMinutes={minutes})"
    return f"/{version}/users/{user_id}/authentication/fido2Methods/creationOptions{tail}"


def test_options_have_graphs_shape(fake_tenant, call):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")
    body = call("GET", options_path(user.id, 60)).json()
    pk = body["publicKey"]
    assert pk["rp"] == {"id": "login.microsoft.com", "name": "Microsoft"}
    assert pk["user"]["name"] == "ada@contoso.onmicrosoft.com"
    assert pk["user"]["displayName"] == "Ada Lovelace"
    assert len(b64_lenient(pk["user"]["id"])) >= 32  # opaque bytes, not the object id text
    assert len(pk["challenge"]) > 150 and "=" not in pk["challenge"]
    assert [p["alg"] for p in pk["pubKeyCredParams"]] == [-7, -257]
    assert pk["authenticatorSelection"] == {
        "authenticatorAttachment": "cross-platform",
        "requireResidentKey": True,
        "residentKey": "required",
        "userVerification": "required",
    }
    assert pk["attestation"] == "direct"
    assert pk["extensions"] == {
        "hmacCreateSecret": True,
        "enforceCredentialProtectionPolicy": True,
        "credentialProtectionPolicy": "userVerificationOptional",
    }
    assert pk["excludeCredentials"] == []


def test_user_handle_is_stable_and_challenges_are_fresh(fake_tenant, call):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    one = call("GET", options_path(user.id, 10)).json()["publicKey"]
    two = call("GET", options_path(user.id, 10)).json()["publicKey"]
    assert one["user"]["id"] == two["user"]["id"]
    assert one["challenge"] != two["challenge"]
    assert len(fake_tenant.state.challenges_of(user.id)) == 2


@pytest.mark.parametrize(("minutes", "status"), [(4, 400), (5, 200), (43200, 200), (43201, 400)])
def test_beta_challenge_timeout_range(fake_tenant, call, minutes, status):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    resp = call("GET", options_path(user.id, minutes))
    assert resp.status_code == status
    if status == 200:
        expires = datetime.fromisoformat(resp.json()["challengeTimeoutDateTime"])
        left = (expires - datetime.now(UTC)).total_seconds()
        assert minutes * 60 - 5 <= left <= minutes * 60 + 1


def test_v1_has_a_fixed_five_minute_challenge(fake_tenant, call):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    body = call("GET", options_path(user.id, version="v1.0")).json()
    expires = datetime.fromisoformat(body["challengeTimeoutDateTime"])
    assert 290 <= (expires - datetime.now(UTC)).total_seconds() <= 301
    assert call("GET", options_path(user.id, 60, version="v1.0")).status_code == 400


def test_options_with_a_value_wrapper(fake_tenant_factory):
    tenant = fake_tenant_factory(options_value_wrapper=True)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tenant.ca_file)
    user = tenant.state.add_user("ada@contoso.onmicrosoft.com")
    resp = session.get(tenant.graph_url + options_path(user.id, 5),
                       headers=graph_headers(tenant, session), timeout=10)
    body = resp.json()
    assert "publicKey" not in body
    assert body["value"]["publicKey"]["rp"]["id"] == "login.microsoft.com"


def test_exclude_credentials_list_existing_methods_in_mixed_encodings(fake_tenant, call):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    for n in range(6):
        opts = call("GET", options_path(user.id, 5)).json()
        cred = virtual_key_registration(opts)
        resp = call("POST", f"/beta/users/{user.id}/authentication/fido2Methods",
                    {"displayName": f"key {n}", "publicKeyCredential": cred})
        assert resp.status_code == 201, resp.text
    excluded = call("GET", options_path(user.id, 5)).json()["publicKey"]["excludeCredentials"]
    registered = {m.credential_id for m in fake_tenant.state.methods_of(user.id)}
    readings = {r for e in excluded for r in credential_id_readings(e["id"])}
    assert registered <= readings


def test_a_mixed_tenant_spells_ids_three_ways_that_all_read_back():
    ids = [bytes([n]) * 2 + bytes(range(250, 256)) + bytes([n, n]) for n in range(40)]
    spelled = [graph_id_encoding(i) for i in ids]
    assert all(i in credential_id_readings(s) for i, s in zip(ids, spelled, strict=True))
    assert any("=" in s and ("+" in s or "/" in s) for s in spelled)  # standard, padded
    assert any(s[-1] in "012" and "=" not in s for s in spelled)  # padding-count digit
    assert any("=" not in s and len(s) % 4 != 1 for s in spelled)  # plain base64url
    assert graph_id_encoding(ids[0]) == spelled[0]  # stable per id


def test_options_for_an_unknown_user_are_404(call):
    assert call("GET", options_path("nobody@contoso.onmicrosoft.com", 5)).status_code == 404


def test_long_dead_challenges_are_forgotten_so_a_long_demo_stays_small():
    from datetime import timedelta

    from kiosk.entra.fake.state import TenantState

    state = TenantState("t", "contoso.example")
    for n in range(10_000):
        state.issue_challenge(n.to_bytes(4, "big"), "u", timedelta(hours=-2))
    fresh = state.issue_challenge(b"fresh", "u", timedelta(minutes=5))
    assert list(state.challenges.values()) == [fresh]
