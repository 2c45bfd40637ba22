"""authenticatorGetAssertion and getNextAssertion (CTAP 2.1 sections 6.2 and 6.3).

Enough for an enrolled credential to be self-tested: allowList or discoverable lookup,
credProtect filtering, user presence (touch), user verification through the PIN token, a
signature counter, hmac-secret outputs, and getNextAssertion for several discoverable matches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

from kiosk.keys.virtual.client_pin import check_pin_uv_auth, clear_token_permissions
from kiosk.keys.virtual.key_state import (
    ERR,
    PERM_GA,
    CommandError,
    Credential,
    KeyContext,
    PendingAssertions,
    RequestIO,
    descriptor_ids,
    optional,
    required,
    text_key_map,
)
from kiosk.keys.virtual.make_credential import (
    FLAG_ED,
    FLAG_UP,
    FLAG_UV,
    auth_data,
    zero_length_pin_auth,
)
from kiosk.keys.virtual.pin_protocols import ProtocolFailure

NEXT_ASSERTION_TIMEOUT_S = 30.0


def handle(ctx: KeyContext, params: Mapping[Any, Any], io: RequestIO) -> dict[int, Any]:
    rp_id = required(params, 0x01, str, "rpId")
    client_data_hash = required(params, 0x02, bytes, "clientDataHash")
    allow = optional(params, 0x03, list, "allowList")
    pin_param = optional(params, 0x06, bytes, "pinUvAuthParam")
    if pin_param is not None and len(pin_param) == 0:
        zero_length_pin_auth(ctx, io)
    options = text_key_map(optional(params, 0x05, dict, "options") or {}, "options")
    for name, value in options.items():
        if not isinstance(value, bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"option {name} is not a bool")
    if "rk" in options:
        raise CommandError(ERR.UNSUPPORTED_OPTION, "rk is not a getAssertion option")
    if options.get("uv") and pin_param is None:
        raise CommandError(ERR.INVALID_OPTION, "no built-in user verification")
    up = options.get("up", True)
    uv = check_pin_uv_auth(
        ctx,
        params,
        param_key=0x06,
        protocol_key=0x07,
        message=client_data_hash,
        permission=PERM_GA,
        rp_id=rp_id,
    )
    extensions = text_key_map(optional(params, 0x04, dict, "extensions") or {}, "extensions")

    if allow:
        found = (ctx.find_credential(rp_id, i) for i in descriptor_ids(allow, "allowList"))
        credentials = [c for c in found if c is not None and (c.cred_protect < 3 or uv)]
        credentials = credentials[:1]
    else:
        credentials = sorted(
            (
                c
                for c in ctx.state.credentials.values()
                if c.discoverable and c.rp_id == rp_id and (c.cred_protect == 1 or uv)
            ),
            key=lambda c: -c.created,
        )
    if not credentials:
        raise CommandError(ERR.NO_CREDENTIALS, "no credential for this RP")

    if up:
        ctx.wait_for_touch(io)
        # CTAP 2.1 section 6.2.2 step 9: user presence clears the token's permissions but lbw.
        clear_token_permissions(ctx)
    flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0)
    first = credentials[0]
    ext_out = _hmac_secret(ctx, extensions.get("hmac-secret"), first, uv) if up else None
    response = _assertion(
        ctx,
        first,
        rp_id=rp_id,
        client_data_hash=client_data_hash,
        flags=flags,
        uv=uv,
        ext_out=ext_out,
        from_allow_list=bool(allow),
    )
    if not allow and len(credentials) > 1:
        response[0x05] = len(credentials)
        ctx.state.pending = PendingAssertions(
            rp_id, client_data_hash, flags, uv, credentials[1:], ctx.clock()
        )
    return response


def handle_next(ctx: KeyContext) -> dict[int, Any]:
    pending = ctx.state.pending
    if pending is None or not pending.credentials:
        raise CommandError(ERR.NOT_ALLOWED, "no getAssertion to continue")
    if ctx.clock() - pending.started > NEXT_ASSERTION_TIMEOUT_S:
        ctx.state.pending = None
        raise CommandError(ERR.NOT_ALLOWED, "getNextAssertion timer expired")
    credential = pending.credentials.pop(0)
    pending.started = ctx.clock()
    return _assertion(
        ctx,
        credential,
        rp_id=pending.rp_id,
        client_data_hash=pending.client_data_hash,
        flags=pending.flags,
        uv=pending.uv,
        ext_out=None,
        from_allow_list=False,
    )


def _assertion(
    ctx: KeyContext,
    credential: Credential,
    *,
    rp_id: str,
    client_data_hash: bytes,
    flags: int,
    uv: bool,
    ext_out: dict[str, Any] | None,
    from_allow_list: bool,
) -> dict[int, Any]:
    ctx.state.sign_count += 1
    extensions = cbor.encode(ext_out) if ext_out else b""
    data = auth_data(
        rp_id, flags | (FLAG_ED if ext_out else 0), ctx.state.sign_count, extensions=extensions
    )
    signature = credential.private_key.sign(data + client_data_hash, ec.ECDSA(hashes.SHA256()))
    response: dict[int, Any] = {
        0x01: {"id": credential.credential_id, "type": "public-key"},
        0x02: data,
        0x03: signature,
    }
    if not from_allow_list and credential.user:
        user = dict(credential.user) if uv else {"id": credential.user_id}
        response[0x04] = user
    return response


def _hmac_secret(
    ctx: KeyContext, request: object, credential: Credential, uv: bool
) -> dict[str, Any] | None:
    """hmac-secret outputs: HMAC(CredRandom, salt), encrypted under the platform's secret."""
    if request is None or not credential.hmac_secret:
        return None
    if not isinstance(request, dict):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "hmac-secret input is not a map")
    peer, salt_enc, salt_auth = request.get(1), request.get(2), request.get(3)
    if not isinstance(peer, dict) or not isinstance(salt_enc, bytes):
        raise CommandError(ERR.MISSING_PARAMETER, "hmac-secret input incomplete")
    if not isinstance(salt_auth, bytes):
        raise CommandError(ERR.MISSING_PARAMETER, "hmac-secret saltAuth missing")
    protocol = ctx.protocol(request.get(4, 1))
    assert ctx.state.key_agreement is not None  # noqa: S101 - power_on made it
    try:
        shared = protocol.decapsulate(ctx.state.key_agreement, peer)
        if not protocol.verify(shared, salt_enc, salt_auth):
            raise CommandError(ERR.PIN_AUTH_INVALID, "hmac-secret saltAuth does not verify")
        salts = protocol.decrypt(shared, salt_enc)
    except ProtocolFailure as exc:
        raise CommandError(ERR.INVALID_PARAMETER, str(exc)) from exc
    if len(salts) not in (32, 64):
        raise CommandError(ERR.INVALID_LENGTH, "hmac-secret salts must be 32 or 64 bytes")
    secret = ctx.cred_random(credential, uv)
    output = b"".join(
        hmac.new(secret, salts[i : i + 32], hashlib.sha256).digest()
        for i in range(0, len(salts), 32)
    )
    return {"hmac-secret": protocol.encrypt(shared, output)}
