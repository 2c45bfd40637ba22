"""authenticatorConfig (CTAP 2.1 section 6.11): setMinPINLength; nothing else is offered.

A key with a PIN wants a pinUvAuthParam made with an ``acfg`` token over
``32 x 0xff || 0x0d || subCommand || CBOR(subCommandParams)``. Raising the minimum above the
current PIN's length, or forceChangePin, sets forcePINChange: from then on no PIN token is
handed out until changePIN.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from fido2 import cbor

from kiosk.keys.virtual.client_pin import PERM_ACFG, check_pin_uv_auth
from kiosk.keys.virtual.key_state import (
    ERR,
    MAX_RPIDS_FOR_MIN_PIN,
    CommandError,
    KeyContext,
    optional,
    required,
)

ENABLE_ENTERPRISE_ATTESTATION = 0x01
TOGGLE_ALWAYS_UV = 0x02
SET_MIN_PIN_LENGTH = 0x03
MAX_PIN_LENGTH = 63


def handle(ctx: KeyContext, params: Mapping[Any, Any]) -> dict[int, Any]:
    sub = required(params, 0x01, int, "subCommand")
    sub_params = optional(params, 0x02, dict, "subCommandParams")
    message = b"\xff" * 32 + b"\x0d" + struct.pack(">B", sub & 0xFF)
    if sub_params is not None:
        message += cbor.encode(sub_params)
    verified = check_pin_uv_auth(
        ctx,
        params,
        param_key=0x04,
        protocol_key=0x03,
        message=message,
        permission=PERM_ACFG,
        rp_id=None,
    )
    if ctx.state.pin_set and not verified:
        raise CommandError(ERR.PUAT_REQUIRED, "authenticatorConfig needs an acfg token")
    if sub != SET_MIN_PIN_LENGTH:
        # No enterprise attestation, no alwaysUv on these keys.
        raise CommandError(ERR.INVALID_SUBCOMMAND, f"config subcommand {sub}")
    return _set_min_pin_length(ctx, sub_params or {})


def _set_min_pin_length(ctx: KeyContext, params: Mapping[Any, Any]) -> dict[int, Any]:
    state = ctx.state
    new_min = optional(params, 0x01, int, "newMinPINLength")
    rp_ids = optional(params, 0x02, list, "minPinLengthRPIDs")
    force = optional(params, 0x03, bool, "forceChangePin")
    if new_min is None:
        new_min = state.min_pin_length
    if new_min < state.min_pin_length or new_min > MAX_PIN_LENGTH:
        raise CommandError(ERR.PIN_POLICY_VIOLATION, "the minimum PIN length cannot go down")
    if rp_ids is not None:
        if not all(isinstance(r, str) for r in rp_ids):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "minPinLengthRPIDs holds non-text")
        if len(rp_ids) > MAX_RPIDS_FOR_MIN_PIN:
            raise CommandError(ERR.KEY_STORE_FULL, "too many minPinLengthRPIDs")
    if force and not state.pin_set:
        raise CommandError(ERR.PIN_NOT_SET, "forceChangePin without a PIN")
    state.min_pin_length = new_min
    if rp_ids is not None:
        state.min_pin_rp_ids = list(rp_ids)
    if force or (state.pin_set and state.pin_length < new_min):
        state.force_pin_change = True
    return {}
