"""makeCredential on the virtual key over CTAPHID packets, checked by an independent verifier."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import webauthn
from fido2.attestation import PackedAttestation
from fido2.client import ClientError
from fido2.ctap2 import AttestationResponse, ClientPin, Config
from fido2.ctap2.pin import PinProtocol, PinProtocolV2
from fido2.hid import CTAPHID
from fido2.utils import sha256
from fido2.webauthn import AttestationObject, AuthenticatorData
from webauthn.helpers.structs import AttestationFormat

from kiosk.keys.virtual.attestation import attestation_root_pem
from kiosk.keys.virtual.profiles import CTAP20_KEY, FULL_KEY, YUBIKEY_5
from kiosk.model.codec import b64url

from .virtual_ctap2_helpers import (
    CHALLENGE,
    ERR,
    ORIGIN,
    PIN,
    PROTOCOLS,
    RP_ID,
    Rig,
    ctap_error,
    graph_options,
    plugged,
    touch_when_asked,
)

MC = ClientPin.PERMISSION.MAKE_CREDENTIAL
GA = ClientPin.PERMISSION.GET_ASSERTION
CDH = b"\x11" * 32
RP = {"id": RP_ID, "name": "Microsoft"}
USER = {"id": b"user-1", "name": "adele@contoso.example", "displayName": "Adele"}
ES256 = [{"type": "public-key", "alg": -7}]


def _verify(registration: Any, **kwargs: Any) -> Any:
    return webauthn.verify_registration_response(
        credential=dict(registration),
        expected_challenge=CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
        pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [attestation_root_pem()]},
        **kwargs,
    )


def _raw_make(
    rig: Rig,
    protocol: PinProtocol | None = None,
    token: bytes | None = None,
    **kwargs: Any,
) -> AttestationResponse:
    pin_auth = (protocol.authenticate(token, CDH), protocol.VERSION) if protocol and token else ()
    args = {"options": {"rk": True}, **kwargs}
    return rig.ctap.make_credential(CDH, RP, USER, ES256, None, None, args["options"], *pin_auth)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["one", "two"])
def test_graph_shaped_registration_verifies_with_py_webauthn(
    protocol: type[PinProtocol],
) -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin(protocol).set_pin(PIN)
        registration = rig.fido2_client().make_credential(graph_options())
        verified = _verify(registration)
        assert verified.fmt == AttestationFormat.PACKED
        assert verified.user_verified is True
        assert verified.aaguid == str(YUBIKEY_5.aaguid)
        assert verified.sign_count == 0
        stored = rig.authenticator.resident_credentials()
        assert [c.credential_id for c in stored] == [registration.raw_id]
        assert stored[0].user_id == b"entra-user-object-id-0001"
        assert stored[0].hmac_secret is True and stored[0].cred_protect == 1
        assert registration.client_extension_results["hmacCreateSecret"] is True
        auth_data = registration.response.attestation_object.auth_data
        assert auth_data.extensions == {"credProtect": 1, "hmac-secret": True}
        assert rig.ctap.get_info().remaining_disc_creds == YUBIKEY_5.max_credentials - 1


def test_attestation_chain_carries_the_aaguid_extension() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        registration = rig.fido2_client().make_credential(graph_options())
        attestation = registration.response.attestation_object
        assert attestation.fmt == "packed"
        assert len(attestation.att_stmt["x5c"]) == 1
        result = PackedAttestation().verify(
            attestation.att_stmt,
            attestation.auth_data,
            registration.response.client_data.hash,
        )
        assert result.trust_path  # full (x5c) attestation, not self attestation


def test_pin_set_and_no_pin_auth_wants_a_token() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        assert ctap_error(lambda: _raw_make(rig)) == ERR.PUAT_REQUIRED


def test_without_a_pin_a_credential_is_made_without_uv() -> None:
    with plugged(YUBIKEY_5) as rig:
        response = _raw_make(rig)
        assert response.auth_data.flags & AuthenticatorData.FLAG.UP
        assert not response.auth_data.flags & AuthenticatorData.FLAG.UV


def test_token_without_mc_permission_or_for_another_rp_is_refused() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(GA)
        assert ctap_error(lambda: _raw_make(rig, protocol, token)) == ERR.PIN_AUTH_INVALID
        protocol, token = rig.token(MC, rp_id="evil.example")
        assert ctap_error(lambda: _raw_make(rig, protocol, token)) == ERR.PIN_AUTH_INVALID
        protocol, token = rig.token(MC)
        assert ctap_error(lambda: _raw_make(rig, protocol, b"\0" * 32)) == ERR.PIN_AUTH_INVALID
        response = _raw_make(rig, protocol, token)
        assert response.auth_data.flags & AuthenticatorData.FLAG.UV
        # The touch used the token up: the mc permission is gone (CTAP 2.1).
        assert ctap_error(lambda: _raw_make(rig, protocol, token)) == ERR.PIN_AUTH_INVALID


def test_token_without_rp_id_binds_to_the_first_rp_it_is_used_with() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(MC | GA, rp_id=None)
        pin_auth = protocol.authenticate(token, CDH)
        code = ctap_error(
            lambda: rig.ctap.get_assertion("other.example", CDH, None, None, None, pin_auth, 2)
        )
        assert code == ERR.NO_CREDENTIALS  # verified and bound to other.example
        assert ctap_error(lambda: _raw_make(rig, protocol, token)) == ERR.PIN_AUTH_INVALID
        other = {"id": "other.example", "name": "Other"}
        made = rig.ctap.make_credential(CDH, other, USER, ES256, None, None, None, pin_auth, 2)
        assert made.auth_data.rp_id_hash == sha256(b"other.example")


def test_only_es256_is_supported() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        with pytest.raises(ClientError) as info:
            rig.fido2_client().make_credential(graph_options(alg=-257))
        assert isinstance(info.value.cause, Exception)
        assert getattr(info.value.cause, "code", None) == ERR.UNSUPPORTED_ALGORITHM


def test_excluded_credential_needs_a_touch_then_is_refused() -> None:
    with plugged(YUBIKEY_5, auto_touch=None, touch_timeout=0.3) as rig:
        rig.client_pin().set_pin(PIN)
        toucher = touch_when_asked(rig.key)
        first = rig.fido2_client().make_credential(graph_options())
        toucher.join()
        protocol, token = rig.token(MC)
        pin_auth = protocol.authenticate(token, CDH)
        exclude = [{"type": "public-key", "id": first.raw_id}]

        def make() -> object:
            return rig.ctap.make_credential(
                CDH, RP, USER, ES256, exclude, None, {"rk": True}, pin_auth, 2
            )

        assert ctap_error(make) == ERR.USER_ACTION_TIMEOUT  # it waited for a touch
        toucher = touch_when_asked(rig.key)
        assert ctap_error(make) == ERR.CREDENTIAL_EXCLUDED
        toucher.join()
        assert rig.authenticator.credential_count == 1


def test_fido2_client_reports_an_excluded_key_as_ineligible() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        first = rig.fido2_client().make_credential(graph_options())
        with pytest.raises(ClientError) as info:
            rig.fido2_client().make_credential(graph_options(exclude=[first.raw_id]))
        assert info.value.code == ClientError.ERR.DEVICE_INELIGIBLE
        # An id that is not ours (any base64 flavour Graph used) is simply ignored.
        rig.fido2_client().make_credential(graph_options(exclude=[b"\x00not-ours" * 8]))


def test_same_user_replaces_its_discoverable_credential() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        rig.fido2_client().make_credential(graph_options())
        second = rig.fido2_client().make_credential(graph_options())
        assert [c.credential_id for c in rig.authenticator.resident_credentials()] == [
            second.raw_id
        ]
        rig.fido2_client().make_credential(graph_options(user_id=b"someone-else"))
        assert rig.authenticator.credential_count == 2


def test_full_key_refuses_a_discoverable_credential_after_the_touch() -> None:
    with plugged(FULL_KEY) as rig:
        assert ctap_error(lambda: _raw_make(rig)) == ERR.KEY_STORE_FULL
        assert rig.authenticator.credential_count == 3
        response = _raw_make(rig, options={"rk": False})  # non-discoverable still fits
        assert response.auth_data.credential_data is not None


def test_touch_timeout_cancel_and_keepalives() -> None:
    with plugged(YUBIKEY_5, auto_touch=None, touch_timeout=0.3) as rig:
        assert ctap_error(lambda: _raw_make(rig)) == ERR.USER_ACTION_TIMEOUT
    # A cancel must win over the touch timeout even on a loaded machine: give the touch
    # far longer than the cancel takes to arrive.
    with plugged(YUBIKEY_5, auto_touch=None, touch_timeout=10.0) as rig:
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        code = ctap_error(
            lambda: rig.ctap.make_credential(
                CDH, RP, USER, ES256, event=cancel, on_keepalive=rig.on_keepalive
            )
        )
        assert code == ERR.KEEPALIVE_CANCEL
        assert 2 in rig.keepalives  # UPNEEDED was sent while it blinked
        assert rig.authenticator.credential_count == 0


def test_attestation_none_when_asked_by_format_preference() -> None:
    with plugged(YUBIKEY_5) as rig:
        raw = rig.ctap.send_cbor(0x01, {1: CDH, 2: RP, 3: USER, 4: ES256, 0x0B: ["none"]})
        response = AttestationResponse.from_dict(raw)
        assert response.fmt == "none" and response.att_stmt == {}
        raw = rig.ctap.send_cbor(0x01, {1: CDH, 2: RP, 3: USER, 4: ES256, 0x0B: ["tpm", "packed"]})
        assert AttestationResponse.from_dict(raw).fmt == "packed"
        code = ctap_error(
            lambda: rig.ctap.send_cbor(0x01, {1: CDH, 2: RP, 3: USER, 4: ES256, 0x0A: 1})
        )
        assert code == ERR.INVALID_PARAMETER  # no enterprise attestation on this key


def test_none_attestation_is_accepted_by_py_webauthn() -> None:
    client_data = json.dumps(
        {"type": "webauthn.create", "challenge": b64url(CHALLENGE), "origin": ORIGIN}
    ).encode()
    with plugged(YUBIKEY_5) as rig:
        params = {1: sha256(client_data), 2: RP, 3: USER, 4: ES256, 0x0B: ["none"]}
        response = AttestationResponse.from_dict(rig.ctap.send_cbor(0x01, params))
    obj = AttestationObject.create(response.fmt, response.auth_data, response.att_stmt)
    assert response.auth_data.credential_data is not None
    cred_id = b64url(response.auth_data.credential_data.credential_id)
    verified = webauthn.verify_registration_response(
        credential={
            "id": cred_id,
            "rawId": cred_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(bytes(obj)),
            },
        },
        expected_challenge=CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
    )
    assert verified.fmt == AttestationFormat.NONE
    assert verified.aaguid == str(YUBIKEY_5.aaguid)


def test_credprotect_and_min_pin_length_extensions() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(ClientPin.PERMISSION.AUTHENTICATOR_CFG)
        Config(rig.ctap, protocol, token).set_min_pin_length(6, rp_ids=[RP_ID])
        registration = rig.fido2_client().make_credential(
            graph_options(
                extensions={
                    "credentialProtectionPolicy": "userVerificationRequired",
                    "minPinLength": True,
                }
            )
        )
        extensions = registration.response.attestation_object.auth_data.extensions
        assert extensions == {"credProtect": 3, "minPinLength": 6}
        assert rig.authenticator.resident_credentials()[0].cred_protect == 3


def test_uv_option_and_up_false_are_invalid_options() -> None:
    with plugged(YUBIKEY_5) as rig:
        assert ctap_error(lambda: _raw_make(rig, options={"uv": True})) == ERR.INVALID_OPTION
        assert ctap_error(lambda: _raw_make(rig, options={"up": False})) == ERR.INVALID_OPTION


def test_zero_length_pin_auth_tells_whether_a_pin_is_set_after_a_touch() -> None:
    with plugged(YUBIKEY_5) as rig:

        def probe() -> object:
            return rig.ctap.make_credential(CDH, RP, USER, ES256, pin_uv_param=b"")

        assert ctap_error(probe) == ERR.PIN_NOT_SET
        rig.client_pin().set_pin(PIN)
        assert ctap_error(probe) == ERR.PIN_INVALID


def test_ctap20_key_makes_credentials_with_a_legacy_token() -> None:
    with plugged(CTAP20_KEY) as rig:
        rig.client_pin().set_pin(PIN)
        registration = rig.fido2_client().make_credential(
            graph_options(extensions={"hmacCreateSecret": True})
        )
        assert _verify(registration).aaguid == str(CTAP20_KEY.aaguid)
        assert rig.authenticator.credential_count == 1


def test_malformed_requests_get_protocol_errors() -> None:
    with plugged(YUBIKEY_5) as rig:

        def send(params: dict[int, Any]) -> object:
            return rig.ctap.send_cbor(0x01, params)

        assert ctap_error(lambda: send({2: RP, 3: USER, 4: ES256})) == ERR.MISSING_PARAMETER
        assert ctap_error(lambda: send({1: "text", 2: RP, 3: USER, 4: ES256})) == (
            ERR.CBOR_UNEXPECTED_TYPE
        )
        assert ctap_error(lambda: send({1: CDH, 2: {"name": "x"}, 3: USER, 4: ES256})) == (
            ERR.MISSING_PARAMETER
        )
        assert ctap_error(lambda: send({1: CDH, 2: RP, 3: USER, 4: [1]})) == (
            ERR.CBOR_UNEXPECTED_TYPE
        )
        device_call = rig.device.call
        assert device_call(CTAPHID.CBOR, b"\x01\xa1\x01")[0] == ERR.INVALID_CBOR
        assert device_call(CTAPHID.CBOR, b"\x01\x80")[0] == ERR.CBOR_UNEXPECTED_TYPE


def test_pin_protocol_two_token_drives_make_credential_directly() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(MC, protocol=PinProtocolV2)
        response = _raw_make(rig, protocol, token)
        assert response.fmt == "packed"
        assert response.auth_data.credential_data is not None
        assert response.auth_data.rp_id_hash == sha256(RP_ID.encode())
