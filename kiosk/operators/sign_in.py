"""Who may sign in, and the one place a typed PIN is checked.

:func:`check_sign_in` refuses, before the screen starts, a kiosk nobody can sign in to or
nobody can stop (no operator, no admin, an unreadable hash or key credential).
:class:`SignInGate` checks a PIN for a named person through the kiosk's one
:class:`~kiosk.operators.throttle.PinThrottle` and reports what an auditor must see (failed
sign-ins, pauses, admin unlocks, the admin's exit) as :class:`SignInRecord`\\ s to a sink the
front end connects to the engine's audit trail. Never the PIN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from kiosk.config import OperatorSettings, Settings
from kiosk.errors import ConfigError, KioskError
from kiosk.operators.key_sign_in import parse_credential
from kiosk.operators.pin_hash import check_hash, verify_pin
from kiosk.operators.throttle import PinThrottle

SIGN_IN_FAILED = "sign-in failed"
SIGN_IN_PAUSED = "sign-in paused"
ADMIN_UNLOCKED = "admin screen opened"
KIOSK_EXITED = "kiosk exited by admin"
Purpose = Literal["sign-in", "admin"]


@dataclass(frozen=True)
class SignInRecord:
    """One audit record about signing in: who, what, and never the PIN."""

    event: str
    name: str | None
    outcome: str = "ok"
    reason: str = ""
    failures: int = 0
    pause_seconds: int = 0


@dataclass(frozen=True)
class PinVerdict:
    ok: bool
    message: str = ""
    """What the screen says when not ok (never the PIN)."""


def people(settings: Settings) -> list[OperatorSettings]:
    """Everyone who may sign in (a name and a PIN hash), in kiosk.toml's order."""
    return [o for o in settings.kiosk.operators if o.name and o.pin_hash]


def admins(settings: Settings) -> list[OperatorSettings]:
    return [o for o in people(settings) if o.role == "admin"]


def _named(settings: Settings, index: int, key: str, exc: KioskError) -> ConfigError:
    return ConfigError(
        f"{settings.source}: kiosk.operators[{index}].{key}: {exc.detail}",
        next_step=exc.next_step,
    )


def check_sign_in(settings: Settings) -> None:
    """Refuse to start a kiosk nobody can sign in to, or nobody can stop."""
    everyone = people(settings)
    if not everyone:
        raise ConfigError(
            f"{settings.source}: no [[kiosk.operators]] with a name and a pin_hash.",
            next_step="Run `kiosk operator add NAME` and paste its output into kiosk.toml.",
        )
    seen: set[str] = set()
    for index, person in enumerate(settings.kiosk.operators):
        if person.name.casefold() in seen:
            raise ConfigError(
                f"{settings.source}: kiosk.operators[{index}].name: two operators are called "
                f"{person.name!r}.",
                next_step="Give every operator a different name.",
            )
        seen.add(person.name.casefold())
        try:
            check_hash(person.pin_hash)
        except KioskError as exc:
            raise _named(settings, index, "pin_hash", exc) from None
        if person.key_credential:
            try:
                parse_credential(person.key_credential)
            except KioskError as exc:
                raise _named(settings, index, "key_credential", exc) from None
    if not admins(settings):
        raise ConfigError(
            f'{settings.source}: no [[kiosk.operators]] has role = "admin", so nobody could '
            "open the admin screen or exit the kiosk.",
            next_step="Run `kiosk operator add NAME --admin` and paste its output into "
            "kiosk.toml.",
        )


class SignInGate:
    """Checks PINs for named people, throttled, and reports what the audit must hold."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        throttle: PinThrottle,
        record: Callable[[SignInRecord], None],
    ) -> None:
        self._settings = settings
        self.throttle = throttle
        self.record = record

    @property
    def settings(self) -> Settings:
        return self._settings()

    @property
    def people(self) -> Sequence[OperatorSettings]:
        return people(self.settings)

    @property
    def admins(self) -> Sequence[OperatorSettings]:
        return admins(self.settings)

    def check_pin(self, person: OperatorSettings, pin: str, purpose: Purpose) -> PinVerdict:
        """Check ``pin`` for ``person``; a wrong one counts towards the kiosk's back-off."""
        wait = self.throttle.wait_seconds()
        if wait:
            return PinVerdict(False, f"Too many wrong PINs. Wait {wait} seconds.")
        if purpose == "admin" and person.role != "admin":
            return PinVerdict(False, f"{person.name} is not an admin of this kiosk.")
        try:
            ok = verify_pin(pin, person.pin_hash)
        except KioskError as exc:
            return PinVerdict(False, f"{exc.title}: {exc.next_step}")
        if ok:
            self.throttle.succeeded()
            if purpose == "admin":
                self.record(SignInRecord(ADMIN_UNLOCKED, person.name))
            return PinVerdict(True)
        return self._wrong(person.name, purpose)

    def key_failed(self, reason: str) -> None:
        """A sign-in with a key failed (no PIN was typed here, so no back-off)."""
        self.record(SignInRecord(SIGN_IN_FAILED, None, "failed", f"operator key: {reason}"))

    def exited(self, name: str | None) -> None:
        self.record(SignInRecord(KIOSK_EXITED, name, reason="exit chosen on the admin screen"))

    def _wrong(self, name: str, purpose: Purpose) -> PinVerdict:
        pause = int(self.throttle.failed())
        failures = self.throttle.failures
        what = "admin PIN" if purpose == "admin" else "PIN"
        self.record(SignInRecord(SIGN_IN_FAILED, name, "failed", f"wrong {what}", failures))
        if pause:
            self.record(
                SignInRecord(SIGN_IN_PAUSED, name, "paused", f"wrong {what}", failures, pause)
            )
            return PinVerdict(False, f"Wrong {what} {failures} times: refused for {pause} s.")
        left = self.throttle.tries_left()
        return PinVerdict(False, f"Wrong {what} for {name}. {left} tries before a pause.")
