"""Identity over the virtual key: AAGUID, model, firmware, serial, PIN state, slots; and
hypothesis throwing random getInfo answers at the parser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.errors import KioskError
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.identity import (
    UNKNOWN_MODEL,
    builtin_models,
    describe_raw,
    format_firmware,
    model_name,
)
from kiosk.keys.mds import MdsCatalog
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.model.keys import KeyInfo
from tests.unit.key_rig import PIN, Rig, profile, rig
from tests.unit.mds_blob import MdsSigner, entry, payload

GET_INFO = 0x04
CLIENT_PIN = 0x06


@pytest.fixture
def r() -> Iterator[Rig]:
    with rig() as value:
        yield value


def test_yubikey5_identified(r: Rig) -> None:
    info = r.session(r.key("yubikey5")).identify()
    assert info.aaguid == "a25342c0-3cdc-4414-8e46-f4807fca511c"  # YubiKey 5 NFC, firmware 5.7
    assert info.model == "YubiKey 5 NFC"
    assert info.firmware == "5.7.1"
    assert info.serial == "31400001"  # read with yubikit's ManagementSession over FIDO
    assert info.supports_ctap21 and info.supports_pin_policy
    # No PIN yet: its retry counter is not worth a transaction (read only for a key with a PIN).
    assert not info.pin_set and info.pin_retries is None
    assert info.min_pin_length == 4 and not info.force_pin_change
    assert info.remaining_credentials == 100
    assert info.path.startswith("virtual:")


def test_ctap20_key_identified_without_serial(r: Rig) -> None:
    info = r.session(r.key("ctap20")).identify()
    assert info.aaguid == "4e768f2c-5fab-48b3-b300-220eb487752b"
    assert info.model == "Generic FIDO2 key (CTAP 2.0)"
    assert info.serial is None and info.serial_or_none == "none"
    assert info.firmware == "1.0.0"
    assert not info.supports_ctap21 and not info.supports_pin_policy
    assert info.remaining_credentials is None


def test_used_and_full_keys(r: Rig) -> None:
    used = r.session(r.key("used")).identify()
    assert used.pin_set and used.pin_retries == 8 and used.serial == "31400002"
    full = r.session(r.key("full")).identify()
    assert full.remaining_credentials == 0 and full.serial == "31400003"


def test_hid_serial_used_when_not_a_yubikey(r: Rig) -> None:
    prof = profile("ctap20", hid_serial="TK2-0042")
    assert r.session(r.key(prof)).identify().serial == "TK2-0042"


def test_yubikey_without_management_answer_has_no_serial(r: Rig) -> None:
    prof = profile("yubikey5", yubikey_management=False, serial=None)
    info = r.session(r.key(prof)).identify()
    assert info.serial is None
    assert info.firmware == "5.7.1"  # still from getInfo


def test_an_unknown_aaguid_is_named_by_its_start(r: Rig) -> None:
    prof = profile("yubikey5", aaguid=uuid.UUID("0076631B-89ab-cdef-0123-456789abcdef"))
    assert r.session(r.key(prof)).identify().model == "FIDO2 key 0076631b"
    assert UNKNOWN_MODEL == "FIDO2 key"


def test_mds_names_the_model_before_the_builtin_table(r: Rig) -> None:
    signer = MdsSigner.create()
    blob = signer.sign(
        payload([entry(str(PROFILES["yubikey5"].aaguid), "YubiKey 5 NFC (MDS)")], "2027-01-01")
    )
    catalog = MdsCatalog.from_bytes(blob, signer.root_der)
    assert r.session(r.key("yubikey5"), mds=catalog).identify().model == "YubiKey 5 NFC (MDS)"
    # Not in the blob: the built-in table still answers.
    assert r.session(r.key("ctap20"), mds=catalog).identify().model.startswith("Generic")


def test_identify_after_pin_set_reports_it(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    assert session.identify().pin_set


def test_key_pulled_during_identify(r: Rig) -> None:
    key = r.key("used")  # a key with a PIN: identify reads its retries over clientPIN
    session = r.session(key)
    key.faults.pull(command=CLIENT_PIN)
    with pytest.raises(KeyPulledError):
        session.identify()


def test_broken_getinfo_is_an_error_not_a_crash(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    key.faults.malformed_reply(command=GET_INFO)
    with pytest.raises(KioskError) as caught:
        session.identify()
    assert caught.value.next_step


def test_builtin_table_is_well_formed() -> None:
    table = builtin_models()
    assert len(table) >= 20
    for aaguid, name in table.items():
        assert str(uuid.UUID(aaguid)) == aaguid and name
    for prof in PROFILES.values():
        assert model_name(str(prof.aaguid)) != UNKNOWN_MODEL
    assert model_name(str(uuid.UUID(int=0))) == UNKNOWN_MODEL


@pytest.mark.parametrize(
    ("value", "vid", "text"),
    [
        (0x050701, 0x1050, "5.7.1"),
        (0x050403, 0x1050, "5.4.3"),
        (0x010000, 0x1EA8, "1.0.0"),
        (17, 0x1EA8, "17"),
        (0, 0x1050, None),
    ],
)
def test_firmware_formatting(value: int, vid: int, text: str | None) -> None:
    assert format_firmware(value, vid) == text


# -- random getInfo answers ---------------------------------------------------------------------

cbor_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.binary(max_size=24),
    st.text(max_size=12),
)
cbor_values = st.recursive(
    cbor_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 30)), inner, max_size=4),
    ),
    max_leaves=12,
)
plausible = st.fixed_dictionaries(
    {
        1: st.one_of(
            st.lists(st.sampled_from(["FIDO_2_0", "FIDO_2_1", "U2F_V2"]), max_size=3), cbor_values
        ),
        3: st.one_of(st.binary(min_size=16, max_size=16), cbor_values),
    },
    optional={
        2: st.one_of(st.lists(st.text(max_size=12), max_size=3), cbor_values),
        4: st.one_of(
            st.dictionaries(st.sampled_from(["rk", "clientPin", "authnrCfg", "up"]), st.booleans()),
            cbor_values,
        ),
        6: st.one_of(st.lists(st.integers(0, 3), max_size=2), cbor_values),
        12: cbor_values,
        13: cbor_values,
        14: cbor_values,
        20: cbor_values,
    },
)
random_maps = st.dictionaries(st.integers(0, 0x20), cbor_values, max_size=10)


def _check(data: dict[Any, Any]) -> None:
    try:
        info = describe_raw(data, path="virtual:9", vid=0x1050)
    except KioskError as exc:
        assert exc.title and exc.next_step
        return
    assert isinstance(info, KeyInfo)
    uuid.UUID(info.aaguid)
    assert all(isinstance(v, str) for v in info.versions)
    assert all(isinstance(v, bool) for v in info.options.values())
    assert info.min_pin_length >= 4


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plausible)
def test_plausible_getinfo_gives_keyinfo_or_kiosk_error(data: dict[Any, Any]) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_maps)
def test_random_getinfo_gives_keyinfo_or_kiosk_error(data: dict[Any, Any]) -> None:
    _check(data)


def test_good_getinfo_parses() -> None:
    info = describe_raw(
        {
            1: ["FIDO_2_0", "FIDO_2_1"],
            3: PROFILES["yubikey5"].aaguid.bytes,
            4: {"clientPin": True, "authnrCfg": True, "setMinPINLength": True},
            13: 6,
            14: 0x050701,
            20: 25,
        },
        vid=0x1050,
    )
    assert info.model == "YubiKey 5 NFC" and info.firmware == "5.7.1"
    assert info.pin_set and info.min_pin_length == 6 and info.remaining_credentials == 25
