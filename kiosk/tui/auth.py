"""Operator and admin PINs: scrypt hashes in kiosk.toml, constant-time checks, idle lock.

A hash reads ``scrypt$n=16384,r=8,p=1$<salt>$<digest>`` (salt and digest base64url without
padding), so the cost can be raised later without breaking stored hashes. The PIN itself is
never stored, logged or put in an exception message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskError

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
DIGEST_BYTES = 32
MIN_PIN_LENGTH = 4
_MAX_N = 2**20


class PinHashError(KioskError):
    """A pin_hash in kiosk.toml is not one `kiosk operator add` wrote."""

    title = "Operator PIN hash not readable"
    next_step = "Make a new hash with `kiosk operator add NAME` and paste it into kiosk.toml."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=DIGEST_BYTES
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
    digest = _derive(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        scheme, params, salt_text, digest_text = stored.strip().split("$")
        if scheme != "scrypt":
            raise ValueError
        values = dict(part.split("=", 1) for part in params.split(","))
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, KeyError) as exc:
        raise PinHashError("The stored PIN hash is not in the scrypt$... format.") from exc
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise PinHashError("The stored PIN hash has scrypt parameters out of range.")
    if len(salt) < 8 or len(digest) < 16:
        raise PinHashError("The stored PIN hash is too short.")
    return n, r, p, salt, digest


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored``; the comparison takes constant time."""
    n, r, p, salt, digest = _parse(stored)
    candidate = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=len(digest)
    )
    return hmac.compare_digest(candidate, digest)


def check_hash(stored: str) -> None:
    """Raise :class:`PinHashError` when ``stored`` is not a readable hash."""
    _parse(stored)


@dataclass
class IdleLock:
    """Tells when the kiosk has been idle long enough to lock itself.

    ``clock`` is injectable so tests can move time on without sleeping.
    """

    minutes: float
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._last = self.clock()

    def touch(self) -> None:
        """The operator did something (a key press)."""
        self._last = self.clock()

    @property
    def idle_seconds(self) -> float:
        return max(0.0, self.clock() - self._last)

    def due(self) -> bool:
        return self.minutes > 0 and self.idle_seconds >= self.minutes * 60.0


@dataclass
class PinThrottle:
    """After ``tries`` wrong PINs in a row, refuse for ``pause`` seconds (admin PIN).

    Kept by the app, not by the PIN screen, so closing and reopening the screen does not
    start the count again.
    """

    clock: Callable[[], float] = time.monotonic
    tries: int = 5
    pause: float = 30.0

    def __post_init__(self) -> None:
        self._failures = 0
        self._until = 0.0

    def wait_seconds(self) -> int:
        """Seconds left before another PIN is checked; 0 when one may be tried now."""
        left = self._until - self.clock()
        return int(left) + 1 if left > 0 else 0

    def failed(self) -> bool:
        """Count a wrong PIN; True when that one started a pause."""
        self._failures += 1
        if self._failures >= self.tries:
            self._failures = 0
            self._until = self.clock() + self.pause
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
