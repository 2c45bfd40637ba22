"""Registration checks, as a relying party makes them, for ``POST .../fido2Methods``.

Built on python-fido2's parsers and attestation verifiers (``AttestationObject``,
``CollectedClientData``, ``PackedAttestation``, ``NoneAttestation``, ``verify_x509_chain``).
A failure raises :class:`~kiosk.entra.fake.wire.GraphError` (400 unless said otherwise);
success records a :class:`~kiosk.entra.fake.state.MethodRecord` and consumes the challenge,
atomically, so one challenge registers at most one credential.

Attestation levels: ``attested`` when a ``packed`` x5c chain ends in a configured trust root;
``notAttested`` for self attestation, ``none``, or an x5c chain no root vouches for. With
``enforce_attestation`` only ``attested`` is accepted. Formats other than ``packed`` and
``none`` are refused, as Graph refuses them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from hashlib import sha256
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fido2 import cbor
from fido2.attestation.base import (
    AttestationType,
    InvalidAttestation,
    InvalidSignature,
    NoneAttestation,
    verify_x509_chain,
)
from fido2.attestation.packed import PackedAttestation
from fido2.cose import CoseKey
from fido2.webauthn import AttestationObject, CollectedClientData

from kiosk.entra.fake.fido2_policy import Fido2MethodPolicy, KeyRestrictions
from kiosk.entra.fake.options import ALLOWED_ALGS, ORIGIN, RP_ID, method_id
from kiosk.entra.fake.state import DirectoryUser, MethodRecord, TenantState
from kiosk.entra.fake.wire import GraphError, utcnow
from kiosk.model.codec import b64_lenient

MAX_DISPLAY_NAME = 30


@dataclass
class RegistrationPolicy:
    """The tenant's FIDO2 policy and the attestation trust roots (DER certificates)."""

    enforce_attestation: bool = False
    allowed_aaguids: set[str] = field(default_factory=set)
    """Empty: any AAGUID. Lower-case UUID strings."""
    blocked_aaguids: set[str] = field(default_factory=set)
    refused_user_ids: set[str] = field(default_factory=set)
    """Users Graph refuses to act on: the calling identity itself (self-service)."""
    trust_roots: list[bytes] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    """AAGUID -> model name, as Graph reports it from the FIDO metadata."""
    fido2: Fido2MethodPolicy = field(default_factory=Fido2MethodPolicy)
    """The passkey (FIDO2) method policy; ``enforce_attestation`` and the AAGUID sets above
    are shorthands for its older global settings (see :meth:`effective`)."""

    def effective(self) -> Fido2MethodPolicy:
        """:attr:`fido2` with the shorthands folded into its older global settings."""
        base = self.fido2
        if base.profiles is not None or not (
            self.enforce_attestation or self.allowed_aaguids or self.blocked_aaguids
        ):
            return base
        restrictions = base.restrictions
        if self.allowed_aaguids:
            restrictions = KeyRestrictions(
                True, "allow", sorted(self.allowed_aaguids - self.blocked_aaguids)
            )
        elif self.blocked_aaguids:
            restrictions = KeyRestrictions(True, "block", sorted(self.blocked_aaguids))
        return replace(
            base,
            attestation_enforced=base.attestation_enforced or self.enforce_attestation,
            restrictions=restrictions,
        )


def _bad(message: str, code: str = "invalidRequest") -> GraphError:
    return GraphError(400, code, message)


def _duplicate() -> GraphError:
    return GraphError(
        409,
        "conflictingCredential",
        "A FIDO2 method with this credential id is already registered.",
    )


def _field(body: Mapping[str, Any], *path: str) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise _bad(f"The request is missing '{'.'.join(path)}'.")
        node = node[key]
    return node


def _decode(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"'{name}' must be a base64url string.")
    try:
        return b64_lenient(value)
    except ValueError:
        raise _bad(f"'{name}' is not valid base64url.") from None


