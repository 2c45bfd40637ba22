"""authenticatorConfig (PIN policy) and credentialManagement on the virtual key, over packets."""

from __future__ import annotations

import pytest
from fido2.ctap2 import ClientPin, Config, CredentialManagement
from fido2.ctap2.pin import PinProtocol

from kiosk.keys.virtual.profiles import USED_KEY, YUBIKEY_5

from .virtual_ctap2_helpers import (
    ERR,
    PIN,
    PROTOCOLS,
    RP_ID,
    Rig,
    ctap_error,
    graph_options,
    plugged,
)

ACFG = ClientPin.PERMISSION.AUTHENTICATOR_CFG
MC = ClientPin.PERMISSION.MAKE_CREDENTIAL
CM = ClientPin.PERMISSION.CREDENTIAL_MGMT


def _config(rig: Rig, protocol: type[PinProtocol] | None = None, pin: str = PIN) -> Config:
    pin_protocol, token = rig.token(ACFG, protocol=protocol, rp_id=None, pin=pin)
    return Config(rig.ctap, pin_protocol, token)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["one", "two"])
def test_set_min_pin_length_with_an_acfg_token(protocol: type[PinProtocol]) -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin(protocol).set_pin("12345678")
        _config(rig, protocol, "12345678").set_min_pin_length(8, rp_ids=[RP_ID])
        info = rig.ctap.get_info()
        assert info.min_pin_length == 8
        assert info.force_pin_change is False  # the PIN already has 8 digits
        assert rig.authenticator.min_pin_length_rp_ids == (RP_ID,)


def test_force_change_refuses_tokens_until_the_pin_is_changed() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        _config(rig).set_min_pin_length(force_change_pin=True)
        assert rig.ctap.get_info().force_pin_change is True
        assert ctap_error(lambda: rig.token(MC)) == ERR.PIN_POLICY_VIOLATION
        legacy = ClientPin(rig.ctap)
        assert ctap_error(lambda: legacy.get_pin_token(PIN)) == ERR.PIN_POLICY_VIOLATION
        # The right PIN was still right: no retry lost.
        assert rig.authenticator.pin_retries == 8
        code = ctap_error(lambda: rig.client_pin().change_pin(PIN, PIN))
        assert code == ERR.PIN_POLICY_VIOLATION  # must differ from the old one
        rig.client_pin().change_pin(PIN, "918273")
        assert rig.ctap.get_info().force_pin_change is False
        rig.token(MC, pin="918273")


def test_raising_the_minimum_above_the_pin_forces_a_change() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)  # 6 digits
        _config(rig).set_min_pin_length(8)
        assert rig.authenticator.force_pin_change is True
        code = ctap_error(lambda: rig.client_pin().change_pin(PIN, "1234567"))
        assert code == ERR.PIN_POLICY_VIOLATION
        rig.client_pin().change_pin(PIN, "12345678")
        assert rig.authenticator.force_pin_change is False


def test_min_pin_length_never_goes_down() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin("12345678")
        _config(rig, pin="12345678").set_min_pin_length(8)
        config = _config(rig, pin="12345678")
        assert ctap_error(lambda: config.set_min_pin_length(6)) == ERR.PIN_POLICY_VIOLATION
        assert rig.authenticator.min_pin_length == 8


def test_config_needs_a_token_with_acfg_once_a_pin_is_set() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        code = ctap_error(lambda: Config(rig.ctap).set_min_pin_length(6))
        assert code == ERR.PUAT_REQUIRED
        protocol, token = rig.token(MC)
        code = ctap_error(lambda: Config(rig.ctap, protocol, token).set_min_pin_length(6))
        assert code == ERR.PIN_AUTH_INVALID
        protocol, token = rig.token(ACFG, rp_id=None)
        code = ctap_error(lambda: Config(rig.ctap, protocol, b"\0" * 32).set_min_pin_length(6))
        assert code == ERR.PIN_AUTH_INVALID
        assert rig.authenticator.min_pin_length == 4


def test_force_change_without_a_pin_is_pin_not_set() -> None:
    with plugged(YUBIKEY_5) as rig:
        code = ctap_error(lambda: Config(rig.ctap).set_min_pin_length(force_change_pin=True))
        assert code == ERR.PIN_NOT_SET


def test_other_config_subcommands_are_not_offered() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        assert ctap_error(_config(rig).toggle_always_uv) == ERR.INVALID_SUBCOMMAND
        assert ctap_error(_config(rig).enable_enterprise_attestation) == ERR.INVALID_SUBCOMMAND


def test_too_many_min_pin_length_rp_ids_do_not_fit() -> None:
    with plugged(YUBIKEY_5) as rig:
        rp_ids = [f"rp{i}.example" for i in range(9)]
        code = ctap_error(lambda: Config(rig.ctap).set_min_pin_length(6, rp_ids=rp_ids))
        assert code == ERR.KEY_STORE_FULL


def test_credential_management_counts_lists_and_deletes() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        registration = rig.fido2_client().make_credential(graph_options())
        rig.fido2_client().make_credential(graph_options(user_id=b"second-user"))
        protocol, token = rig.token(CM, rp_id=None)
        credman = CredentialManagement(rig.ctap, protocol, token)
        metadata = credman.get_metadata()
        assert metadata[1] == 2 and metadata[2] == YUBIKEY_5.max_credentials - 2
        rps = credman.enumerate_rps()
        assert [rp[3]["id"] for rp in rps] == [RP_ID]
        creds = credman.enumerate_creds(rps[0][4])
        assert {c[6]["id"] for c in creds} == {b"entra-user-object-id-0001", b"second-user"}
        credman.delete_cred({"type": "public-key", "id": registration.raw_id})
        assert rig.authenticator.credential_count == 1
        assert credman.get_metadata()[1] == 1


def test_credential_management_of_a_used_key_needs_its_pin() -> None:
    with plugged(USED_KEY) as rig:
        code = ctap_error(lambda: rig.ctap.credential_mgmt(0x01))
        assert code == ERR.PUAT_REQUIRED
        protocol, token = rig.token(CM, pin="246813", rp_id=None)
        credman = CredentialManagement(rig.ctap, protocol, token)
        assert credman.get_metadata()[1] == 2
