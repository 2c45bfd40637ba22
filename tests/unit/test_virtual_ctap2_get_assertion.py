"""getAssertion on the virtual key: an enrolled credential can be self-tested, over packets."""

from __future__ import annotations

from typing import Any

import webauthn
from fido2.ctap2 import ClientPin
from fido2.utils import sha256
from fido2.webauthn import AuthenticatorData, PublicKeyCredentialRequestOptions

from kiosk.keys.virtual.profiles import USED_KEY, YUBIKEY_5

from .virtual_ctap2_helpers import (
    CHALLENGE,
    ERR,
    ORIGIN,
    PIN,
    RP_ID,
    Rig,
    ctap_error,
    graph_options,
    plugged,
)

GA = ClientPin.PERMISSION.GET_ASSERTION
CDH = b"\x22" * 32


def _request(allow: list[bytes] | None = None, **extra: Any) -> PublicKeyCredentialRequestOptions:
    body: dict[str, Any] = {
        "challenge": CHALLENGE,
        "rpId": RP_ID,
        "userVerification": "required",
        "allowCredentials": [{"type": "public-key", "id": i} for i in allow or []],
        **extra,
    }
    return PublicKeyCredentialRequestOptions.from_dict(body)


def _enrolled(rig: Rig, **options: Any) -> Any:
    rig.client_pin().set_pin(PIN)
    registration = rig.fido2_client().make_credential(graph_options(**options))
    verified = webauthn.verify_registration_response(
        credential=dict(registration),
        expected_challenge=CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    return registration, verified


def test_self_test_of_an_enrolled_credential_verifies_and_counts() -> None:
    with plugged(YUBIKEY_5) as rig:
        registration, verified = _enrolled(rig)
        counts = []
        for _ in range(2):
            selection = rig.fido2_client().get_assertion(_request([registration.raw_id]))
            response = selection.get_response(0)
            checked = webauthn.verify_authentication_response(
                credential=dict(response),
                expected_challenge=CHALLENGE,
                expected_rp_id=RP_ID,
                expected_origin=ORIGIN,
                credential_public_key=verified.credential_public_key,
                credential_current_sign_count=counts[-1] if counts else 0,
                require_user_verification=True,
            )
            counts.append(checked.new_sign_count)
        assert counts[0] >= 1 and counts[1] > counts[0]


def test_discoverable_lookup_returns_the_user_and_continues_with_next_assertion() -> None:
    with plugged(YUBIKEY_5) as rig:
        _enrolled(rig)
        rig.fido2_client().make_credential(graph_options(user_id=b"second-user"))
        selection = rig.fido2_client().get_assertion(_request())
        assertions = selection.get_assertions()
        assert len(assertions) == 2
        assert [a.user["id"] for a in assertions] == [b"second-user", b"entra-user-object-id-0001"]
        assert assertions[0].user["name"] == "adele@contoso.example"  # shown after UV
        assert ctap_error(rig.ctap.get_next_assertion) == ERR.NOT_ALLOWED


def test_without_uv_the_user_is_an_id_only_and_uv_required_credentials_hide() -> None:
    with plugged(USED_KEY) as rig:
        # Preset credentials have credProtect 2: not offered without UV when discovering.
        code = ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH))
        assert code == ERR.NO_CREDENTIALS
        first = rig.authenticator.resident_credentials()[0].credential_id
        response = rig.ctap.get_assertion(RP_ID, CDH, [{"type": "public-key", "id": first}])
        assert response.auth_data.flags & AuthenticatorData.FLAG.UP
        assert not response.auth_data.flags & AuthenticatorData.FLAG.UV
        assert response.user is None


def test_uv_required_credential_needs_the_token() -> None:
    with plugged(YUBIKEY_5) as rig:
        registration, _ = _enrolled(
            rig, extensions={"credentialProtectionPolicy": "userVerificationRequired"}
        )
        allow = [{"type": "public-key", "id": registration.raw_id}]
        code = ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, allow))
        assert code == ERR.NO_CREDENTIALS
        protocol, token = rig.token(GA)
        pin_auth = protocol.authenticate(token, CDH)
        response = rig.ctap.get_assertion(RP_ID, CDH, allow, None, None, pin_auth, 2)
        assert response.auth_data.flags & AuthenticatorData.FLAG.UV
        assert response.credential["id"] == registration.raw_id


def test_unknown_or_foreign_credentials_are_no_credentials() -> None:
    with plugged(YUBIKEY_5) as rig:
        registration, _ = _enrolled(rig)
        allow = [{"type": "public-key", "id": registration.raw_id}]
        code = ctap_error(lambda: rig.ctap.get_assertion("other.example", CDH, allow))
        assert code == ERR.NO_CREDENTIALS
        bogus = [{"type": "public-key", "id": b"\x01" * 70}]
        assert ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, bogus)) == ERR.NO_CREDENTIALS


def test_up_false_signs_without_a_touch_and_without_up_flag() -> None:
    with plugged(YUBIKEY_5, auto_touch=None, touch_timeout=0.3) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(ClientPin.PERMISSION.MAKE_CREDENTIAL)
        pin_auth = protocol.authenticate(token, CDH)
        rp = {"id": RP_ID}
        user = {"id": b"u"}
        es256 = [{"type": "public-key", "alg": -7}]
        rig.key.presence.auto_touch = 0.0
        made = rig.ctap.make_credential(CDH, rp, user, es256, None, None, None, pin_auth, 2)
        rig.key.presence.auto_touch = None
        assert made.auth_data.credential_data is not None
        allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]
        response = rig.ctap.get_assertion(RP_ID, CDH, allow, None, {"up": False})
        assert not response.auth_data.flags & AuthenticatorData.FLAG.UP
        assert ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, allow)) == (
            ERR.USER_ACTION_TIMEOUT
        )


def test_rk_option_is_unsupported_in_get_assertion() -> None:
    with plugged(YUBIKEY_5) as rig:
        code = ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, None, None, {"rk": True}))
        assert code == ERR.UNSUPPORTED_OPTION


def test_hmac_secret_gives_the_same_secret_for_the_same_salt() -> None:
    salt_a, salt_b = sha256(b"salt a"), sha256(b"salt b")
    with plugged(YUBIKEY_5) as rig:
        registration, _ = _enrolled(rig)

        def secret(salt: bytes) -> bytes:
            request = _request([registration.raw_id], extensions={"hmacGetSecret": {"salt1": salt}})
            selection = rig.fido2_client().get_assertion(request)
            results = selection.get_response(0).client_extension_results
            return bytes(results.hmac_get_secret.output1)

        first, again, other = secret(salt_a), secret(salt_a), secret(salt_b)
    assert len(first) == 32
    assert first == again and first != other