class RegistrationVerifier:
    def __init__(self, state: TenantState, policy: RegistrationPolicy) -> None:
        self.state = state
        self.policy = policy

    def check_user_allowed(self, user: DirectoryUser) -> None:
        if user.id in self.policy.refused_user_ids:
            raise GraphError(
                405,
                "methodNotAllowed",
                "Self-service operations aren't supported: the calling identity cannot manage "
                "its own FIDO2 methods through this API.",
            )

    def check_self_service(self) -> None:
        """The provisioning API needs "Allow self-service set up" on (a documented known issue)."""
        if not self.policy.effective().self_service:
            raise GraphError(
                400,
                "badRequest",
                "The passkey registration is not allowed: self-service setup "
                "(isSelfServiceRegistrationAllowed) is off in the passkey (FIDO2) policy.",
            )

    def register(self, user: DirectoryUser, body: Any, version: str = "beta") -> MethodRecord:
        """Verify and record a registration; ``displayName`` is optional on v1.0 (Graph then
        names the method after the authenticator's model)."""
        self.check_user_allowed(user)
        self.check_self_service()
        if not isinstance(body, Mapping):
            raise _bad("The request body must be a JSON object.", "BadRequest")
        if version == "v1.0" and body.get("displayName") is None:
            display_name: Any = None
        else:
            display_name = _field(body, "displayName")
            if not isinstance(display_name, str) or not display_name.strip():
                raise _bad("'displayName' must be a non-empty string.")
        if display_name is not None and len(display_name) > MAX_DISPLAY_NAME:
            raise _bad(f"'displayName' must be {MAX_DISPLAY_NAME} characters or fewer.")
        cred_id = _decode(_field(body, "publicKeyCredential", "id"), "publicKeyCredential.id")
        cdj = _decode(
            _field(body, "publicKeyCredential", "response", "clientDataJSON"), "clientDataJSON"
        )
        ato = _decode(
            _field(body, "publicKeyCredential", "response", "attestationObject"),
            "attestationObject",
        )
        if self.state.method_by_credential_id(cred_id) is not None:
            raise _duplicate()

        try:
            client_data = CollectedClientData(cdj)
        except Exception:  # JSON, UTF-8, base64 and type errors alike: refuse, never crash
            raise _bad("clientDataJSON is not valid client data.") from None
        if client_data.type != CollectedClientData.TYPE.CREATE:
            raise _bad("clientDataJSON type must be 'webauthn.create'.")
        if client_data.origin != ORIGIN:
            raise _bad(f"clientDataJSON origin must be '{ORIGIN}'.")
        if client_data.cross_origin:
            raise _bad("clientDataJSON must not be cross-origin.")
        challenge = self._challenge_for(user, client_data)

        try:
            att = AttestationObject(ato)
        except Exception:  # cbor and struct errors of every kind: refuse, never crash
            raise _bad("attestationObject is not a valid attestation object.") from None
        auth = att.auth_data
        if auth.rp_id_hash != sha256(RP_ID.encode()).digest():
            raise _bad("The rpIdHash does not match the relying party.")
        if not auth.is_user_present():
            raise _bad("The user present (UP) flag is not set.")
        if not auth.is_user_verified():
            raise _bad("The user verified (UV) flag is not set; user verification is required.")
        cred = auth.credential_data
        if not auth.is_attested() or cred is None:
            raise _bad("The authenticator data has no attested credential data.")
        if cred.credential_id != cred_id:
            raise _bad("publicKeyCredential.id does not match the attested credential id.")
        try:
            alg = CoseKey.parse(cred.public_key).ALGORITHM
        except Exception:  # a malformed COSE key of any kind
            alg = None
        if alg not in ALLOWED_ALGS:
            raise _bad("The credential public key algorithm is not supported.")

        level, certs = self._verify_attestation(att, client_data.hash)
        aaguid = str(cred.aaguid)
        refusal = self.policy.effective().refusal(
            lambda gid: user.id in self.state.transitive_member_ids(gid)
            if gid in self.state.groups else False,
            aaguid,
            level == "attested",
        )
        if refusal is not None:
            raise refusal
        if display_name is None:
            display_name = self.policy.models.get(aaguid, "Passkey")[:MAX_DISPLAY_NAME]

        record = MethodRecord(
            id=method_id(cred_id, self.state.spelling_for(user.id)),
            user_id=user.id,
            credential_id=cred_id,
            display_name=display_name,
            aaguid=aaguid,
            model=self.policy.models.get(aaguid),
            attestation_level=level,
            attestation_format=att.fmt,
            attestation_certificates=certs,
            created=utcnow(),
            public_key=cbor.encode(dict(cred.public_key)),
        )
        with self.state.lock:
            if self.state.method_by_credential_id(cred_id) is not None:
                raise _duplicate()
            if challenge.used:
                raise _bad("The challenge has already been used.", "invalidChallenge")
            challenge.used = True
            self.state.add_method(record)
        return record

    def _challenge_for(self, user: DirectoryUser, client_data: CollectedClientData) -> Any:
        with self.state.lock:
            found = self.state.challenges.get(client_data.challenge)
        if found is None or found.user_id != user.id:
            raise _bad("The challenge was not issued for this user.", "invalidChallenge")
        if found.used:
            raise _bad("The challenge has already been used.", "invalidChallenge")
        if found.expires_at <= utcnow():
            raise _bad(
                "The challenge has expired; request new creation options.", "invalidChallenge"
            )
        return found

    def _verify_attestation(
        self, att: AttestationObject, client_data_hash: bytes
    ) -> tuple[str, tuple[str, ...]]:
        if att.fmt == "none":
            try:
                NoneAttestation().verify(  # type: ignore[no-untyped-call]
                    att.att_stmt, att.auth_data, client_data_hash
                )
            except InvalidAttestation:
                raise _bad("The none attestation statement must be empty.") from None
            return "notAttested", ()
        if att.fmt != "packed":
            raise _bad(f"The attestation format '{att.fmt}' is not supported.", "notSupported")
        try:
            result = PackedAttestation().verify(
                att.att_stmt, att.auth_data, client_data_hash
            )
        except InvalidSignature:
            raise _bad("The attestation signature is not valid.", "invalidSignature") from None
        except Exception:  # bad certificates, unknown curves or algorithms, broken CBOR
            raise _bad("The attestation statement is not valid.") from None
        try:
            thumbprints = tuple(
                # Graph lists attestation certificates by SHA-1 thumbprint.
                x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex()  # noqa: S303
                for der in result.trust_path
            )
        except Exception:
            raise _bad("An attestation certificate is not valid.") from None
        attested = result.attestation_type == AttestationType.BASIC and self._chain_trusted(
            result.trust_path
        )
        return ("attested" if attested else "notAttested"), thumbprints

    def _chain_trusted(self, chain: list[bytes]) -> bool:
        for root in self.policy.trust_roots:
            # Untrusted, or a certificate cryptography cannot even read: try the next root.
            with contextlib.suppress(Exception):
                verify_x509_chain([*chain, root])
                return True
        return False


def method_to_graph(m: MethodRecord, *, created_answer: bool = False) -> dict[str, Any]:
    """A ``fido2AuthenticationMethod`` as Graph returns it.

    The documentation's examples spell the date both ways: lists and gets ``createdDateTime``,
    the v1.0 create answer ``creationDateTime`` (with ``passkeyType``); ``created_answer``
    picks the latter.
    """
    stamp = m.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
        "id": m.id,
        "displayName": m.display_name,
        ("creationDateTime" if created_answer else "createdDateTime"): stamp,
        "aaGuid": m.aaguid,
        "model": m.model,
        "attestationCertificates": list(m.attestation_certificates),
        "attestationLevel": m.attestation_level,
    }
    if created_answer:
        body["passkeyType"] = "deviceBound"
    return body
