"""authenticatorMakeCredential (CTAP 2.1 section 6.1): ES256, packed or none attestation.

Order of checks follows the specification: parameters, PIN/UV auth, algorithm, excludeList
(a match still waits for the touch, then CREDENTIAL_EXCLUDED), extensions, the touch, then
the store limit (KEY_STORE_FULL) for a discoverable credential.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

from kiosk.keys.virtual.client_pin import check_pin_uv_auth, clear_token_permissions
from kiosk.keys.virtual.key_state import (
    ERR,
    KEEPALIVE_PROCESSING,
    PERM_MC,
    CommandError,
    Credential,
    KeyContext,
    RequestIO,
    descriptor_ids,
    optional,
    required,
    rp_id_hash,
    text_key_map,
)

ES256 = -7
FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40
FLAG_ED = 0x80
ATTESTATION_FORMATS = ("packed", "none")
MAX_USER_ID = 64


def cose_es256(key: ec.EllipticCurvePublicKey) -> dict[int, Any]:
    numbers = key.public_numbers()
    return {
        1: 2,
        3: ES256,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }


def zero_length_pin_auth(ctx: KeyContext, io: RequestIO) -> None:
    """A zero-length pinUvAuthParam asks "which key?": touch, then say whether a PIN is set."""
    ctx.wait_for_touch(io)
    if ctx.state.pin_set:
        raise CommandError(ERR.PIN_INVALID, "zero-length pinUvAuthParam (PIN set)")
    raise CommandError(ERR.PIN_NOT_SET, "zero-length pinUvAuthParam (no PIN)")


def _choose_algorithm(params: list[Any]) -> None:
    for item in params:
        entry = text_key_map(_as_map(item, "pubKeyCredParams item"), "pubKeyCredParams item")
        alg, kind = entry.get("alg"), entry.get("type")
        if not isinstance(kind, str) or not isinstance(alg, int) or isinstance(alg, bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "pubKeyCredParams item malformed")
        if kind == "public-key" and alg == ES256:
            return
    raise CommandError(ERR.UNSUPPORTED_ALGORITHM, "only ES256 (-7) is supported")


def _as_map(value: object, name: str) -> Mapping[Any, Any]:
    if not isinstance(value, dict):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"{name} is not a map")
    return value


def _options(params: Mapping[Any, Any]) -> dict[str, bool]:
    raw = optional(params, 0x07, dict, "options")
    options = text_key_map(raw or {}, "options")
    for name, value in options.items():
        if not isinstance(value, bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"option {name} is not a bool")
    return options


def _attestation_format(params: Mapping[Any, Any]) -> str:
    preference = optional(params, 0x0B, list, "attestationFormatsPreference")
    for fmt in preference or []:
        if not isinstance(fmt, str):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "attestation format is not text")
        if fmt in ATTESTATION_FORMATS:
            return fmt
    return "packed"


def _extensions(
    ctx: KeyContext, params: Mapping[Any, Any], rp_id: str
) -> tuple[int, bool, dict[str, Any]]:
    """credProtect level, hmac-secret on, and the authenticator extension outputs."""
    raw = optional(params, 0x06, dict, "extensions")
    inputs = text_key_map(raw or {}, "extensions")
    supported = set(extension_names(ctx))
    outputs: dict[str, Any] = {}
    cred_protect = 1
    level = inputs.get("credProtect")
    if "credProtect" in supported and level is not None:
        if not isinstance(level, int) or isinstance(level, bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "credProtect is not an integer")
        if level in (1, 2, 3):
            cred_protect = level
            outputs["credProtect"] = level
    hmac_secret = False
    if "hmac-secret" in supported and "hmac-secret" in inputs:
        if not isinstance(inputs["hmac-secret"], bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "hmac-secret is not a bool")
        hmac_secret = inputs["hmac-secret"]
        outputs["hmac-secret"] = hmac_secret
    wants_min_pin = "minPinLength" in supported and inputs.get("minPinLength") is True
    if wants_min_pin and rp_id in ctx.state.min_pin_rp_ids:
        outputs["minPinLength"] = ctx.state.min_pin_length
    return cred_protect, hmac_secret, outputs


def extension_names(ctx: KeyContext) -> list[str]:
    """The extensions getInfo lists (minPinLength only where authenticatorConfig exists)."""
    if not ctx.ctap21:
        return ["hmac-secret"]
    names = ["credProtect", "hmac-secret"]
    if ctx.profile.authnr_cfg:
        names.append("minPinLength")
    return names


def auth_data(
    rp_id: str, flags: int, sign_count: int, attested: bytes = b"", extensions: bytes = b""
) -> bytes:
    return rp_id_hash(rp_id) + struct.pack(">BI", flags, sign_count) + attested + extensions


def handle(ctx: KeyContext, params: Mapping[Any, Any], io: RequestIO) -> dict[int, Any]:
    client_data_hash = required(params, 0x01, bytes, "clientDataHash")
    rp = text_key_map(required(params, 0x02, dict, "rp"), "rp")
    user = text_key_map(required(params, 0x03, dict, "user"), "user")
    key_params = required(params, 0x04, list, "pubKeyCredParams")
    exclude = optional(params, 0x05, list, "excludeList")
    rp_id = rp.get("id")
    if not isinstance(rp_id, str):
        raise CommandError(ERR.MISSING_PARAMETER if rp_id is None else ERR.CBOR_UNEXPECTED_TYPE)
    user_id = user.get("id")
    if not isinstance(user_id, bytes):
        raise CommandError(ERR.MISSING_PARAMETER if user_id is None else ERR.CBOR_UNEXPECTED_TYPE)
    if len(user_id) > MAX_USER_ID:
        raise CommandError(ERR.INVALID_LENGTH, "user id longer than 64 bytes")
    pin_param = optional(params, 0x08, bytes, "pinUvAuthParam")
    if pin_param is not None and len(pin_param) == 0:
        zero_length_pin_auth(ctx, io)
    _choose_algorithm(key_params)
    options = _options(params)
    if options.get("up") is False:
        raise CommandError(ERR.INVALID_OPTION, "makeCredential always needs user presence")
    if options.get("uv") and pin_param is None:
        raise CommandError(ERR.INVALID_OPTION, "no built-in user verification")
    if 0x0A in params:
        raise CommandError(ERR.INVALID_PARAMETER, "enterprise attestation not supported")
    fmt = _attestation_format(params)
    discoverable = options.get("rk", False)

    uv = check_pin_uv_auth(
        ctx,
        params,
        param_key=0x08,
        protocol_key=0x09,
        message=client_data_hash,
        permission=PERM_MC,
        rp_id=rp_id,
    )
    if not uv and ctx.state.pin_set:
        raise CommandError(ERR.PUAT_REQUIRED, "a PIN is set: pinUvAuthParam required")
    io.keepalive(KEEPALIVE_PROCESSING)

    for cred_id in descriptor_ids(exclude or [], "excludeList"):
        found = ctx.find_credential(rp_id, cred_id)
        if found is not None and (found.cred_protect < 3 or uv):
            ctx.wait_for_touch(io)
            raise CommandError(ERR.CREDENTIAL_EXCLUDED, "excludeList names a credential here")

    cred_protect, hmac_secret, ext_out = _extensions(ctx, params, rp_id)
    ctx.wait_for_touch(io)
    # CTAP 2.1 section 6.1.2 step 14: with user presence collected, the token in use loses every
    # permission but lbw, whether this request used it or not.
    clear_token_permissions(ctx)
    io.keepalive(KEEPALIVE_PROCESSING)

    state = ctx.state
    replaced = [
        c.credential_id
        for c in state.credentials.values()
        if c.discoverable and c.rp_id == rp_id and c.user_id == user_id
    ]
    if discoverable and not replaced and state.discoverable_count() >= ctx.profile.max_credentials:
        raise CommandError(ERR.KEY_STORE_FULL, "no room for another discoverable credential")

    key = ctx.entropy.ec_key()
    cred_id = ctx.new_credential_id(rp_id, key, cred_protect, hmac_secret)
    if discoverable:
        for old in replaced:
            del state.credentials[old]
        state.created_counter += 1
        state.credentials[cred_id] = Credential(
            credential_id=cred_id,
            rp_id=rp_id,
            private_key=key,
            cred_protect=cred_protect,
            hmac_secret=hmac_secret,
            discoverable=True,
            rp=rp,
            user=user,
            created=state.created_counter,
        )

    flags = FLAG_UP | FLAG_AT | (FLAG_UV if uv else 0) | (FLAG_ED if ext_out else 0)
    attested = (
        ctx.profile.aaguid.bytes
        + struct.pack(">H", len(cred_id))
        + cred_id
        + cbor.encode(cose_es256(key.public_key()))
    )
    data = auth_data(rp_id, flags, 0, attested, cbor.encode(ext_out) if ext_out else b"")
    return {0x01: fmt, 0x02: data, 0x03: _statement(ctx, fmt, data + client_data_hash)}


def _statement(ctx: KeyContext, fmt: str, signed: bytes) -> dict[str, Any]:
    if fmt == "none":
        return {}
    leaf = ctx.ca.leaf(ctx.profile.aaguid)
    signature = leaf.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return {"alg": ES256, "sig": signature, "x5c": [leaf.der]}
