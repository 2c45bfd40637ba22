"""Register, list and delete FIDO2 methods: the relying-party checks of the fake tenant."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.virtual.profiles import CTAP20_KEY, YUBIKEY_5
from tests.fixtures.tenant import SoftAuthenticator, graph_headers, virtual_key_registration


class Api:
    def __init__(self, tenant: FakeTenant, session: requests.Session) -> None:
        self.tenant = tenant
        self.session = session
        self.headers = graph_headers(tenant, session)

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, self.tenant.graph_url + path, json=body,
                                    headers=self.headers, timeout=10)

    def options(self, user_id: str, minutes: int = 10) -> dict[str, Any]:
        resp = self.call("GET", f"/beta/users/{user_id}/authentication/fido2Methods/"
                                f"creationOptions(challengeTimeoutInMinutes={minutes})")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def register_raw(self, user_id: str, body: Any) -> requests.Response:
        return self.call("POST", f"/v1.0/users/{user_id}/authentication/fido2Methods", body)

    def register(self, user_id: str, cred: dict[str, Any],
                 name: str = "YubiKey 5 31400001") -> requests.Response:
        return self.call("POST", f"/v1.0/users/{user_id}/authentication/fido2Methods",
                         {"displayName": name, "publicKeyCredential": cred})


@pytest.fixture
def api(fake_tenant: FakeTenant, tenant_session: requests.Session) -> Api:
    return Api(fake_tenant, tenant_session)


@pytest.fixture
def ada(fake_tenant: FakeTenant):
    return fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")


def error_code(resp: requests.Response) -> str:
    return str(resp.json()["error"]["code"])


def test_a_virtual_key_registers_as_attested(fake_tenant, api, ada):
    resp = api.register(ada.id, virtual_key_registration(api.options(ada.id)))
    assert resp.status_code == 201, resp.text
    method = resp.json()
    assert method["aaGuid"] == str(YUBIKEY_5.aaguid)
    assert method["model"] == "YubiKey 5 Series with NFC"
    assert method["attestationLevel"] == "attested"
    assert method["displayName"] == "YubiKey 5 31400001"
    assert len(method["attestationCertificates"]) == 1
    (stored,) = fake_tenant.state.methods_of(ada.id)
    assert stored.id == method["id"] and stored.aaguid == str(YUBIKEY_5.aaguid)


def test_list_get_and_delete_methods(api, ada):
    for _ in range(2):
        assert api.register(ada.id, virtual_key_registration(api.options(ada.id))).status_code \
            == 201
    listed = api.call("GET", f"/v1.0/users/{ada.id}/authentication/fido2Methods").json()["value"]
    assert len(listed) == 2
    method_id = quote(listed[0]["id"], safe="")
    one = api.call("GET", f"/v1.0/users/{ada.id}/authentication/fido2Methods/{method_id}")
    assert one.json()["id"] == listed[0]["id"]
    gone = api.call("DELETE", f"/v1.0/users/{ada.id}/authentication/fido2Methods/{method_id}")
    assert gone.status_code == 204
    again = api.call("DELETE", f"/v1.0/users/{ada.id}/authentication/fido2Methods/{method_id}")
    assert again.status_code == 404
    left = api.call("GET", f"/v1.0/users/{ada.id}/authentication/fido2Methods").json()["value"]
    assert [m["id"] for m in left] == [listed[1]["id"]]


def test_registering_the_same_credential_twice_is_a_detectable_conflict(fake_tenant, api, ada):
    cred = virtual_key_registration(api.options(ada.id))
    assert api.register(ada.id, cred).status_code == 201
    second = api.register(ada.id, cred)
    assert second.status_code == 409 and error_code(second) == "conflictingCredential"
    assert len(fake_tenant.state.methods_of(ada.id)) == 1


def test_a_challenge_is_single_use(api, ada):
    options = api.options(ada.id)
    soft = SoftAuthenticator()
    assert api.register(ada.id, soft.register(options, fmt="none")).status_code == 201
    reused = api.register(ada.id, soft.register(options, fmt="none"))
    assert reused.status_code == 400 and "already been used" in reused.json()["error"]["message"]


def test_a_challenge_issued_to_someone_else_is_refused(fake_tenant, api, ada):
    bob = fake_tenant.state.add_user("bob@contoso.onmicrosoft.com")
    cred = SoftAuthenticator().register(api.options(bob.id), fmt="none")
    resp = api.register(ada.id, cred)
    assert resp.status_code == 400 and error_code(resp) == "invalidChallenge"
    assert api.register(bob.id, cred).status_code == 201


def test_an_expired_challenge_is_refused(fake_tenant, api, ada):
    cred = SoftAuthenticator().register(api.options(ada.id, 5), fmt="none")
    fake_tenant.state.expire_challenges(ada.id)
    resp = api.register(ada.id, cred)
    assert resp.status_code == 400 and "expired" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("knobs", "fragment"),
    [
        ({"uv": False}, "UV"),
        ({"up": False}, "UP"),
        ({"origin": "https://login.microsoftonline.com"}, "origin"),
        ({"ctype": "webauthn.get"}, "type"),
        ({"rp_id": "example.com"}, "rpIdHash"),
        ({"bad_signature": True}, "signature"),
        ({"tamper_client_data": True}, "signature"),
        ({"fmt": "fido-u2f"}, "not supported"),
    ],
)
def test_broken_registrations_are_refused(fake_tenant, api, ada, knobs, fragment):
    cred = SoftAuthenticator().register(api.options(ada.id), **knobs)
    resp = api.register(ada.id, cred)
    assert resp.status_code == 400, resp.text
    assert fragment in resp.json()["error"]["message"]
    assert fake_tenant.state.methods_of(ada.id) == []


def test_none_and_self_and_untrusted_attestation_are_not_attested(fake_tenant, api, ada):
    soft = SoftAuthenticator()
    levels = []
    for knobs in ({"fmt": "none"}, {"self_attestation": True}, {}):
        resp = api.register(ada.id, soft.register(api.options(ada.id), **knobs))
        assert resp.status_code == 201, resp.text
        levels.append(resp.json()["attestationLevel"])
    assert levels == ["notAttested"] * 3
    fake_tenant.trust_root_pem(soft.root_pem)
    trusted = api.register(ada.id, soft.register(api.options(ada.id)))
    assert trusted.json()["attestationLevel"] == "attested"


def test_enforced_attestation_refuses_none_and_unverifiable(fake_tenant, api, ada):
    fake_tenant.policy.enforce_attestation = True
    soft = SoftAuthenticator()
    for knobs in ({"fmt": "none"}, {"self_attestation": True}, {}):
        resp = api.register(ada.id, soft.register(api.options(ada.id), **knobs))
        assert resp.status_code == 400, resp.text
        assert "enforces attestation" in resp.json()["error"]["message"]
    assert api.register(ada.id, virtual_key_registration(api.options(ada.id))).status_code == 201


def test_aaguid_block_and_allow_lists(fake_tenant, api, ada):
    fake_tenant.policy.blocked_aaguids.add(str(CTAP20_KEY.aaguid))
    blocked = api.register(ada.id, virtual_key_registration(api.options(ada.id), CTAP20_KEY))
    assert blocked.status_code == 400 and "key restrictions" in blocked.json()["error"]["message"]
    fake_tenant.policy.blocked_aaguids.clear()
    fake_tenant.policy.allowed_aaguids.add(str(YUBIKEY_5.aaguid))
    other = api.register(ada.id, SoftAuthenticator().register(api.options(ada.id), fmt="none"))
    assert other.status_code == 400
    assert api.register(ada.id, virtual_key_registration(api.options(ada.id))).status_code == 201


def test_the_calling_identity_itself_is_refused(fake_tenant, api, ada):
    fake_tenant.policy.refused_user_ids.add(ada.id)
    resp = api.call("GET", f"/beta/users/{ada.id}/authentication/fido2Methods/creationOptions")
    assert resp.status_code == 405 and error_code(resp) == "methodNotAllowed"
    assert "Self-service" in resp.json()["error"]["message"]


def test_display_name_over_30_characters_is_refused(api, ada):
    cred = SoftAuthenticator().register(api.options(ada.id), fmt="none")
    resp = api.register(ada.id, cred, name="x" * 31)
    assert resp.status_code == 400 and "30" in resp.json()["error"]["message"]
    assert api.register(ada.id, cred, name="x" * 30).status_code == 201


def test_garbage_bodies_are_400_not_500(api, ada):
    url = f"{api.tenant.graph_url}/v1.0/users/{ada.id}/authentication/fido2Methods"
    bad_json = api.session.post(url, data=b"{nope", headers=api.headers, timeout=10)
    assert bad_json.status_code == 400
    for body in ({}, {"displayName": "k", "publicKeyCredential": {"id": "***"}},
                 {"displayName": "k", "publicKeyCredential": {
                     "id": "AAAA", "response": {"clientDataJSON": "e30",
                                                "attestationObject": "oA"}}}):
        assert api.call("POST", url[len(api.tenant.graph_url):], body).status_code == 400


def test_a_chunked_request_body_is_read(api, ada):
    cred = SoftAuthenticator().register(api.options(ada.id), fmt="none")
    data = json.dumps({"displayName": "chunked", "publicKeyCredential": cred}).encode()
    chunks = iter([data[:100], data[100:]])
    resp = api.session.post(
        f"{api.tenant.graph_url}/v1.0/users/{ada.id}/authentication/fido2Methods",
        data=chunks, headers={**api.headers, "Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 201 and resp.json()["displayName"] == "chunked"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=10,
)
_b64ish = st.text(alphabet="ABCDEFabcdef0123456789-_+/=", max_size=60)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    _json_values,
    st.fixed_dictionaries({
        "displayName": st.one_of(st.text(max_size=40), _json_values),
        "publicKeyCredential": st.one_of(_json_values, st.fixed_dictionaries({
            "id": st.one_of(_b64ish, _json_values),
            "response": st.one_of(_json_values, st.fixed_dictionaries({
                "clientDataJSON": st.one_of(_b64ish, _json_values),
                "attestationObject": st.one_of(_b64ish, _json_values),
            })),
        })),
    }),
))
def test_any_register_body_is_refused_with_a_4xx_never_a_500(fake_tenant, api, ada, body):
    resp = api.register_raw(ada.id, body)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]["code"]
    assert fake_tenant.state.methods_of(ada.id) == []
