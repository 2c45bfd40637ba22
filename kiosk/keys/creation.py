"""Graph's creation options (the ``publicKey`` object, as Graph returns it) -> python-fido2's.

Graph is not strict about base64: the challenge and the user id come as base64url or standard
base64, padded or not (decoded by :func:`kiosk.model.codec.b64_lenient`). The ids in
``excludeCredentials`` come in Graph's three id spellings, one of them with a padding-count
digit; every reading of each goes into the exclude list
(:func:`kiosk.model.codec.credential_id_readings`). An exclude id that reads as nothing is
skipped (it cannot match any credential on the key anyway), never a crash. A field the
request cannot do without (challenge, user id, an algorithm) raises :class:`OptionsError`.

``timeout`` is dropped on purpose: Fido2Client would set the caller's cancel event when it
expires, which would look like an operator's cancel; the key times out a touch by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fido2.ctap2.extensions import CredProtectExtension
from fido2.webauthn import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from kiosk.keys.errors import OptionsError
from kiosk.model.codec import b64_lenient, credential_id_readings
from kiosk.model.text import clean

logger = logging.getLogger(__name__)

DEFAULT_RP_ID = "login.microsoft.com"
CRED_PROTECT_POLICIES = {p.value for p in CredProtectExtension.POLICY}
PUBLIC_KEY = PublicKeyCredentialType.PUBLIC_KEY.value


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            decoded = b64_lenient(value)
        except ValueError as exc:
            raise OptionsError(f"Entra's {what} is not base64.") from exc
        if decoded:
            return decoded
    raise OptionsError(f"Entra's options have no usable {what}.")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _enum_value(enum_cls: Any, value: object) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return enum_cls(value)
    except ValueError:
        logger.info("Ignoring unknown %s value %r in Entra's options", enum_cls.__name__, value)
        return None


def rp_entity(public_key: Mapping[str, Any]) -> PublicKeyCredentialRpEntity:
    rp = _mapping(public_key.get("rp"))
    rp_id = rp.get("id") if isinstance(rp.get("id"), str) and rp.get("id") else DEFAULT_RP_ID
    name = clean(rp.get("name")) if isinstance(rp.get("name"), str) else ""
    return PublicKeyCredentialRpEntity(name=name or str(rp_id), id=str(rp_id))


def user_entity(public_key: Mapping[str, Any]) -> PublicKeyCredentialUserEntity:
    user = _mapping(public_key.get("user"))
    user_id = _bytes(user.get("id"), "user id")
    # Names go to the key as CBOR text: a guest's name (chosen by another tenant) may hold
    # control characters or a lone surrogate, which no key should get.
    name = clean(user.get("name")) if isinstance(user.get("name"), str) else None
    display = clean(user.get("displayName")) if isinstance(user.get("displayName"), str) else None
    return PublicKeyCredentialUserEntity(name=name or display, id=user_id, display_name=display)


def key_params(public_key: Mapping[str, Any]) -> list[PublicKeyCredentialParameters]:
    params = []
    for given in _sequence(public_key.get("pubKeyCredParams")):
        item = _mapping(given)
        alg = item.get("alg")
        if item.get("type", PUBLIC_KEY) == PUBLIC_KEY and isinstance(alg, int):
            params.append(
                PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=alg)
            )
    if not params:
        raise OptionsError("Entra's options name no signature algorithm the kiosk understands.")
    return params


def exclude_list(public_key: Mapping[str, Any]) -> list[PublicKeyCredentialDescriptor]:
    """Every reading of every exclude id (:func:`credential_id_readings`); ids that read as
    nothing in any of Graph's spellings are skipped."""
    out: list[PublicKeyCredentialDescriptor] = []
    for given in _sequence(public_key.get("excludeCredentials")):
        item = _mapping(given)
        if item.get("type", PUBLIC_KEY) != PUBLIC_KEY:
            continue
        raw = item.get("id")
        if not isinstance(raw, str | bytes):
            continue
        readings = (raw,) if isinstance(raw, bytes) else credential_id_readings(raw)
        if not readings:
            logger.warning("Skipping an excluded credential id that is not base64")
            continue
        transports = [
            t
            for t in (
                _enum_value(AuthenticatorTransport, v) for v in _sequence(item.get("transports"))
            )
            if t is not None
        ]
        out.extend(
            PublicKeyCredentialDescriptor(
                type=PublicKeyCredentialType.PUBLIC_KEY,
                id=cred_id,
                transports=transports or None,
            )
            for cred_id in readings
            if cred_id
        )
    return out


def selection(public_key: Mapping[str, Any]) -> AuthenticatorSelectionCriteria:
    sel = _mapping(public_key.get("authenticatorSelection"))
    resident = _enum_value(ResidentKeyRequirement, sel.get("residentKey"))
    require_rk = sel.get("requireResidentKey") is True
    if resident is None and require_rk:
        resident = ResidentKeyRequirement.REQUIRED
    uv = _enum_value(UserVerificationRequirement, sel.get("userVerification"))
    return AuthenticatorSelectionCriteria(
        resident_key=resident,
        user_verification=uv or UserVerificationRequirement.REQUIRED,
        require_resident_key=require_rk,
    )


def extensions(public_key: Mapping[str, Any]) -> dict[str, Any]:
    given = _mapping(public_key.get("extensions"))
    out: dict[str, Any] = {}
    if given.get("hmacCreateSecret") is True:
        out["hmacCreateSecret"] = True
    policy = given.get("credentialProtectionPolicy")
    if policy is not None:
        if policy not in CRED_PROTECT_POLICIES:
            raise OptionsError(f"Entra asked for an unknown credential protection {policy!r}.")
        out["credentialProtectionPolicy"] = policy
        out["enforceCredentialProtectionPolicy"] = (
            given.get("enforceCredentialProtectionPolicy") is True
        )
    if given.get("credProps") is True:
        out["credProps"] = True
    return out


def creation_options(public_key: Mapping[str, Any]) -> PublicKeyCredentialCreationOptions:
    """Graph's ``publicKey`` object (with or without a ``publicKey`` wrapper) for Fido2Client."""
    if not isinstance(public_key, Mapping):
        raise OptionsError("Entra's creation options are not an object.")
    if isinstance(public_key.get("publicKey"), Mapping):
        public_key = public_key["publicKey"]
    return PublicKeyCredentialCreationOptions(
        rp=rp_entity(public_key),
        user=user_entity(public_key),
        challenge=_bytes(public_key.get("challenge"), "challenge"),
        pub_key_cred_params=key_params(public_key),
        exclude_credentials=exclude_list(public_key) or None,
        authenticator_selection=selection(public_key),
        attestation=_enum_value(AttestationConveyancePreference, public_key.get("attestation"))
        or AttestationConveyancePreference.DIRECT,
        extensions=extensions(public_key) or None,
    )
