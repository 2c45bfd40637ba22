"""Security-key PINs: generate them, check the ones an operator types, and keep them out of logs.

A PIN lives in a :class:`Pin`, whose ``repr``/``str``/``format`` never show the value; the one
way to the characters is :meth:`Pin.reveal`, called where the PIN is really needed (set on the
key, sealed for the helpdesk, shown once for the PIN mailer).

Rules for every PIN, generated or typed (:func:`pin_problem`):

- at least the required length (the configured length or minimum and the key's own minimum,
  whichever is larger), in Unicode code points, and at most 63 bytes of UTF-8 (CTAP's limit);
- no run of three or more of the same character (``111``, ``aaa``);
- no run of three or more consecutive characters, up or down (``123``, ``987``, ``abc``);
- not made of one short block repeated (``121212``, ``45674567``);
- not on a short list of common PINs, and for digit PINs not starting with a year (19xx, 20xx).
"""

from __future__ import annotations

import hmac
import secrets
import string
import unicodedata
from typing import Literal, NoReturn

from kiosk.errors import KioskError

CTAP_MAX_PIN_BYTES = 63
CTAP_MIN_PIN_LENGTH = 4

DIGITS = string.digits
ALPHANUMERIC = "23456789abcdefghjkmnpqrstuvwxyz"
"""Lower-case letters and digits without the look-alikes 0/o, 1/l/i: read off a PIN mailer."""

ALPHABETS: dict[str, str] = {"digits": DIGITS, "alphanumeric": ALPHANUMERIC}

COMMON_PINS: frozenset[str] = frozenset(
    {
        "0000", "1111", "1212", "1234", "1004", "2000", "2222", "4321", "6969", "7777",
        "123456", "654321", "111111", "000000", "121212", "123123", "112233", "123321",
        "159753", "147258", "258369", "147852", "159357", "789456", "456789", "666666",
        "696969", "101010", "131313", "520520", "753951", "852456", "987654", "123654",
        "12345678", "87654321", "11111111", "12341234", "11223344", "00000000", "12344321",
        "qwerty", "qwertz", "azerty", "asdfgh", "password", "passw0rd", "letmein",
    }
)
"""A modest list of the PINs people (and attackers) try first."""


class PinRuleError(KioskError):
    """A PIN breaks the kiosk's PIN rules (or the PIN settings cannot be kept); the detail
    says which rule, never the PIN itself. A key refusing a PIN is another error:
    :class:`kiosk.keys.errors.PinPolicyError`."""

    title = "PIN not accepted"
    next_step = "Type a different PIN."


class Pin:
    """A PIN that does not show itself: repr, str and format print ``Pin(********)``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a PIN is text")
        self._value = value

    def reveal(self) -> str:
        """The characters of the PIN. Call only where the PIN is really needed."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "Pin(********)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pin):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        raise TypeError("a Pin is not hashable (it would leak through dict and set timing)")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Pin is never pickled")

    def __copy__(self) -> Pin:
        return self

    def __deepcopy__(self, memo: object) -> Pin:
        return self


def required_length(length: int, key_min_length: int) -> int:
    """The length a generated PIN gets: the larger of the two, at least CTAP's minimum."""
    return max(length, key_min_length, CTAP_MIN_PIN_LENGTH)


def _run_problem(pin: str) -> str | None:
    for a, b, c in zip(pin, pin[1:], pin[2:], strict=False):
        if a == b == c:
            return "it has the same character three or more times in a row"
        if a.isalnum() and b.isalnum() and c.isalnum():
            step1, step2 = ord(b) - ord(a), ord(c) - ord(b)
            same_kind = a.isdigit() == b.isdigit() == c.isdigit()
            if same_kind and step1 == step2 and step1 in (1, -1):
                return "it has three or more consecutive characters in a row (like 123 or 987)"
    return None


def _repeat_problem(pin: str) -> str | None:
    n = len(pin)
    for size in range(1, n // 2 + 1):
        if n % size == 0 and pin[:size] * (n // size) == pin:
            return "it is one short group of characters repeated"
    return None


def _common_problem(pin: str) -> str | None:
    folded = pin.casefold()
    if folded in COMMON_PINS:
        return "it is one of the most common PINs"
    if pin.isdigit() and len(pin) >= 4 and pin[:2] in ("19", "20"):
        return "it starts like a year (19xx or 20xx)"
    return None


def pin_problem(pin: str, min_length: int) -> str | None:
    """Why ``pin`` breaks the rules (never quoting it), or None when it is fine."""
    if len(pin) < min_length:
        return f"it has {len(pin)} characters; at least {min_length} are needed"
    if len(pin.encode("utf-8")) > CTAP_MAX_PIN_BYTES:
        return f"it is longer than a security key accepts ({CTAP_MAX_PIN_BYTES} bytes)"
    if pin != pin.strip():
        return "it starts or ends with a space"
    if any(unicodedata.category(ch).startswith("C") for ch in pin):
        return "it has a control or invisible character"
    return _run_problem(pin) or _repeat_problem(pin) or _common_problem(pin)


def generate_pin(
    length: int = 8,
    alphabet: Literal["digits", "alphanumeric"] | str = "digits",
    key_min_length: int = CTAP_MIN_PIN_LENGTH,
) -> Pin:
    """A random PIN from ``secrets``: ``max(length, key_min_length)`` characters, rules kept.

    ``alphabet`` is ``"digits"``, ``"alphanumeric"`` or the characters themselves (ten or more).
    """
    chars = ALPHABETS.get(alphabet, alphabet)
    if len(set(chars)) < 10:
        raise PinRuleError(
            f"the PIN alphabet has {len(set(chars))} distinct characters; at least 10 are needed.",
            title="PIN settings problem",
            next_step="Set policy.pin_alphabet to digits or alphanumeric.",
        )
    n = required_length(length, key_min_length)
    if len(chars.encode("utf-8")) == len(chars) and n > CTAP_MAX_PIN_BYTES:
        raise PinRuleError(
            f"a PIN of {n} characters is longer than a security key accepts "
            f"({CTAP_MAX_PIN_BYTES}).",
            title="PIN settings problem",
            next_step="Lower policy.pin_length, or use a key with a lower minimum PIN length.",
        )
    while True:  # rejection sampling: about 2 in 3 eight-digit draws pass, so this ends fast
        candidate = "".join(secrets.choice(chars) for _ in range(n))
        if pin_problem(candidate, n) is None:
            return Pin(candidate)


def validate_operator_pin(pin: str | Pin, min_length: int, key_min_length: int = 0) -> Pin:
    """Check a PIN the operator typed; raise :class:`PinRuleError` saying which rule fails."""
    value = pin.reveal() if isinstance(pin, Pin) else pin
    value = unicodedata.normalize("NFC", value)
    needed = max(min_length, key_min_length, CTAP_MIN_PIN_LENGTH)
    problem = pin_problem(value, needed)
    if problem is not None:
        raise PinRuleError(
            f"The PIN was not accepted: {problem}.",
            next_step=f"Type a different PIN of at least {needed} characters, without "
            "repeated or consecutive runs (111, 123) and not a common PIN or a year.",
        )
    return Pin(value)
