"""The fake tenant's sign-in side: discovery, client secret and certificate assertions through
MSAL over HTTPS, AADSTS errors, and Graph's 401 for missing or expired tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from typing import Any

import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.entra.fake.pki import make_app_certificate
from kiosk.entra.fake.server import FakeTenant
from tests.fixtures.tenant import app_token, graph_headers

SCOPE = ["https://graph.microsoft.com/.default"]


def msal_app(tenant: FakeTenant, session: requests.Session, credential: Any,
             authority: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        tenant.client_id,
        client_credential=credential,
        authority=authority or tenant.authority,
        http_client=session,
        instance_discovery=False,
    )


def cert_credential(tenant: FakeTenant) -> dict[str, str]:
    return {
        "private_key": tenant.private_key_file.read_text(),
        "public_certificate": tenant.certificate_file.read_text(),
    }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def assertion_for(tenant: FakeTenant, *, key: rsa.RSAPrivateKey | None = None,
                  **overrides: Any) -> str:
    cert = tenant.pki.app_certificate
    if key is None:
        loaded = serialization.load_pem_private_key(tenant.private_key_file.read_bytes(), None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        key = loaded
    now = int(time.time())
    claims = {
        "aud": f"{tenant.authority}/oauth2/v2.0/token",
        "iss": tenant.client_id,
        "sub": tenant.client_id,
        "exp": now + 600,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    header = {"alg": "RS256", "typ": "JWT",
              "x5t": b64url(cert.fingerprint(hashes.SHA1()))}  # noqa: S303
    return jwt(header, claims, key)


def post_assertion(tenant: FakeTenant, session: requests.Session, assertion: str) -> Any:
    resp = session.post(
        f"{tenant.authority}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": SCOPE[0],
        },
        timeout=10,
    )
    return resp.status_code, resp.json()


def test_discovery_names_the_token_endpoint_of_the_tenant(fake_tenant, tenant_session):
    domain = fake_tenant.state.domain
    url = f"{fake_tenant.login_url}/{domain}/v2.0/.well-known/openid-configuration"
    doc = tenant_session.get(url, timeout=10).json()
    assert doc["token_endpoint"] == f"{fake_tenant.authority}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{fake_tenant.authority}/v2.0"


def test_msal_gets_a_token_with_the_client_secret(fake_tenant, tenant_session):
    result = msal_app(fake_tenant, tenant_session, fake_tenant.client_secret)\
        .acquire_token_for_client(SCOPE)
    assert result.get("token_type") == "Bearer" and result["access_token"]
    assert fake_tenant.tokens.issued_count == 1


def test_msal_gets_a_token_with_the_certificate_ps256(fake_tenant, tenant_session):
    app = msal_app(fake_tenant, tenant_session, cert_credential(fake_tenant))
    result = app.acquire_token_for_client(SCOPE)
    assert "access_token" in result, result.get("error_description")
    # The token works against Graph.
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada")
    resp = tenant_session.get(
        f"{fake_tenant.graph_url}/v1.0/users/{user.id}",
        headers={"Authorization": "Bearer " + result["access_token"]},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.json()["displayName"] == "Ada"


def test_a_wrong_secret_is_invalid_client_7000215(fake_tenant, tenant_session):
    result = msal_app(fake_tenant, tenant_session, "not-the-secret").acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert "not-the-secret" not in json.dumps(result)


def test_an_expired_secret_is_7000222(fake_tenant, tenant_session):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    fake_tenant.state.update_app(fake_tenant.client_id,
                                 secrets=((fake_tenant.client_secret, past),))
    result = msal_app(fake_tenant, tenant_session, fake_tenant.client_secret)\
        .acquire_token_for_client(SCOPE)
    assert result["error_codes"] == [7000222]


def test_missing_admin_consent_is_65001(fake_tenant, tenant_session):
    fake_tenant.state.update_app(fake_tenant.client_id, admin_consent=False)
    result = msal_app(fake_tenant, tenant_session, fake_tenant.client_secret)\
        .acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [65001]


def test_unknown_client_id_is_700016(fake_tenant, tenant_session):
    app = msal.ConfidentialClientApplication(
        str(uuid.uuid4()), client_credential="x", authority=fake_tenant.authority,
        http_client=tenant_session, instance_discovery=False,
    )
    assert app.acquire_token_for_client(SCOPE)["error_codes"] == [700016]


def test_unknown_tenant_fails_discovery_with_90002(fake_tenant, tenant_session):
    url = f"{fake_tenant.login_url}/nowhere.example/v2.0/.well-known/openid-configuration"
    resp = tenant_session.get(url, timeout=10)
    assert resp.status_code == 400 and resp.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(fake_tenant, tenant_session, fake_tenant.client_secret,
                 authority=f"{fake_tenant.login_url}/nowhere.example")


def test_a_scope_other_than_default_is_refused(fake_tenant, tenant_session):
    result = msal_app(fake_tenant, tenant_session, fake_tenant.client_secret)\
        .acquire_token_for_client(["https://graph.microsoft.com/User.Read.All"])
    assert result["error"] == "invalid_scope"


def test_a_handmade_assertion_with_the_registered_key_is_accepted(fake_tenant, tenant_session):
    status, body = post_assertion(fake_tenant, tenant_session, assertion_for(fake_tenant))
    assert status == 200 and body["access_token"]


def test_an_assertion_signed_by_another_key_is_refused(fake_tenant, tenant_session):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = assertion_for(fake_tenant, key=other)
    status, body = post_assertion(fake_tenant, tenant_session, bad)
    assert status == 401 and body["error_codes"] == [700027]


def test_an_expired_assertion_is_refused(fake_tenant, tenant_session):
    status, body = post_assertion(
        fake_tenant, tenant_session, assertion_for(fake_tenant, exp=int(time.time()) - 5)
    )
    assert status == 401 and body["error_codes"] == [700024]


def test_an_assertion_for_another_audience_is_refused(fake_tenant, tenant_session):
    status, body = post_assertion(
        fake_tenant, tenant_session,
        assertion_for(fake_tenant, aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"),
    )
    assert status == 401 and body["error_codes"] == [700021]


def test_an_assertion_from_another_issuer_is_refused(fake_tenant, tenant_session):
    status, body = post_assertion(
        fake_tenant, tenant_session, assertion_for(fake_tenant, iss=str(uuid.uuid4()))
    )
    assert status == 400 and body["error_codes"] == [50027]


def test_an_unregistered_certificate_is_refused(fake_tenant, tenant_session, tmp_path):
    cert_file, key_file, _ = make_app_certificate(tmp_path, "stranger")
    app = msal_app(fake_tenant, tenant_session, {
        "private_key": key_file.read_text(), "public_certificate": cert_file.read_text()})
    result = app.acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]


def test_an_expired_registered_certificate_is_refused(fake_tenant, tenant_session, tmp_path):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    cert_file, key_file, cert = make_app_certificate(tmp_path, "old", not_after=past)
    fake_tenant.state.update_app(
        fake_tenant.client_id, certificates=(cert.public_bytes(serialization.Encoding.DER),))
    app = msal_app(fake_tenant, tenant_session, {
        "private_key": key_file.read_text(), "public_certificate": cert_file.read_text()})
    result = app.acquire_token_for_client(SCOPE)
    assert result["error_codes"] == [700027] and "expired" in result["error_description"]


def test_graph_answers_401_without_a_token(fake_tenant, tenant_session):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    resp = tenant_session.get(f"{fake_tenant.graph_url}/v1.0/users/{user.id}", timeout=10)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["request-id"] == resp.headers["request-id"]


def test_graph_answers_401_to_an_expired_token_and_a_new_one_works(fake_tenant_factory):
    tenant = fake_tenant_factory(token_lifetime_s=0.3)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tenant.ca_file)
    user = tenant.state.add_user("ada@contoso.onmicrosoft.com")
    url = f"{tenant.graph_url}/v1.0/users/{user.id}"
    headers = graph_headers(tenant, session)
    assert session.get(url, headers=headers, timeout=10).status_code == 200
    time.sleep(0.35)
    resp = session.get(url, headers=headers, timeout=10)
    assert resp.status_code == 401
    assert "expired" in resp.json()["error"]["message"]
    fresh = {"Authorization": "Bearer " + app_token(tenant, session)}
    assert session.get(url, headers=fresh, timeout=10).status_code == 200


def test_expire_tokens_makes_every_issued_token_fail(fake_tenant, tenant_session):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    headers = graph_headers(fake_tenant, tenant_session)
    url = f"{fake_tenant.graph_url}/v1.0/users/{user.id}"
    fake_tenant.expire_tokens()
    assert tenant_session.get(url, headers=headers, timeout=10).status_code == 401


def test_only_the_fake_ca_is_trusted(fake_tenant):
    plain = requests.Session()
    plain.trust_env = False  # system CAs only: the fake's certificate is not among them
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{fake_tenant.login_url}/x", timeout=10)
