"""The independent check: the fake tenant's verdicts agree with py_webauthn's.

Each case makes one registration (on the virtual key, or with the cryptography-only
SoftAuthenticator where the key would never misbehave that way) and asks two relying parties
about it: the fake tenant over HTTPS (``POST .../fido2Methods``) and py_webauthn's
``verify_registration_response`` given what an RP session would hold (the challenge it issued
last for that user, rp id ``login.microsoft.com``, origin ``https://login.microsoft.com``, UV
required, the same attestation roots). Both must say yes to valid ones and no to broken ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webauthn import verify_registration_response
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AttestationFormat

from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.virtual.attestation import attestation_root_pem
from tests.fixtures.tenant import (
    SoftAuthenticator,
    b64url,
    b64url_decode,
    graph_headers,
    virtual_key_registration,
)

RP_ID = "login.microsoft.com"
ORIGIN = "https://login.microsoft.com"


@dataclass
class Rp:
    """What both relying parties see for one user."""

    tenant: FakeTenant
    session: requests.Session
    headers: dict[str, str]
    user_id: str
    soft: SoftAuthenticator
    pending: bytes = b""
    """The challenge the py_webauthn RP's session holds (the last one issued, until used)."""
    valid: dict[str, Any] | None = None
    """A valid registration answering ``pending`` (made once, then mutated)."""

    def options(self) -> dict[str, Any]:
        resp = self.session.get(
            f"{self.tenant.graph_url}/beta/users/{self.user_id}/authentication/fido2Methods/"
            "creationOptions(challengeTimeoutInMinutes=10)",
            headers=self.headers,
            timeout=10,
        )
        body = dict(resp.json())
        self.pending = b64url_decode(body["publicKey"]["challenge"])
        return body

    def fake_tenant_says(self, cred: dict[str, Any]) -> bool:
        resp = self.session.post(
            f"{self.tenant.graph_url}/v1.0/users/{self.user_id}/authentication/fido2Methods",
            json={"displayName": "key", "publicKeyCredential": cred},
            headers=self.headers,
            timeout=10,
        )
        assert resp.status_code in (201, 400), resp.text
        return resp.status_code == 201

    def py_webauthn_says(self, cred: dict[str, Any]) -> bool:
        credential = {"rawId": cred["id"], "type": "public-key", **cred}
        try:
            verify_registration_response(
                credential=credential,
                expected_challenge=self.pending,
                expected_rp_id=RP_ID,
                expected_origin=ORIGIN,
                require_user_verification=True,
                pem_root_certs_bytes_by_fmt={
                    AttestationFormat.PACKED: [attestation_root_pem(), self.soft.root_pem]
                },
            )
        except WebAuthnException:
            return False
        except (KeyError, ValueError, TypeError):
            # py_webauthn lets a few parse errors of mangled COSE keys escape as such; an RP
            # calling it refuses the registration all the same.
            return False
        self.pending = b""  # the session's challenge is used up
        return True


@pytest.fixture
def rp(fake_tenant: FakeTenant, tenant_session: requests.Session) -> Rp:
    soft = SoftAuthenticator()
    fake_tenant.trust_root_pem(soft.root_pem)
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")
    return Rp(fake_tenant, tenant_session, graph_headers(fake_tenant, tenant_session), user.id,
              soft)


def _virtual(rp: Rp) -> dict[str, Any]:
    return virtual_key_registration(rp.options())


def _soft(**knobs: Any) -> Callable[[Rp], dict[str, Any]]:
    return lambda rp: rp.soft.register(rp.options(), **knobs)


def _wrong_challenge(rp: Rp) -> dict[str, Any]:
    options = rp.options()
    return rp.soft.register(options, challenge=b64url(b"not the challenge that was issued"))


def _tampered_client_data(rp: Rp) -> dict[str, Any]:
    cred = virtual_key_registration(rp.options())
    cdj = b64url_decode(cred["response"]["clientDataJSON"])
    assert b'"type":"webauthn.create"' in cdj
    tampered = cdj.replace(b'"type":"webauthn.create"', b'"type": "webauthn.create"')
    cred["response"]["clientDataJSON"] = b64url(tampered)
    return cred


def _origin_changed_after_signing(rp: Rp) -> dict[str, Any]:
    cred = virtual_key_registration(rp.options())
    cdj = b64url_decode(cred["response"]["clientDataJSON"])
    cred["response"]["clientDataJSON"] = b64url(cdj.replace(ORIGIN.encode(), b"https://evil.example"))
    return cred


CASES: dict[str, tuple[Callable[[Rp], dict[str, Any]], bool]] = {
    "virtual key, packed": (_virtual, True),
    "soft key, packed x5c": (_soft(), True),
    "soft key, packed self": (_soft(self_attestation=True), True),
    "soft key, none": (_soft(fmt="none"), True),
    "tampered clientDataJSON": (_tampered_client_data, False),
    "origin edited after signing": (_origin_changed_after_signing, False),
    "wrong origin, signed": (_soft(origin="https://login.microsoftonline.com"), False),
    "wrong challenge": (_wrong_challenge, False),
    "type webauthn.get": (_soft(ctype="webauthn.get"), False),
    "missing UV flag": (_soft(uv=False), False),
    "missing UP flag": (_soft(up=False), False),
    "bad signature": (_soft(bad_signature=True), False),
    "other rp id": (_soft(rp_id="login.live.com"), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verdicts_agree(rp: Rp, case: str) -> None:
    make, valid = CASES[case]
    cred = make(rp)
    webauthn_verdict = rp.py_webauthn_says(cred)
    tenant_verdict = rp.fake_tenant_says(cred)
    assert (tenant_verdict, webauthn_verdict) == (valid, valid)


def test_reused_challenge_fails_both(rp: Rp) -> None:
    first_options = rp.options()
    first = virtual_key_registration(first_options)
    assert rp.py_webauthn_says(first) and rp.fake_tenant_says(first)
    # The user asks again (a new challenge is pending) and someone replays the first challenge
    # with a brand-new credential.
    rp.options()
    replay = virtual_key_registration(first_options)
    assert rp.py_webauthn_says(replay) is False
    assert rp.fake_tenant_says(replay) is False
    assert len(rp.tenant.state.methods_of(rp.user_id)) == 1


@settings(
    max_examples=int(os.environ.get("FAKE_TENANT_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_verdicts_agree_on_any_single_byte_change(rp: Rp, data: st.DataObject) -> None:
    """One byte of clientDataJSON or of the attestation object changed, anywhere: both RPs
    refuse (attestation enforced, so a broken x5c certificate is refused rather than recorded
    as notAttested, which py_webauthn has no notion of)."""
    rp.tenant.policy.enforce_attestation = True
    if rp.valid is None or not rp.pending:
        rp.valid = rp.soft.register(rp.options())
    cred = rp.valid
    part = data.draw(st.sampled_from(["clientDataJSON", "attestationObject"]))
    raw = bytearray(b64url_decode(cred["response"][part]))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    broken = {**cred, "response": {**cred["response"], part: b64url(bytes(raw))}}
    webauthn_verdict = rp.py_webauthn_says(broken)
    tenant_verdict = rp.fake_tenant_says(broken)
    assert tenant_verdict == webauthn_verdict, (part, at)
    assert not tenant_verdict
