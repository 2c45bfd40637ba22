"""authenticatorClientPIN (CTAP 2.1 section 6.5.5), and the token checks other commands use.

PIN rules as on a real key: 8 retries in all, PIN_BLOCKED at zero (only a reset helps); three
wrong in a row and the key answers PIN_AUTH_BLOCKED until it is unplugged (power_on); a wrong
PIN also replaces the key-agreement key (``regenerate()``, section 6.5.5.7.2). The key-agreement
key is otherwise kept for the whole power cycle (made at power-up and at reset, section 6.5.4
``initialize()``), so a platform may reuse one shared secret for every subcommand. A new PIN
must have at least minPINLength code points and at most 63 bytes, else PIN_POLICY_VIOLATION.
While forcePINChange is set, no token is handed out (PIN_POLICY_VIOLATION) until changePIN.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from kiosk.keys.virtual.key_state import (
    ERR,
    PERM_ACFG,
    PERM_BE,
    PERM_CM,
    PERM_GA,
    PERM_LBW,
    PERM_MC,
    PERM_PCMR,
    PIN_CONSECUTIVE_MAX,
    PIN_RETRIES_MAX,
    CommandError,
    KeyContext,
    PinToken,
    optional,
    required,
)
from kiosk.keys.virtual.pin_protocols import PinUvAuthProtocol, ProtocolFailure, cose_public_key

GET_PIN_RETRIES = 0x01
GET_KEY_AGREEMENT = 0x02
SET_PIN = 0x03
CHANGE_PIN = 0x04
GET_PIN_TOKEN = 0x05
GET_TOKEN_USING_UV = 0x06
GET_UV_RETRIES = 0x07
GET_TOKEN_USING_PIN_WITH_PERMISSIONS = 0x09

_PADDED_PIN_LENGTH = 64
_MAX_PIN_BYTES = 63


def handle(ctx: KeyContext, params: Mapping[Any, Any]) -> dict[int, Any]:
    sub = required(params, 0x02, int, "subCommand")
    version = params.get(0x01)
    if sub == GET_PIN_RETRIES:
        if version is not None:
            ctx.protocol(version)
        return _get_retries(ctx)
    if sub in (GET_TOKEN_USING_UV, GET_UV_RETRIES):
        raise CommandError(ERR.INVALID_SUBCOMMAND, "no built-in user verification")
    if sub == GET_TOKEN_USING_PIN_WITH_PERMISSIONS and not ctx.ctap21:
        raise CommandError(ERR.INVALID_SUBCOMMAND, "CTAP 2.0 key: no permission tokens")
    known = (GET_KEY_AGREEMENT, SET_PIN, CHANGE_PIN, GET_PIN_TOKEN)
    if sub not in (*known, GET_TOKEN_USING_PIN_WITH_PERMISSIONS):
        raise CommandError(ERR.INVALID_SUBCOMMAND, f"clientPIN subcommand {sub}")
    if version is None:
        raise CommandError(ERR.MISSING_PARAMETER, "pinUvAuthProtocol missing")
    protocol = ctx.protocol(version)
    if sub == GET_KEY_AGREEMENT:
        assert ctx.state.key_agreement is not None  # noqa: S101 - power_on made it
        return {0x01: cose_public_key(ctx.state.key_agreement)}
    if sub == SET_PIN:
        return _set_pin(ctx, protocol, params)
    if sub == CHANGE_PIN:
        return _change_pin(ctx, protocol, params)
    return _get_token(ctx, protocol, params, with_permissions=sub != GET_PIN_TOKEN)


def _get_retries(ctx: KeyContext) -> dict[int, Any]:
    response: dict[int, Any] = {0x03: ctx.state.pin_retries}
    if ctx.ctap21:
        response[0x04] = ctx.state.consecutive_failures >= PIN_CONSECUTIVE_MAX
    return response


def _shared_secret(
    ctx: KeyContext, protocol: PinUvAuthProtocol, params: Mapping[Any, Any]
) -> bytes:
    peer = required(params, 0x03, dict, "keyAgreement")
    assert ctx.state.key_agreement is not None  # noqa: S101 - power_on made it
    try:
        return protocol.decapsulate(ctx.state.key_agreement, peer)
    except ProtocolFailure as exc:
        raise CommandError(ERR.INVALID_PARAMETER, str(exc)) from exc


def _decrypt(protocol: PinUvAuthProtocol, key: bytes, data: bytes) -> bytes:
    try:
        return protocol.decrypt(key, data)
    except ProtocolFailure as exc:
        raise CommandError(ERR.INVALID_PARAMETER, str(exc)) from exc


def _new_pin(ctx: KeyContext, protocol: PinUvAuthProtocol, shared: bytes, enc: bytes) -> str:
    padded = _decrypt(protocol, shared, enc)
    if len(padded) != _PADDED_PIN_LENGTH:
        raise CommandError(ERR.INVALID_PARAMETER, "padded PIN is not 64 bytes")
    raw = padded.rstrip(b"\x00")
    try:
        pin = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(ERR.PIN_POLICY_VIOLATION, "PIN is not UTF-8") from exc
    if len(raw) > _MAX_PIN_BYTES or len(pin) < ctx.state.min_pin_length:
        raise CommandError(ERR.PIN_POLICY_VIOLATION, "PIN length outside the policy")
    return pin


def _store_pin(ctx: KeyContext, pin: str) -> None:
    state = ctx.state
    state.pin_hash = hashlib.sha256(pin.encode("utf-8")).digest()[:16]
    state.pin_length = len(pin)
    state.pin_retries = PIN_RETRIES_MAX
    state.force_pin_change = False
    state.token = None


def _set_pin(
    ctx: KeyContext, protocol: PinUvAuthProtocol, params: Mapping[Any, Any]
) -> dict[int, Any]:
    required(params, 0x03, dict, "keyAgreement")
    param = required(params, 0x04, bytes, "pinUvAuthParam")
    new_pin_enc = required(params, 0x05, bytes, "newPinEnc")
    if ctx.state.pin_set:
        raise CommandError(ERR.NOT_ALLOWED, "a PIN is already set")
    shared = _shared_secret(ctx, protocol, params)
    if not protocol.verify(shared, new_pin_enc, param):
        raise CommandError(ERR.PIN_AUTH_INVALID, "setPIN pinUvAuthParam does not verify")
    _store_pin(ctx, _new_pin(ctx, protocol, shared, new_pin_enc))
    return {}


def _check_pin(
    ctx: KeyContext, protocol: PinUvAuthProtocol, shared: bytes, pin_hash_enc: bytes
) -> None:
    """Spend one retry on the platform's PIN hash; give it back if the PIN is right."""
    state = ctx.state
    state.pin_retries -= 1
    pin_hash = _decrypt(protocol, shared, pin_hash_enc)
    assert state.pin_hash is not None  # noqa: S101 - callers checked pin_set
    if len(pin_hash) == 16 and hmac.compare_digest(pin_hash, state.pin_hash):
        state.pin_retries = PIN_RETRIES_MAX
        state.consecutive_failures = 0
        return
    state.key_agreement = ctx.entropy.ec_key()
    state.consecutive_failures += 1
    if state.pin_retries <= 0:
        raise CommandError(ERR.PIN_BLOCKED, "no PIN retries left")
    if state.consecutive_failures >= PIN_CONSECUTIVE_MAX:
        raise CommandError(ERR.PIN_AUTH_BLOCKED, "three wrong PINs in a row")
    raise CommandError(ERR.PIN_INVALID, "wrong PIN")


