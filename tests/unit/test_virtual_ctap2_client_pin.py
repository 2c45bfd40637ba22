"""clientPIN on the virtual key with PIN/UV protocols one and two, over CTAPHID packets."""

from __future__ import annotations

import pytest
from fido2.ctap2 import ClientPin, Config
from fido2.ctap2.pin import PinProtocol, PinProtocolV1, PinProtocolV2
from fido2.utils import sha256

from kiosk.keys.virtual.profiles import CTAP20_KEY, YUBIKEY_5
from tests.fixtures.clock import FakeClock

from .virtual_ctap2_helpers import (
    ERR,
    PIN,
    PROTOCOLS,
    RP_ID,
    Rig,
    ctap_error,
    plugged,
)

MC = ClientPin.PERMISSION.MAKE_CREDENTIAL
GA = ClientPin.PERMISSION.GET_ASSERTION
ACFG = ClientPin.PERMISSION.AUTHENTICATOR_CFG


def _padded(pin: str) -> bytes:
    return pin.encode().ljust(64, b"\0")


def _raw_set_pin(rig: Rig, protocol: PinProtocol, padded: bytes, *, good_mac: bool = True) -> None:
    client_pin = ClientPin(rig.ctap, protocol)
    key_agreement, shared = client_pin._get_shared_secret()
    enc = protocol.encrypt(shared, padded)
    mac = protocol.authenticate(shared, enc)
    if not good_mac:
        mac = bytes(b ^ 0xFF for b in mac)
    rig.ctap.client_pin(
        protocol.VERSION,
        ClientPin.CMD.SET_PIN,
        key_agreement=key_agreement,
        new_pin_enc=enc,
        pin_uv_param=mac,
    )


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["one", "two"])
def test_set_pin_then_tokens_with_and_without_permissions(protocol: type[PinProtocol]) -> None:
    with plugged(YUBIKEY_5) as rig:
        client_pin = rig.client_pin(protocol)
        client_pin.set_pin(PIN)
        assert rig.ctap.get_info().options["clientPin"] is True
        assert client_pin.get_pin_retries() == (8, False)
        token = client_pin.get_pin_token(PIN, MC | GA, RP_ID)
        assert len(token) == 32
        legacy = client_pin.get_pin_token(PIN)  # getPinToken (0x05)
        assert len(legacy) == 32 and legacy != token


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["one", "two"])
def test_change_pin_replaces_the_old_one(protocol: type[PinProtocol]) -> None:
    with plugged(YUBIKEY_5) as rig:
        client_pin = rig.client_pin(protocol)
        client_pin.set_pin(PIN)
        client_pin.change_pin(PIN, "135790")
        assert ctap_error(lambda: client_pin.get_pin_token(PIN, MC, RP_ID)) == ERR.PIN_INVALID
        client_pin.get_pin_token("135790", MC, RP_ID)
        assert ctap_error(lambda: client_pin.change_pin("000000", "24680")) == ERR.PIN_INVALID


def test_set_pin_twice_is_not_allowed() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        assert ctap_error(lambda: rig.client_pin().set_pin("999999")) == ERR.NOT_ALLOWED


def test_change_pin_and_token_without_a_pin_say_pin_not_set() -> None:
    with plugged(YUBIKEY_5) as rig:
        client_pin = rig.client_pin()
        assert ctap_error(lambda: client_pin.change_pin(PIN, "123456")) == ERR.PIN_NOT_SET
        assert ctap_error(lambda: client_pin.get_pin_token(PIN, MC, RP_ID)) == ERR.PIN_NOT_SET


@pytest.mark.parametrize("protocol", [PinProtocolV1(), PinProtocolV2()], ids=["one", "two"])
def test_set_pin_with_a_bad_mac_is_refused(protocol: PinProtocol) -> None:
    with plugged(YUBIKEY_5) as rig:
        code = ctap_error(lambda: _raw_set_pin(rig, protocol, _padded(PIN), good_mac=False))
        assert code == ERR.PIN_AUTH_INVALID
        assert not rig.authenticator.pin_set


def test_pin_outside_the_length_policy_is_a_policy_violation() -> None:
    with plugged(YUBIKEY_5) as rig:
        # Without a PIN, authenticatorConfig needs no token: raise the minimum to 6 first.
        Config(rig.ctap).set_min_pin_length(6)
        assert ctap_error(lambda: rig.client_pin().set_pin("12345")) == ERR.PIN_POLICY_VIOLATION
        too_long = _padded("7" * 64)  # 64 bytes, no terminating zero: over 63
        code = ctap_error(lambda: _raw_set_pin(rig, PinProtocolV2(), too_long))
        assert code == ERR.PIN_POLICY_VIOLATION
        assert not rig.authenticator.pin_set
        rig.client_pin().set_pin("123456")
        assert rig.authenticator.pin_set


def test_padded_pin_of_the_wrong_size_is_an_invalid_parameter() -> None:
    with plugged(YUBIKEY_5) as rig:
        code = ctap_error(lambda: _raw_set_pin(rig, PinProtocolV2(), PIN.encode().ljust(32, b"\0")))
        assert code == ERR.INVALID_PARAMETER


def test_pin_length_counts_code_points_not_bytes() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin("äöü€")  # 4 code points, 9 bytes: meets a minimum of 4
        assert rig.authenticator.pin_set


