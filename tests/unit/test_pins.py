"""Generated PINs keep every rule; typed PINs are checked with messages that never quote them."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.enroll.pins import (
    ALPHANUMERIC,
    Pin,
    PinRuleError,
    generate_pin,
    pin_problem,
    validate_operator_pin,
)


def _independent_rules_hold(pin: str, length: int) -> None:
    """The rules restated plainly, so the test does not trust pin_problem."""
    assert len(pin) == length
    for i in range(len(pin) - 2):
        a, b, c = pin[i : i + 3]
        assert not (a == b == c), "repeated run"
        if a.isdigit() and b.isdigit() and c.isdigit():
            d1, d2 = int(b) - int(a), int(c) - int(b)
            assert not (d1 == d2 and d1 in (1, -1)), "sequential run"
        if a.isalpha() and b.isalpha() and c.isalpha():
            d1, d2 = ord(b) - ord(a), ord(c) - ord(b)
            assert not (d1 == d2 and d1 in (1, -1)), "sequential run"
    assert pin not in {"123456", "111111", "121212", "654321", "12341234"}
    if pin.isdigit():
        assert pin[:2] not in ("19", "20"), "year-like prefix"
    for size in range(1, len(pin) // 2 + 1):
        if len(pin) % size == 0:
            assert pin[:size] * (len(pin) // size) != pin, "repeated block"


@settings(max_examples=300, deadline=None)
@given(length=st.integers(4, 24), key_min=st.integers(4, 24))
def test_generated_digit_pins_keep_every_rule(length: int, key_min: int) -> None:
    pin = generate_pin(length, "digits", key_min).reveal()
    assert pin.isdigit()
    _independent_rules_hold(pin, max(length, key_min))


@settings(max_examples=200, deadline=None)
@given(length=st.integers(4, 20), key_min=st.integers(4, 20))
def test_generated_alphanumeric_pins_keep_every_rule(length: int, key_min: int) -> None:
    pin = generate_pin(length, "alphanumeric", key_min).reveal()
    assert set(pin) <= set(ALPHANUMERIC)
    _independent_rules_hold(pin, max(length, key_min))


def test_generated_pins_differ() -> None:
    pins = {generate_pin(8).reveal() for _ in range(200)}
    assert len(pins) > 195


def test_a_length_beyond_ctap_is_refused_with_the_setting_to_change() -> None:
    with pytest.raises(PinRuleError) as err:
        generate_pin(64)
    assert "policy.pin_length" in err.value.next_step


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12345", "at least 6"),
        ("582111", "same character three or more times"),
        ("581234", "consecutive"),
        ("529876", "consecutive"),
        ("654321", "consecutive"),
        ("474747", "repeated"),
        ("123123", "consecutive"),
        ("qwerty", "common"),
        ("19855027", "year"),
        (" 582947", "space"),
        ("5829\x0047", "control"),
    ],
)
def test_operator_pins_that_break_a_rule_are_refused_without_echo(typed: str, reason: str) -> None:
    with pytest.raises(PinRuleError) as err:
        validate_operator_pin(typed, 6)
    message = str(err.value)
    assert reason in message
    assert typed.strip() not in message


def test_the_key_minimum_wins_over_the_configured_one() -> None:
    with pytest.raises(PinRuleError, match="at least 8"):
        validate_operator_pin("5829471", 6, key_min_length=8)
    assert validate_operator_pin("58294713", 6, key_min_length=8).reveal() == "58294713"


def test_a_good_operator_pin_passes() -> None:
    assert pin_problem("582947", 6) is None
    assert validate_operator_pin("k7#Pq2z!", 6).reveal() == "k7#Pq2z!"


def test_a_pin_never_shows_itself() -> None:
    pin = Pin("58294713")
    for text in (repr(pin), str(pin), f"{pin}", f"{pin!r}", "%s" % (pin,), repr([pin])):  # noqa: UP031
        assert "58294713" not in text
    assert pin.reveal() == "58294713" and len(pin) == 8
    assert pin == Pin("58294713") and pin != Pin("58294714")
    with pytest.raises(TypeError):
        pickle.dumps(pin)
    with pytest.raises(TypeError):
        hash(pin)
    assert copy.deepcopy(pin).reveal() == "58294713"
