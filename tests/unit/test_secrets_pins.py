"""A PIN is never shown back: not by a refusal of an operator-typed PIN, not by the Pin
object that carries it (repr, str, format, f-strings, logging, pickling)."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.enroll.pins import Pin, PinRuleError, generate_pin, validate_operator_pin


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefXYZ", min_size=5, max_size=16))
def test_a_refused_operator_pin_is_never_echoed(typed: str) -> None:
    try:
        validate_operator_pin(typed, 6)
    except PinRuleError as exc:
        shown = "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])
        assert typed not in shown


def test_a_pin_hides_itself_everywhere_it_could_be_printed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pin = generate_pin(8)
    value = pin.reveal()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("kiosk.test").debug("pin %s %r", pin, pin)
    shown = [str(pin), repr(pin), f"{pin}", f"{pin!r}", f"{pin:>20}", "%s" % (pin,),  # noqa: UP031
             str([pin]), str({"pin": pin}), caplog.text]
    assert all(value not in text for text in shown)
    with pytest.raises(TypeError):
        pickle.dumps(pin)
    assert Pin(value) == pin
