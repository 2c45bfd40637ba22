"""CTAP failures folded into operator-facing errors: a title, what happened, the next step."""

from __future__ import annotations

import errno

import pytest
from fido2.client import ClientError
from fido2.ctap import CtapError
from fido2.hid import ConnectionFailure

from kiosk.errors import KioskError
from kiosk.keys.errors import (
    CancelledError,
    CredentialExcludedError,
    KeyCommandError,
    KeyFullError,
    KeyPulledError,
    NoPermissionError,
    NotSupportedError,
    Op,
    PinAlreadySetError,
    PinBlockedError,
    PinNotSetError,
    PinPolicyError,
    ResetRefusedError,
    TouchTimeoutError,
    WrongPinError,
    is_pulled,
    key_error,
    translated,
)

ERR = CtapError.ERR

CASES = [
    (ERR.PIN_INVALID, Op.MAKE_CREDENTIAL, WrongPinError),
    (ERR.PIN_BLOCKED, Op.MAKE_CREDENTIAL, PinBlockedError),
    (ERR.PIN_AUTH_BLOCKED, Op.CHANGE_PIN, PinBlockedError),
    (ERR.KEY_STORE_FULL, Op.MAKE_CREDENTIAL, KeyFullError),
    (ERR.CREDENTIAL_EXCLUDED, Op.MAKE_CREDENTIAL, CredentialExcludedError),
    (ERR.NOT_ALLOWED, Op.RESET, ResetRefusedError),
    (ERR.OPERATION_DENIED, Op.RESET, ResetRefusedError),
    (ERR.USER_ACTION_TIMEOUT, Op.MAKE_CREDENTIAL, TouchTimeoutError),
    (ERR.ACTION_TIMEOUT, Op.RESET, TouchTimeoutError),
    (ERR.KEEPALIVE_CANCEL, Op.MAKE_CREDENTIAL, CancelledError),
    (ERR.UNSUPPORTED_ALGORITHM, Op.MAKE_CREDENTIAL, NotSupportedError),
    (ERR.UNSUPPORTED_OPTION, Op.MAKE_CREDENTIAL, NotSupportedError),
    (ERR.INVALID_COMMAND, Op.PIN_POLICY, NotSupportedError),
    (ERR.PIN_POLICY_VIOLATION, Op.SET_PIN, PinPolicyError),
    (ERR.PIN_POLICY_VIOLATION, Op.MAKE_CREDENTIAL, PinPolicyError),
    (ERR.PIN_AUTH_INVALID, Op.SET_PIN, PinAlreadySetError),
    (ERR.PIN_NOT_SET, Op.MAKE_CREDENTIAL, PinNotSetError),
    (ERR.NOT_ALLOWED, Op.MAKE_CREDENTIAL, KeyCommandError),
    (ERR.INVALID_CBOR, Op.IDENTIFY, KeyCommandError),
    (0xF3, Op.MAKE_CREDENTIAL, KeyCommandError),  # a vendor code fido2 has no name for
]


@pytest.mark.parametrize(("code", "op", "cls"), CASES)
def test_ctap_codes_fold_into_categories(code: int, op: Op, cls: type[KioskError]) -> None:
    error = key_error(CtapError(code), op)
    assert type(error) is cls
    assert error.title and error.detail and error.next_step
    assert error.next_step not in ("", KioskError.next_step)
    # Fido2Client wraps CTAP errors in ClientError; the cause decides, not the wrapper.
    wrapped = key_error(ClientError(ClientError.ERR.BAD_REQUEST, CtapError(code)), op)
    assert type(wrapped) is cls


def test_wrong_pin_counts_attempts() -> None:
    assert "3 attempts are left" in str(
        key_error(CtapError(ERR.PIN_INVALID), Op.CHANGE_PIN, attempts_remaining=3)
    )
    assert "1 attempt is left" in str(
        key_error(CtapError(ERR.PIN_INVALID), Op.CHANGE_PIN, attempts_remaining=1)
    )
    assert "did not say" in str(key_error(CtapError(ERR.PIN_INVALID), Op.CHANGE_PIN))