def test_three_wrong_pins_in_a_row_block_until_the_key_is_replugged() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        for _ in range(2):
            assert ctap_error(lambda: rig.token(MC, pin="000000")) == ERR.PIN_INVALID
        assert ctap_error(lambda: rig.token(MC, pin="000000")) == ERR.PIN_AUTH_BLOCKED
        assert rig.client_pin().get_pin_retries() == (5, True)
        # Even the right PIN is refused until a power cycle, and costs no retry.
        assert ctap_error(lambda: rig.token(MC)) == ERR.PIN_AUTH_BLOCKED
        assert rig.authenticator.pin_retries == 5
        rig.replug()
        assert rig.client_pin().get_pin_retries() == (5, False)
        rig.token(MC)
        assert rig.authenticator.pin_retries == 8


def test_eight_wrong_pins_block_the_pin_for_good() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin(PinProtocolV1).set_pin(PIN)
        codes = []
        for attempt in range(8):
            if attempt and attempt % 3 == 0:
                rig.replug()
            codes.append(ctap_error(lambda: rig.token(MC, pin="000000", protocol=PinProtocolV1)))
        assert codes[-1] == ERR.PIN_BLOCKED
        assert codes[:2] == [ERR.PIN_INVALID, ERR.PIN_INVALID]
        rig.replug()
        assert rig.client_pin().get_pin_retries()[0] == 0
        assert ctap_error(lambda: rig.token(MC)) == ERR.PIN_BLOCKED
        rig.ctap.reset()  # only a reset brings the key back
        rig.client_pin().set_pin(PIN)
        rig.token(MC)


def test_a_wrong_pin_replaces_the_key_agreement_key() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        before = rig.ctap.client_pin(2, ClientPin.CMD.GET_KEY_AGREEMENT)[1]
        assert rig.ctap.client_pin(2, ClientPin.CMD.GET_KEY_AGREEMENT)[1] == before
        ctap_error(lambda: rig.token(MC, pin="000000"))
        assert rig.ctap.client_pin(2, ClientPin.CMD.GET_KEY_AGREEMENT)[1] != before


def test_unsupported_permissions_are_unauthorized() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        bio = ClientPin.PERMISSION.BIO_ENROLL
        assert ctap_error(lambda: rig.token(bio)) == ERR.UNAUTHORIZED_PERMISSION
        blob = ClientPin.PERMISSION.LARGE_BLOB_WRITE
        assert ctap_error(lambda: rig.token(blob)) == ERR.UNAUTHORIZED_PERMISSION
        assert rig.authenticator.pin_retries == 8  # refused before the PIN was tried


def test_permission_token_missing_permissions_is_a_missing_parameter() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin(PIN)
        protocol = PinProtocolV2()
        key_agreement, shared = ClientPin(rig.ctap, protocol)._get_shared_secret()
        pin_hash_enc = protocol.encrypt(shared, sha256(PIN.encode())[:16])
        code = ctap_error(
            lambda: rig.ctap.client_pin(
                2, 0x09, key_agreement=key_agreement, pin_hash_enc=pin_hash_enc
            )
        )
        assert code == ERR.MISSING_PARAMETER


def test_ctap20_key_knows_only_legacy_tokens_and_protocol_one() -> None:
    with plugged(CTAP20_KEY) as rig:
        client_pin = ClientPin(rig.ctap)
        assert client_pin.protocol.VERSION == 1
        client_pin.set_pin(PIN)
        assert len(client_pin.get_pin_token(PIN, MC, RP_ID)) == 32  # falls back to 0x05
        assert ctap_error(lambda: rig.ctap.client_pin(2, 0x01)) == ERR.INVALID_PARAMETER
        protocol = PinProtocolV1()
        key_agreement, shared = ClientPin(rig.ctap, protocol)._get_shared_secret()
        code = ctap_error(
            lambda: rig.ctap.client_pin(
                1,
                0x09,
                key_agreement=key_agreement,
                pin_hash_enc=protocol.encrypt(shared, sha256(PIN.encode())[:16]),
                permissions=1,
            )
        )
        assert code == ERR.INVALID_SUBCOMMAND


def test_uv_subcommands_are_not_offered() -> None:
    with plugged(YUBIKEY_5) as rig:
        assert ctap_error(lambda: rig.ctap.client_pin(2, 0x07)) == ERR.INVALID_SUBCOMMAND
        assert ctap_error(lambda: rig.ctap.client_pin(2, 0x42)) == ERR.INVALID_SUBCOMMAND


def test_malformed_key_agreement_is_an_invalid_parameter() -> None:
    with plugged(YUBIKEY_5) as rig:
        bad_point = {1: 2, 3: -25, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32}
        code = ctap_error(
            lambda: rig.ctap.client_pin(
                2, 0x03, key_agreement=bad_point, pin_uv_param=b"\0" * 32, new_pin_enc=b"\0" * 80
            )
        )
        assert code == ERR.INVALID_PARAMETER


def test_an_unused_token_expires_after_its_initial_usage_period() -> None:
    clock = FakeClock()
    with plugged(YUBIKEY_5, clock=clock) as rig:
        rig.client_pin().set_pin(PIN)
        protocol, token = rig.token(ACFG)
        clock.advance(31.0)
        config = Config(rig.ctap, protocol, token)
        assert ctap_error(lambda: config.set_min_pin_length(6)) == ERR.PIN_AUTH_INVALID
        protocol, token = rig.token(ACFG)
        Config(rig.ctap, protocol, token).set_min_pin_length(6)
        assert rig.authenticator.min_pin_length == 6
