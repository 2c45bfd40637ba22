"""getInfo, reset and selection of the virtual key, over CTAPHID packets."""

from __future__ import annotations

import dataclasses
import threading

from fido2.ctap2 import ClientPin, Config

from kiosk.keys.virtual.profiles import CTAP20_KEY, FULL_KEY, USED_KEY, YUBIKEY_5
from tests.fixtures.clock import FakeClock

from .virtual_ctap2_helpers import ERR, ctap_error, plugged, touch_when_asked


def test_yubikey5_info_says_ctap21_with_config_and_its_identity() -> None:
    with plugged(YUBIKEY_5) as rig:
        info = rig.ctap.get_info()
    assert "FIDO_2_1" in info.versions and "FIDO_2_0" in info.versions
    assert str(info.aaguid) == str(YUBIKEY_5.aaguid)
    assert info.options["rk"] and info.options["up"]
    assert info.options["clientPin"] is False  # supported, not set yet
    assert info.options["pinUvAuthToken"] and info.options["credMgmt"]
    assert info.options["authnrCfg"] and info.options["setMinPINLength"]
    assert info.pin_uv_protocols == [2, 1]
    assert info.min_pin_length == 4 and info.force_pin_change is False
    assert info.firmware_version == 0x050701
    assert info.algorithms == [{"alg": -7, "type": "public-key"}]
    assert info.remaining_disc_creds == YUBIKEY_5.max_credentials
    assert {"credProtect", "hmac-secret", "minPinLength"} <= set(info.extensions)


def test_ctap20_key_offers_no_config_no_token_permissions_and_protocol_one_only() -> None:
    with plugged(CTAP20_KEY) as rig:
        info = rig.ctap.get_info()
        assert "FIDO_2_1" not in info.versions
        assert "authnrCfg" not in info.options and "pinUvAuthToken" not in info.options
        assert "credMgmt" not in info.options
        assert info.pin_uv_protocols == [1]
        assert info.remaining_disc_creds is None
        assert ctap_error(lambda: rig.ctap.config(0x03, {1: 6})) == ERR.INVALID_COMMAND
        assert ctap_error(rig.ctap.selection) == ERR.INVALID_COMMAND


def test_used_key_arrives_with_a_pin_and_credentials() -> None:
    with plugged(USED_KEY) as rig:
        info = rig.ctap.get_info()
        assert info.options["clientPin"] is True
        assert info.remaining_disc_creds == USED_KEY.max_credentials - 2
        assert rig.authenticator.credential_count == 2
        assert ClientPin(rig.ctap).get_pin_retries()[0] == 8


def test_full_key_reports_no_room_left() -> None:
    with plugged(FULL_KEY) as rig:
        assert rig.ctap.get_info().remaining_disc_creds == 0


def test_a_ctap20_key_reports_no_remaining_count_even_when_full() -> None:
    # CTAP 2.1 section 6.4: remainingDiscoverableCredentials (0x14) is new in 2.1 and
    # optional; absent, the count is unknown. A full CTAP 2.0 key says nothing: the kiosk
    # learns it only from makeCredential's CTAP2_ERR_KEY_STORE_FULL.
    full20 = dataclasses.replace(CTAP20_KEY, max_credentials=1, preset_credentials=1)
    with plugged(full20) as rig:
        info = rig.ctap.get_info()
        assert info.remaining_disc_creds is None and info.options["clientPin"] is False


def test_reset_within_the_window_after_a_touch_wipes_pin_credentials_and_policy() -> None:
    clock = FakeClock()
    with plugged(USED_KEY, auto_touch=None, clock=clock) as rig:
        protocol, token = rig.token(ClientPin.PERMISSION.AUTHENTICATOR_CFG, pin="246813")
        Config(rig.ctap, protocol, token).set_min_pin_length(8, force_change_pin=True)
        assert rig.ctap.get_info().force_pin_change is True
        rig.replug()
        clock.advance(9.0)
        toucher = touch_when_asked(rig.key)
        rig.ctap.reset(on_keepalive=rig.on_keepalive)
        toucher.join()
        info = rig.ctap.get_info()
    assert 2 in rig.keepalives  # UPNEEDED while it blinked
    assert info.options["clientPin"] is False
    assert info.min_pin_length == USED_KEY.min_pin_length
    assert info.force_pin_change is False
    assert info.remaining_disc_creds == USED_KEY.max_credentials
    assert rig.authenticator.credential_count == 0
    assert rig.authenticator.pin_retries == 8