def _pin_gate(ctx: KeyContext) -> None:
    state = ctx.state
    if not state.pin_set:
        raise CommandError(ERR.PIN_NOT_SET, "no PIN is set")
    if state.pin_retries <= 0:
        raise CommandError(ERR.PIN_BLOCKED, "no PIN retries left")
    if state.consecutive_failures >= PIN_CONSECUTIVE_MAX:
        raise CommandError(ERR.PIN_AUTH_BLOCKED, "unplug the key first")


def _change_pin(
    ctx: KeyContext, protocol: PinUvAuthProtocol, params: Mapping[Any, Any]
) -> dict[int, Any]:
    required(params, 0x03, dict, "keyAgreement")
    param = required(params, 0x04, bytes, "pinUvAuthParam")
    new_pin_enc = required(params, 0x05, bytes, "newPinEnc")
    pin_hash_enc = required(params, 0x06, bytes, "pinHashEnc")
    _pin_gate(ctx)
    shared = _shared_secret(ctx, protocol, params)
    if not protocol.verify(shared, new_pin_enc + pin_hash_enc, param):
        raise CommandError(ERR.PIN_AUTH_INVALID, "changePIN pinUvAuthParam does not verify")
    _check_pin(ctx, protocol, shared, pin_hash_enc)
    pin = _new_pin(ctx, protocol, shared, new_pin_enc)
    new_hash = hashlib.sha256(pin.encode("utf-8")).digest()[:16]
    if ctx.state.force_pin_change and ctx.state.pin_hash == new_hash:
        raise CommandError(ERR.PIN_POLICY_VIOLATION, "the new PIN must differ from the old one")
    _store_pin(ctx, pin)
    return {}


