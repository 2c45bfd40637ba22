"""Operator and admin PINs as scrypt hashes in kiosk.toml, checked in constant time.

A hash reads ``scrypt$n=16384,r=8,p=1$<salt>$<digest>`` (salt and digest base64url without
padding), so the cost can be raised later without breaking stored hashes. The parameters are
read from kiosk.toml, which is input like any other: they are bounded so one PIN check costs at
most :data:`MAX_MEMORY_BYTES` of memory (scrypt needs ``128 * n * r`` bytes) and a bounded
amount of work, never the 4 GiB an unchecked ``n`` and ``r`` allow.

The PIN itself is never stored, logged or put in an exception message. Which PINs may be
hashed (length, no runs, not common) is checked where a PIN is chosen (`kiosk operator add`),
since a hash cannot tell.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from kiosk.errors import KioskError
from kiosk.model.codec import b64url

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
DIGEST_BYTES = 32
MIN_PIN_LENGTH = 6
"""Operator and admin PINs: at least this many characters (and the generated-PIN rules)."""
MAX_MEMORY_BYTES = 64 * 2**20
"""The most memory one PIN check may take (n = 2**16 at r = 8)."""
MAX_WORK = 2**20
"""Bound on ``n * r * p``: about four times the default cost."""
MAX_HASH_TEXT = 256


class PinHashError(KioskError):
    """A pin_hash in kiosk.toml is not one `kiosk operator add` wrote."""

    title = "Operator PIN hash not readable"
    next_step = "Make a new hash with `kiosk operator add NAME` and paste it into kiosk.toml."


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(pin: str, salt: bytes, cost: tuple[int, int, int], size: int) -> bytes:
    n, r, p = cost
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r + 2**20, dklen=size
    )


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """The scrypt hash of ``pin`` in the format kiosk.toml stores."""
    if len(pin) < MIN_PIN_LENGTH:
        raise KioskError(
            f"The PIN is shorter than {MIN_PIN_LENGTH} characters.",
            title="PIN too short",
            next_step=f"Choose a PIN of at least {MIN_PIN_LENGTH} characters.",
        )
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _derive(pin, salt, (SCRYPT_N, SCRYPT_R, SCRYPT_P), DIGEST_BYTES)
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${b64url(salt)}${b64url(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    if not isinstance(stored, str) or len(stored) > MAX_HASH_TEXT:
        raise PinHashError("The stored PIN hash is not in the scrypt$... format.")
    try:
        scheme, params, salt_text, digest_text = stored.strip().split("$")
        if scheme != "scrypt":
            raise ValueError
        values = dict(part.split("=", 1) for part in params.split(","))
        if set(values) != {"n", "r", "p"} or not all(v.isdigit() for v in values.values()):
            raise ValueError
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, binascii.Error) as exc:
        raise PinHashError("The stored PIN hash is not in the scrypt$... format.") from exc
    power_of_two = n >= 2 and n & (n - 1) == 0
    if not (power_of_two and 1 <= r <= 32 and 1 <= p <= 16):
        raise PinHashError("The stored PIN hash has scrypt parameters out of range.")
    if 128 * n * r > MAX_MEMORY_BYTES or n * r * p > MAX_WORK:
        raise PinHashError(
            "The stored PIN hash asks for more memory or work per check than the kiosk allows.",
            next_step=f"Make a new hash with `kiosk operator add NAME` (n={SCRYPT_N}, "
            f"r={SCRYPT_R}, p={SCRYPT_P}) and paste it into kiosk.toml.",
        )
    if not (8 <= len(salt) <= 64 and 16 <= len(digest) <= 64):
        raise PinHashError("The stored PIN hash is too short or too long.")
    return n, r, p, salt, digest


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored``; the comparison takes constant time."""
    n, r, p, salt, digest = _parse(stored)
    candidate = _derive(pin, salt, (n, r, p), len(digest))
    return hmac.compare_digest(candidate, digest)


def check_hash(stored: str) -> None:
    """Raise :class:`PinHashError` when ``stored`` is not a readable, affordable hash."""
    _parse(stored)