def test_reset_after_the_window_is_not_allowed_and_keeps_everything() -> None:
    clock = FakeClock()
    with plugged(USED_KEY, clock=clock) as rig:
        clock.advance(10.5)
        assert ctap_error(rig.ctap.reset) == ERR.NOT_ALLOWED
        assert rig.authenticator.pin_set and rig.authenticator.credential_count == 2
        rig.replug()  # a new window opens at every plug-in
        rig.ctap.reset()
        assert not rig.authenticator.pin_set


def test_reset_window_is_settable() -> None:
    clock = FakeClock()
    with plugged(USED_KEY, clock=clock) as rig:
        rig.authenticator.reset_window = 30.0
        clock.advance(20.0)
        rig.ctap.reset()
        assert not rig.authenticator.pin_set


def test_reset_without_a_touch_times_out_and_keeps_the_pin() -> None:
    with plugged(USED_KEY, auto_touch=None, touch_timeout=0.3) as rig:
        assert ctap_error(rig.ctap.reset) == ERR.USER_ACTION_TIMEOUT
        assert rig.authenticator.pin_set


def test_reset_cancelled_while_blinking_answers_keepalive_cancel() -> None:
    with plugged(USED_KEY, auto_touch=None) as rig:
        cancel = threading.Event()
        timer = threading.Timer(0.25, cancel.set)
        timer.start()
        assert ctap_error(lambda: rig.ctap.reset(event=cancel)) == ERR.KEEPALIVE_CANCEL
        assert rig.authenticator.pin_set


def test_selection_waits_for_a_touch() -> None:
    with plugged(YUBIKEY_5, auto_touch=None, touch_timeout=0.3) as rig:
        assert ctap_error(rig.ctap.selection) == ERR.USER_ACTION_TIMEOUT
        toucher = touch_when_asked(rig.key)
        rig.ctap.selection()
        toucher.join()


def test_unknown_command_and_empty_cbor_are_protocol_errors() -> None:
    with plugged(YUBIKEY_5) as rig:
        assert ctap_error(lambda: rig.ctap.send_cbor(0x3F)) == ERR.INVALID_COMMAND
        assert ctap_error(lambda: rig.ctap.send_cbor(0x01, {})) == ERR.MISSING_PARAMETER
        assert ctap_error(lambda: rig.ctap.send_cbor(0x08)) == ERR.NOT_ALLOWED


def test_preset_pin_is_the_profiles() -> None:
    with plugged(USED_KEY) as rig:
        assert ctap_error(lambda: rig.token(ClientPin.PERMISSION.MAKE_CREDENTIAL)) == (
            ERR.PIN_INVALID
        )
        rig.token(ClientPin.PERMISSION.MAKE_CREDENTIAL, pin="246813")


def test_pin_and_credentials_survive_unplugging_but_tokens_do_not() -> None:
    with plugged(YUBIKEY_5) as rig:
        rig.client_pin().set_pin("482916")
        protocol, token = rig.token(ClientPin.PERMISSION.AUTHENTICATOR_CFG, pin="482916")
        rig.replug()
        assert rig.ctap.get_info().options["clientPin"] is True
        config = Config(rig.ctap, protocol, token)
        assert ctap_error(lambda: config.set_min_pin_length(6)) == ERR.PIN_AUTH_INVALID
        protocol, token = rig.token(ClientPin.PERMISSION.AUTHENTICATOR_CFG, pin="482916")
        Config(rig.ctap, protocol, token).set_min_pin_length(6)
        assert rig.authenticator.min_pin_length == 6