def test_a_wrong_pin_with_no_retries_left_is_reported_as_blocked() -> None:
    blocked = key_error(CtapError(ERR.PIN_INVALID), Op.CHANGE_PIN, attempts_remaining=0)
    assert isinstance(blocked, PinBlockedError) and not blocked.until_reinserted
    assert blocked.title == "PIN blocked"
    assert "attempts are left" not in blocked.detail and "locked" in blocked.detail
    assert "Reset" in blocked.next_step


def test_reset_refused_names_the_window() -> None:
    error = key_error(CtapError(ERR.NOT_ALLOWED), Op.RESET, reset_window_seconds=5)
    assert isinstance(error, ResetRefusedError)
    assert error.next_step == "Pull the key, insert it again, and touch it within 5 seconds."


def test_unknown_codes_are_named_for_the_administrator() -> None:
    error = key_error(CtapError(ERR.INVALID_CBOR), Op.IDENTIFY)
    assert "0x12" in error.detail and "INVALID_CBOR" in error.detail
    assert "reading the key's details" in error.detail
    vendor = key_error(CtapError(0xF3), Op.MAKE_CREDENTIAL)
    assert "0xF3" in vendor.detail


@pytest.mark.parametrize("code", [errno.ENODEV, errno.EIO, errno.ENOENT, errno.EPIPE, errno.EBADF])
def test_dead_handle_means_key_pulled(code: int) -> None:
    exc = OSError(code, "gone")
    assert is_pulled(exc)
    assert isinstance(key_error(exc, Op.MAKE_CREDENTIAL), KeyPulledError)


def test_permission_denied_points_at_the_udev_rule() -> None:
    error = key_error(PermissionError(errno.EACCES, "denied"), Op.OPEN, path="/dev/hidraw3")
    assert isinstance(error, NoPermissionError)
    assert "/dev/hidraw3" in error.detail and "udev" in error.next_step


def test_client_errors_without_a_ctap_cause() -> None:
    assert isinstance(
        key_error(ClientError(ClientError.ERR.TIMEOUT), Op.MAKE_CREDENTIAL), TouchTimeoutError
    )
    assert isinstance(
        key_error(ClientError(ClientError.ERR.DEVICE_INELIGIBLE), Op.MAKE_CREDENTIAL),
        CredentialExcludedError,
    )
    unsupported = key_error(
        ClientError(ClientError.ERR.CONFIGURATION_UNSUPPORTED, "Resident key not supported"),
        Op.MAKE_CREDENTIAL,
    )
    assert isinstance(unsupported, NotSupportedError) and "Resident key" in unsupported.detail


def test_translated_maps_and_keeps_the_cause() -> None:
    original = CtapError(ERR.KEY_STORE_FULL)
    with pytest.raises(KeyFullError) as caught, translated(Op.MAKE_CREDENTIAL):
        raise original
    assert caught.value.__cause__ is original
    with pytest.raises(KeyCommandError, match="stopped answering"), translated(Op.IDENTIFY):
        raise ConnectionFailure("Wrong channel")
    with pytest.raises(KeyCommandError, match="cannot read"), translated(Op.IDENTIFY):
        raise ValueError("Non-canonical CBOR from Authenticator")
    mine = KeyFullError()
    with pytest.raises(KeyFullError) as passed, translated(Op.RESET):
        raise mine
    assert passed.value is mine


def test_every_error_is_a_kiosk_error_with_a_title() -> None:
    samples: list[KioskError] = [
        WrongPinError(2),
        PinBlockedError(),
        PinBlockedError(until_reinserted=True),
        KeyFullError(),
        CredentialExcludedError(),
        ResetRefusedError(10),
        KeyPulledError(),
        TouchTimeoutError(),
        NotSupportedError("hmac-secret"),
        PinPolicyError("too short"),
        PinNotSetError(),
        CancelledError(),
    ]
    titles = {e.title for e in samples}
    assert len(titles) == len(samples) - 1  # the two PIN-blocked flavours share a title
    for e in samples:
        assert isinstance(e, KioskError)
        assert str(e).startswith(e.title)
