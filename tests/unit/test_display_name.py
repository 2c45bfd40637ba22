"""The method's display name in Entra: 30 characters at most, the serial never lost."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.entra.display_name import check_template, make_display_name
from kiosk.errors import ConfigError


def test_short_name_is_left_alone() -> None:
    assert make_display_name("{model} {serial}", model="YubiKey 5 NFC", serial="23456789") == (
        "YubiKey 5 NFC 23456789"
    )


def test_long_model_is_cut_and_serial_kept() -> None:
    name = make_display_name(
        "{model} {serial}", model="YubiKey 5C NFC FIPS Security Key by Yubico", serial="31415926"
    )
    assert len(name) == 30
    assert name.endswith(" 31415926")
    assert name.startswith("YubiKey 5C NFC FIPS")


def test_upn_shrinks_before_model() -> None:
    name = make_display_name(
        "{serial} {model} {upn}",
        model="YubiKey 5 NFC",
        serial="12345678",
        upn="alice.wonderland@contoso.onmicrosoft.com",
    )
    assert name.startswith("12345678 YubiKey 5 NFC ")
    assert len(name) == 30


def test_guest_upn_and_date_format() -> None:
    name = make_display_name(
        "{upn} {date:%d.%m.%y}",
        model="m",
        serial=None,
        upn="bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        date=date(2026, 11, 22),
    )
    assert name.endswith(" 22.11.26")
    assert name.startswith("bob_fabrikam.com#EXT#")
    assert len(name) <= 30


def test_long_template_text_still_keeps_serial() -> None:
    name = make_display_name(
        "Security key of the mailroom, serial number {serial}, enrolled", model="", serial="9988776"
    )
    assert "9988776" in name
    assert len(name) <= 30


def test_no_serial_and_control_characters() -> None:
    assert make_display_name("{model} {serial}", model="Key\x00\n  Model", serial=None) == (
        "Key Model"
    )


def test_a_serial_longer_than_30_keeps_its_end() -> None:
    serial = "A" * 10 + "0123456789" * 3
    assert make_display_name("{serial}", model="m", serial=serial) == serial[-30:]


@pytest.mark.parametrize("bad", ["{model} {name}", "{serial", "{0}", "{model.__class__}"])
def test_bad_templates_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_template(bad)


TEMPLATES = st.sampled_from(
    [
        "{model} {serial}",
        "{serial} {model}",
        "{model} ({serial}) {upn}",
        "{upn} {model} {serial} {date}",
        "Key {serial} for {upn}",
        "{date:%Y-%m-%d} {model} #{serial}",
    ]
)
TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=0, max_size=60
)
SERIAL = st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=16)


@given(TEMPLATES, TEXT, SERIAL, TEXT, st.dates())
def test_always_fits_and_keeps_the_serial(
    template: str, model: str, serial: str, upn: str, when: date
) -> None:
    name = make_display_name(template, model=model, serial=serial, upn=upn, date=when)
    assert len(name) <= 30
    assert serial in name
    assert name == name.strip()