def _permissions(ctx: KeyContext, permissions: int) -> int:
    if permissions <= 0:
        raise CommandError(ERR.INVALID_PARAMETER, "no permissions asked for")
    unsupported = PERM_BE | PERM_LBW | PERM_PCMR
    if not ctx.profile.cred_mgmt:
        unsupported |= PERM_CM
    if not ctx.profile.authnr_cfg:
        unsupported |= PERM_ACFG
    if permissions & unsupported or permissions >= 0x80:
        raise CommandError(ERR.UNAUTHORIZED_PERMISSION, f"permissions {permissions:#x}")
    return permissions


def _get_token(
    ctx: KeyContext,
    protocol: PinUvAuthProtocol,
    params: Mapping[Any, Any],
    *,
    with_permissions: bool,
) -> dict[int, Any]:
    required(params, 0x03, dict, "keyAgreement")
    pin_hash_enc = required(params, 0x06, bytes, "pinHashEnc")
    rp_id: str | None
    if with_permissions:
        permissions = _permissions(ctx, required(params, 0x09, int, "permissions"))
        rp_id = optional(params, 0x0A, str, "rpId")
    else:
        if 0x09 in params or 0x0A in params:
            raise CommandError(ERR.INVALID_PARAMETER, "getPinToken takes no permissions")
        # CTAP 2.1 grants mc and ga to a legacy token; a CTAP 2.0 key knows no permissions.
        permissions = PERM_MC | PERM_GA if ctx.ctap21 else 0xFF
        rp_id = None
    _pin_gate(ctx)
    shared = _shared_secret(ctx, protocol, params)
    _check_pin(ctx, protocol, shared, pin_hash_enc)
    if ctx.state.force_pin_change:
        # Section 6.5.5.7.1/6.5.5.7.2: while forcePINChange is set, no token: changePIN first.
        raise CommandError(ERR.PIN_POLICY_VIOLATION, "the PIN must be changed first")
    token = ctx.entropy.bytes(32)
    ctx.state.token = PinToken(
        value=token,
        protocol=protocol.version,
        permissions=permissions,
        rp_id=rp_id,
        issued=ctx.clock(),
    )
    return {0x02: protocol.encrypt(shared, token)}


def check_pin_uv_auth(
    ctx: KeyContext,
    params: Mapping[Any, Any],
    *,
    param_key: int,
    protocol_key: int,
    message: bytes,
    permission: int,
    rp_id: str | None,
) -> bool:
    """Verify a command's pinUvAuthParam against the token in use.

    Returns False when the command carries no pinUvAuthParam (the caller decides whether it
    needs one), True when it verified; raises PIN_AUTH_INVALID when it does not, or when the
    token lacks the permission or is bound to another RP (CTAP 2.1 section 6.1.2 step 11 for
    makeCredential, 6.2.2 step 6 for getAssertion, 6.11 for authenticatorConfig). A token
    without an RP id is bound to the first one it is used with (6.1.2 step 11.3). A token past
    its usage period (``pinUvAuthTokenUsageTimerObserver()``, section 6.5.3.2: 30 s to its
    first use over USB, at most 10 minutes in all) is stopped and refused.
    """
    param = optional(params, param_key, bytes, "pinUvAuthParam")
    if param is None:
        return False
    if protocol_key not in params:
        raise CommandError(ERR.MISSING_PARAMETER, "pinUvAuthProtocol missing")
    protocol = ctx.protocol(params[protocol_key])
    if not ctx.state.pin_set:
        raise CommandError(ERR.PIN_NOT_SET, "pinUvAuthParam given but no PIN is set")
    token = ctx.state.token
    now = ctx.clock()
    if token is None or not token.usable(now):
        ctx.state.token = None
        raise CommandError(ERR.PIN_AUTH_INVALID, "no valid pinUvAuthToken")
    if token.protocol != protocol.version or not protocol.verify(token.value, message, param):
        raise CommandError(ERR.PIN_AUTH_INVALID, "pinUvAuthParam does not verify")
    if not token.permissions & permission:
        raise CommandError(ERR.PIN_AUTH_INVALID, "token lacks the permission")
    if rp_id is not None:
        if token.rp_id is not None and token.rp_id != rp_id:
            raise CommandError(ERR.PIN_AUTH_INVALID, "token bound to another RP")
        token.rp_id = rp_id
    if token.first_use is None:
        token.first_use = now
    return True


def clear_token_permissions(ctx: KeyContext) -> None:
    """``clearPinUvAuthTokenPermissionsExceptLbw()`` (CTAP 2.1 section 6.5.3.2, called by
    makeCredential step 14 and getAssertion step 9 once user presence was collected): the
    token in use keeps only lbw, so it can serve no further mc, ga, cm or acfg request."""
    if ctx.state.token is not None:
        ctx.state.token.permissions &= PERM_LBW


__all__ = ["PERM_ACFG", "PERM_CM", "check_pin_uv_auth", "clear_token_permissions", "handle"]
