"""Operator-facing errors for everything that can go wrong at a security key.

CTAP has some sixty status codes; an operator needs about ten answers. :func:`key_error`
folds a failure from python-fido2 (``CtapError``, ``ClientError``, a dead HID handle) into one
of the classes below, each with a title, what happened and the next step. The same CTAP code
can mean different things in different commands (``NOT_ALLOWED`` from a reset means "outside
the reset window"), so the caller says which operation failed (:class:`Op`).

No message carries a secret: the mapping only ever looks at status codes and counters.
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Iterator
from contextlib import contextmanager

from fido2.client import ClientError
from fido2.ctap import CtapError
from fido2.hid import ConnectionFailure

from kiosk.errors import KioskError

ERR = CtapError.ERR


class Op(enum.StrEnum):
    """The operation that failed; it decides what an ambiguous CTAP code means."""

    OPEN = "opening the key"
    IDENTIFY = "reading the key's details"
    RESET = "resetting the key"
    SET_PIN = "setting the PIN"
    CHANGE_PIN = "changing the PIN"
    MAKE_CREDENTIAL = "creating the credential"
    PIN_POLICY = "applying the PIN policy"
    SELF_TEST = "testing the new credential"
    SIGN_IN = "signing in with the key"


class KeyProblem(KioskError):
    """Base class: something went wrong at the security key."""

    title = "Security key problem"
    next_step = "Pull the key, insert it again and retry. If it fails again, set the key aside."


class WrongPinError(KeyProblem):
    title = "Wrong PIN"

    def __init__(self, attempts_remaining: int | None) -> None:
        self.attempts_remaining = attempts_remaining
        if attempts_remaining is None:
            left = "The key did not say how many attempts are left."
        elif attempts_remaining == 1:
            left = "1 attempt is left before the key locks."
        else:
            left = f"{attempts_remaining} attempts are left before the key locks."
        super().__init__(
            f"The key refused the PIN. {left}",
            next_step="Check the PIN and try again. A locked key can only be reset.",
        )


class PinBlockedError(KeyProblem):
    """The PIN is locked: for good (reset needed), or until the key is re-inserted."""

    title = "PIN blocked"

    def __init__(self, *, until_reinserted: bool = False) -> None:
        self.until_reinserted = until_reinserted
        if until_reinserted:
            super().__init__(
                "The key stopped accepting PINs after three wrong ones in a row.",
                next_step="Pull the key, insert it again, and retry with the right PIN.",
            )
        else:
            super().__init__(
                "The key is locked after too many wrong PINs; its credentials are unusable.",
                next_step="Reset the key (this erases it) or set it aside.",
            )


class KeyFullError(KeyProblem):
    title = "Key is full"

    def __init__(self) -> None:
        super().__init__(
            "The key has no room left for another credential.",
            next_step="Reset the key to erase old credentials, or use another key.",
        )


class CredentialExcludedError(KeyProblem):
    title = "Key already registered"

    def __init__(self) -> None:
        super().__init__(
            "This key is already registered to this user.",
            next_step="Use another key for this user, or skip this user.",
        )


class ResetRefusedError(KeyProblem):
    """A reset is only accepted shortly after the key is plugged in."""

    title = "Reset refused"

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        seconds = f"{window_seconds:g}"
        super().__init__(
            f"The key only accepts a reset within {seconds} seconds of being inserted.",
            next_step=f"Pull the key, insert it again, and touch it within {seconds} seconds.",
        )


class KeyPulledError(KeyProblem):
    title = "Key removed"

    def __init__(
        self, detail: str = "The key was pulled out while the kiosk was using it."
    ) -> None:
        super().__init__(detail, next_step="Insert the key again; the kiosk starts this step over.")


class TouchTimeoutError(KeyProblem):
    title = "No touch"

    def __init__(self) -> None:
        super().__init__(
            "The key waited for a touch that did not come.",
            next_step="Retry, and touch the key's contact when it blinks.",
        )


class CancelledError(KeyProblem):
    title = "Cancelled"

    def __init__(self) -> None:
        super().__init__(
            "The operation was cancelled before the key finished.",
            next_step="Retry when ready.",
        )


class NotSupportedError(KeyProblem):
    title = "Key not supported"

    def __init__(self, feature: str) -> None:
        self.feature = feature
        super().__init__(
            f"This key does not support {feature}.",
            next_step="Use a key model that supports it, or ask the administrator about "
            "the key policy.",
        )


class PinPolicyError(KeyProblem):
    title = "PIN not accepted"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            next_step="Use a PIN that meets the key's rules (length), or check the PIN policy.",
        )


class PinAlreadySetError(KeyProblem):
    title = "Key already has a PIN"

    def __init__(self) -> None:
        super().__init__(
            "A PIN can only be set on a key without one.",
            next_step="Reset the key first (this erases it), or use a new key.",
        )


class PinNotSetError(KeyProblem):
    title = "Key has no PIN"

    def __init__(self) -> None:
        super().__init__(
            "The key needs a PIN for this step, and none is set.",
            next_step="Set the PIN first; if the kiosk skipped that, retry the enrollment.",
        )


class NoPermissionError(KeyProblem):
    title = "No access to the key"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"The kiosk may not open {path}.",
            next_step="Install the kiosk's udev rule (systemd/) and insert the key again.",
        )


class OptionsError(KioskError):
    """Graph's creation options cannot be turned into a CTAP request."""

    title = "Enrollment options unusable"
    next_step = "Retry to fetch fresh options. If it happens again, call the administrator."


