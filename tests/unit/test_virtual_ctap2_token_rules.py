"""The virtual key refuses what a CTAP 2.1 key refuses: the pinUvAuthToken rules.

Each test drives the key over real packets with python-fido2's Ctap2 and PIN protocols (and
the kiosk's :class:`~kiosk.keys.pin_channel.PinChannel`, which reuses one shared secret per
power cycle), so a shortcut a real key would refuse cannot pass here. Sections are those of
CTAP 2.1 (Proposed Standard, 2021-06-15).
"""

from __future__ import annotations

import pytest
from fido2.ctap2 import ClientPin, Config
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2

from kiosk.keys.pin_channel import PinChannel
from kiosk.keys.virtual.profiles import CTAP20_KEY, YUBIKEY_5
from tests.fixtures.clock import FakeClock

from .virtual_ctap2_helpers import ERR, PIN, RP_ID, Rig, ctap_error, plugged

MC = ClientPin.PERMISSION.MAKE_CREDENTIAL
GA = ClientPin.PERMISSION.GET_ASSERTION
ACFG = ClientPin.PERMISSION.AUTHENTICATOR_CFG
CDH = b"\x01" * 32
USER = {"id": b"user-1", "name": "adele@contoso.example"}
ES256 = [{"type": "public-key", "alg": -7}]


def _make(rig: Rig, channel: PinChannel, token: bytes, rp_id: str = RP_ID) -> object:
    auth = channel.protocol.authenticate(token, CDH)
    rp = {"id": rp_id, "name": rp_id}
    return rig.ctap.make_credential(
        CDH, rp, USER, ES256, None, None, {"rk": True}, auth, channel.protocol.VERSION
    )


def _config(rig: Rig, channel: PinChannel, token: bytes) -> None:
    Config(rig.ctap, channel.protocol, token).set_min_pin_length(6)


def test_one_key_agreement_serves_set_pin_and_every_token() -> None:
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        _make(rig, channel, channel.token(PIN, MC, RP_ID))
        _config(rig, channel, channel.token(PIN, ACFG))
        assert channel.key_agreements == 1
        assert rig.authenticator.min_pin_length == 6
        assert rig.key.transactions.counts()["clientPIN.getKeyAgreement"] == 1


def test_token_used_after_user_presence_cleared_its_permissions_is_refused() -> None:
    """Section 6.1.2 step 14: after makeCredential collects user presence, the token keeps
    only lbw; its mc, ga and acfg permissions are gone (so the kiosk asks a second token)."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        token = channel.token(PIN, MC | GA | ACFG, RP_ID)
        _make(rig, channel, token)
        assert ctap_error(lambda: _make(rig, channel, token)) == ERR.PIN_AUTH_INVALID
        assert ctap_error(lambda: _config(rig, channel, token)) == ERR.PIN_AUTH_INVALID
        auth = channel.protocol.authenticate(token, CDH)
        code = ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, None, None, None, auth, 2))
        assert code == ERR.PIN_AUTH_INVALID
        _config(rig, channel, channel.token(PIN, ACFG))  # a fresh token does it


def test_user_presence_clears_the_token_even_when_the_request_did_not_use_it() -> None:
    """Section 6.2.2 step 9: getAssertion with up clears the token in use, pinUvAuthParam or
    not."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        _make(rig, channel, channel.token(PIN, MC, RP_ID))
        token = channel.token(PIN, GA | ACFG, RP_ID)
        rig.ctap.get_assertion(RP_ID, CDH)  # touched, no token: the discoverable credential
        assert ctap_error(lambda: _config(rig, channel, token)) == ERR.PIN_AUTH_INVALID


