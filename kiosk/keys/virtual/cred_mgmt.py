"""authenticatorCredentialManagement (CTAP 2.1 section 6.8): metadata, enumerate, delete.

Enough for python-fido2's ``CredentialManagement`` to count, list and delete discoverable
credentials. Every subcommand that starts something needs a ``cm`` token over
``subCommand || CBOR(subCommandParams)``; the getNext... subcommands continue the last one.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from fido2 import cbor

from kiosk.keys.virtual.client_pin import PERM_CM, check_pin_uv_auth
from kiosk.keys.virtual.key_state import (
    ERR,
    CommandError,
    Credential,
    KeyContext,
    optional,
    required,
    rp_id_hash,
)
from kiosk.keys.virtual.make_credential import cose_es256

GET_CREDS_METADATA = 0x01
ENUMERATE_RPS_BEGIN = 0x02
ENUMERATE_RPS_NEXT = 0x03
ENUMERATE_CREDS_BEGIN = 0x04
ENUMERATE_CREDS_NEXT = 0x05
DELETE_CREDENTIAL = 0x06


def handle(ctx: KeyContext, params: Mapping[Any, Any]) -> dict[int, Any]:
    sub = required(params, 0x01, int, "subCommand")
    if sub in (ENUMERATE_RPS_NEXT, ENUMERATE_CREDS_NEXT):
        return _next(ctx, sub)
    ctx.state.cm_queue = []
    if sub not in (
        GET_CREDS_METADATA,
        ENUMERATE_RPS_BEGIN,
        ENUMERATE_CREDS_BEGIN,
        DELETE_CREDENTIAL,
    ):
        raise CommandError(ERR.INVALID_SUBCOMMAND, f"credentialManagement subcommand {sub}")
    sub_params = optional(params, 0x02, dict, "subCommandParams")
    message = struct.pack(">B", sub) + (cbor.encode(sub_params) if sub_params is not None else b"")
    verified = check_pin_uv_auth(
        ctx,
        params,
        param_key=0x04,
        protocol_key=0x03,
        message=message,
        permission=PERM_CM,
        rp_id=None,
    )
    if not verified:
        raise CommandError(ERR.PUAT_REQUIRED, "credentialManagement needs a cm token")
    resident = sorted(
        (c for c in ctx.state.credentials.values() if c.discoverable), key=lambda c: c.created
    )
    if sub == GET_CREDS_METADATA:
        return {
            0x01: len(resident),
            0x02: max(0, ctx.profile.max_credentials - len(resident)),
        }
    if sub == ENUMERATE_RPS_BEGIN:
        return _begin(ctx, sub, _rp_answers(resident), 0x05)
    if sub == ENUMERATE_CREDS_BEGIN:
        wanted = required(sub_params or {}, 0x01, bytes, "rpIDHash")
        chosen = [c for c in resident if rp_id_hash(c.rp_id) == wanted]
        return _begin(ctx, sub, [_cred_answer(c) for c in chosen], 0x09)
    descriptor = required(sub_params or {}, 0x02, dict, "credentialID")
    cred_id = descriptor.get("id")
    if not isinstance(cred_id, bytes):
        raise CommandError(ERR.MISSING_PARAMETER, "credentialID id missing")
    if cred_id not in ctx.state.credentials:
        raise CommandError(ERR.NO_CREDENTIALS, "no such discoverable credential")
    del ctx.state.credentials[cred_id]
    return {}


def _rp_answers(resident: list[Credential]) -> list[dict[int, Any]]:
    seen: dict[str, dict[int, Any]] = {}
    for c in resident:
        if c.rp_id not in seen:
            rp = dict(c.rp) if c.rp else {"id": c.rp_id}
            seen[c.rp_id] = {0x03: rp, 0x04: rp_id_hash(c.rp_id)}
    return list(seen.values())


def _cred_answer(c: Credential) -> dict[int, Any]:
    return {
        0x06: dict(c.user),
        0x07: {"id": c.credential_id, "type": "public-key"},
        0x08: cose_es256(c.private_key.public_key()),
        0x0A: c.cred_protect,
    }


def _begin(
    ctx: KeyContext, sub: int, answers: list[dict[int, Any]], total_key: int
) -> dict[int, Any]:
    if not answers:
        raise CommandError(ERR.NO_CREDENTIALS, "nothing to enumerate")
    first = dict(answers[0])
    first[total_key] = len(answers)
    ctx.state.cm_queue = answers[1:]
    ctx.state.cm_kind = sub
    return first


def _next(ctx: KeyContext, sub: int) -> dict[int, Any]:
    if not ctx.state.cm_queue or ctx.state.cm_kind != sub - 1:
        raise CommandError(ERR.NOT_ALLOWED, "no enumeration to continue")
    return ctx.state.cm_queue.pop(0)