class KeyCommandError(KeyProblem):
    """Any other refusal: the code is named so the administrator can look it up."""

    title = "The key refused"

    def __init__(self, op: Op, code: int | None = None, what: str = "") -> None:
        self.code = code
        if code is not None:
            name = code.name if isinstance(code, CtapError.ERR) else "unknown"
            detail = f"The key answered error 0x{int(code):02X} ({name}) while {op}."
        else:
            detail = what or f"The key gave an answer the kiosk cannot read while {op}."
        super().__init__(detail)


_PULLED_ERRNOS = {errno.ENODEV, errno.ENOENT, errno.EIO, errno.EPIPE, errno.EBADF, errno.ENXIO}
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}

_TIMEOUT = {ERR.USER_ACTION_TIMEOUT, ERR.ACTION_TIMEOUT, ERR.TIMEOUT}
_UNSUPPORTED = {
    ERR.UNSUPPORTED_ALGORITHM: "any of the signature algorithms Entra asked for",
    ERR.UNSUPPORTED_OPTION: "an option Entra asked for",
    ERR.INVALID_SUBCOMMAND: "this command",
}


def _from_ctap(
    exc: CtapError, op: Op, attempts_remaining: int | None, reset_window_seconds: float
) -> KeyProblem:
    code = exc.code
    if code == ERR.PIN_INVALID:
        # No retries left: the key is already blocked, whatever error it chose to send.
        return PinBlockedError() if attempts_remaining == 0 else WrongPinError(attempts_remaining)
    if code == ERR.PIN_BLOCKED:
        return PinBlockedError()
    if code == ERR.PIN_AUTH_BLOCKED:
        return PinBlockedError(until_reinserted=True)
    if code in (ERR.KEY_STORE_FULL, ERR.LIMIT_EXCEEDED):
        return KeyFullError()
    if code == ERR.CREDENTIAL_EXCLUDED:
        return CredentialExcludedError()
    if code in _TIMEOUT:
        return TouchTimeoutError()
    if code == ERR.KEEPALIVE_CANCEL:
        return CancelledError()
    if op == Op.RESET and code in (ERR.NOT_ALLOWED, ERR.OPERATION_DENIED):
        return ResetRefusedError(reset_window_seconds)
    if op == Op.SET_PIN and code in (ERR.PIN_AUTH_INVALID, ERR.NOT_ALLOWED):
        return PinAlreadySetError()
    if code == ERR.PIN_POLICY_VIOLATION:
        if op in (Op.SET_PIN, Op.CHANGE_PIN):
            return PinPolicyError("The key refused the new PIN: too short or too long.")
        if op == Op.PIN_POLICY:
            return PinPolicyError("The key refused the PIN policy (it cannot be loosened).")
        return PinPolicyError("The key requires its PIN to be changed before it can be used.")
    if code in (ERR.PIN_NOT_SET, ERR.PUAT_REQUIRED):
        return PinNotSetError()
    if op == Op.PIN_POLICY and code == ERR.INVALID_COMMAND:
        return NotSupportedError("authenticatorConfig (minimum PIN length, forced PIN change)")
    if code in _UNSUPPORTED:
        return NotSupportedError(_UNSUPPORTED[code])
    return KeyCommandError(op, code)


def key_error(
    exc: BaseException,
    op: Op,
    *,
    attempts_remaining: int | None = None,
    reset_window_seconds: float = 10.0,
    path: str = "the key",
) -> KioskError:
    """Turn a failure at the key into an operator-facing :class:`KioskError`.

    ``attempts_remaining`` completes a wrong-PIN error (the caller reads the retry counter);
    ``reset_window_seconds`` completes a refused reset.
    """
    if isinstance(exc, KioskError):
        return exc
    if isinstance(exc, ClientError):
        cause = exc.cause
        if isinstance(cause, CtapError):
            return _from_ctap(cause, op, attempts_remaining, reset_window_seconds)
        if isinstance(cause, BaseException):
            return key_error(
                cause,
                op,
                attempts_remaining=attempts_remaining,
                reset_window_seconds=reset_window_seconds,
                path=path,
            )
        if exc.code == ClientError.ERR.TIMEOUT:
            return TouchTimeoutError()
        if exc.code == ClientError.ERR.DEVICE_INELIGIBLE:
            return CredentialExcludedError()
        if exc.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED:
            return NotSupportedError(str(cause) if cause else "what Entra asked for")
        return KeyCommandError(op, what=f"The request was refused while {op}.")
    if isinstance(exc, CtapError):
        return _from_ctap(exc, op, attempts_remaining, reset_window_seconds)
    if isinstance(exc, OSError):
        if exc.errno in _PERMISSION_ERRNOS:
            return NoPermissionError(path)
        return KeyPulledError()
    if isinstance(exc, ConnectionFailure):
        return KeyCommandError(op, what=f"The key stopped answering properly while {op}.")
    return KeyCommandError(op)


def is_pulled(exc: BaseException) -> bool:
    """True when ``exc`` says the device is gone (an OSError from a dead HID handle)."""
    if isinstance(exc, KeyPulledError):
        return True
    return isinstance(exc, OSError) and (exc.errno in _PULLED_ERRNOS or exc.errno is None)


@contextmanager
def translated(
    op: Op, *, reset_window_seconds: float = 10.0, path: str = "the key"
) -> Iterator[None]:
    """Raise every failure from inside the block as an operator-facing error.

    Anything the key or python-fido2 raises (a status code, a dead handle, an answer that
    does not parse) leaves as a :class:`KioskError`, with the original as ``__cause__``.
    """
    try:
        yield
    except KioskError:
        raise
    except Exception as exc:
        raise key_error(exc, op, reset_window_seconds=reset_window_seconds, path=path) from exc