@pytest.mark.parametrize("permission", [MC, GA])
def test_token_bound_to_another_rp_id_is_refused(permission: ClientPin.PERMISSION) -> None:
    """Sections 6.1.2 step 11 and 6.2.2 step 6: an mc/ga token is bound to its rp id."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        token = channel.token(PIN, permission, "evil.example")
        auth = channel.protocol.authenticate(token, CDH)
        if permission == MC:
            code = ctap_error(lambda: _make(rig, channel, token))
        else:
            code = ctap_error(lambda: rig.ctap.get_assertion(RP_ID, CDH, None, None, None, auth, 2))
        assert code == ERR.PIN_AUTH_INVALID


def test_token_without_the_permission_is_refused() -> None:
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        assert ctap_error(lambda: _config(rig, channel, channel.token(PIN, MC, RP_ID))) == (
            ERR.PIN_AUTH_INVALID
        )
        assert ctap_error(lambda: _make(rig, channel, channel.token(PIN, ACFG))) == (
            ERR.PIN_AUTH_INVALID
        )


def test_no_token_during_force_pin_change_until_the_pin_is_changed() -> None:
    """Sections 6.5.5.7.1 and 6.5.5.7.2: while forcePINChange is set, getPinToken and
    getPinUvAuthTokenUsingPinWithPermissions answer PIN_POLICY_VIOLATION."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        Config(rig.ctap, channel.protocol, channel.token(PIN, ACFG)).set_min_pin_length(
            force_change_pin=True
        )
        assert rig.ctap.get_info().force_pin_change
        for ask in (
            lambda: channel.token(PIN, MC, RP_ID),
            lambda: ClientPin(rig.ctap).get_pin_token(PIN),  # legacy getPinToken
        ):
            assert ctap_error(ask) == ERR.PIN_POLICY_VIOLATION
        channel.change_pin(PIN, "730194")
        _make(rig, channel, channel.token("730194", MC, RP_ID))
        assert not rig.ctap.get_info().force_pin_change


def test_token_expires_after_the_max_usage_period_even_in_use() -> None:
    """Section 6.5.3.2: a token in use stops at the max usage time period (10 minutes)."""
    clock = FakeClock()
    with plugged(YUBIKEY_5, clock=clock) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        token = channel.token(PIN, ACFG)
        _config(rig, channel, token)
        clock.advance(25.0)
        _config(rig, channel, token)  # in use: the 30 s initial limit no longer applies
        clock.advance(600.0)
        assert ctap_error(lambda: _config(rig, channel, token)) == ERR.PIN_AUTH_INVALID


@pytest.mark.parametrize("protocol", [PinProtocolV1, PinProtocolV2])
def test_key_agreement_is_regenerated_at_power_up(protocol: type[PinProtocolV1]) -> None:
    """Section 6.5.4: a power cycle makes a new key-agreement key; a shared secret agreed
    before it no longer verifies."""
    with plugged(YUBIKEY_5) as rig:
        stale = PinChannel(rig.ctap, protocol())
        stale.agree()  # before the power cycle
        rig.replug()
        stale.ctap2 = rig.ctap
        assert ctap_error(lambda: stale.set_pin(PIN)) == ERR.PIN_AUTH_INVALID
        assert not rig.authenticator.pin_set
        PinChannel(rig.ctap, protocol()).set_pin(PIN)  # agreed afresh, it works
        assert rig.authenticator.pin_set


def test_key_agreement_is_regenerated_at_reset() -> None:
    """Section 6.6: authenticatorReset re-initializes the PIN/UV protocols."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        channel.token(PIN, MC, RP_ID)
        rig.ctap.reset()
        assert ctap_error(lambda: channel.set_pin(PIN)) == ERR.PIN_AUTH_INVALID
        channel.set_pin(PIN)  # the failure dropped the stale secret: agreed afresh
        assert channel.key_agreements == 2


def test_a_wrong_pin_regenerates_the_key_agreement_and_the_channel_agrees_again() -> None:
    """Section 6.5.5.7.2: a wrong PIN calls regenerate(); the next token needs a new secret."""
    with plugged(YUBIKEY_5) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        assert ctap_error(lambda: channel.token("000000", MC, RP_ID)) == ERR.PIN_INVALID
        channel.token(PIN, MC, RP_ID)
        assert channel.key_agreements == 2


def test_ctap20_key_gets_a_legacy_token_over_the_same_secret() -> None:
    with plugged(CTAP20_KEY) as rig:
        channel = PinChannel(rig.ctap)
        channel.set_pin(PIN)
        _make(rig, channel, channel.token(PIN, MC, RP_ID))
        names = rig.key.transactions.names()
        assert "clientPIN.getPinToken" in names
        assert names.count("clientPIN.getKeyAgreement") == 1
