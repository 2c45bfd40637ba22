"""makeCredential for Graph's options over one Ctap2 and one ``mc`` token: no extra round trip.

python-fido2's ``Fido2Client.make_credential`` reads getInfo three times, agrees a new key, and
asks for an ``mc`` + ``ga`` token whenever there is an exclude list (it filters the list with
a silent getAssertion first). Here the same work uses its lower-level pieces
(``DefaultClientDataCollector``, the registration extension processors, ``Ctap2.make_credential``)
with the session's Ctap2 and a token the caller asked with exactly ``mc`` for the rp id:

- an exclude list that fits the key's ``maxCredentialCountInList`` goes into makeCredential as
  it is: the key itself waits for the touch and answers CREDENTIAL_EXCLUDED on a match
  (CTAP 2.1 section 6.1.2 step 7); ids longer than ``maxCredentialIdLength`` cannot be the
  key's and are dropped;
- a longer list is narrowed first with silent getAssertions (``up`` false, no token: section
  6.2.2), one per chunk, as python-fido2 does; only that case costs extra transactions.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fido2.client import DefaultClientDataCollector
from fido2.ctap import CtapError
from fido2.ctap2.base import Ctap2, Info
from fido2.ctap2.extensions import (
    CredPropsExtension,
    CredProtectExtension,
    HmacSecretExtension,
    RegistrationExtensionProcessor,
)
from fido2.ctap2.pin import PinProtocol
from fido2.webauthn import (
    AttestationObject,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
)

from kiosk.model.codec import b64url
from kiosk.model.keys import CreatedCredential

PUBLIC_KEY = "public-key"


def _plain(value: object) -> object:
    """Client extension results as JSON values (bytes as base64url) for Graph's body."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _descriptor(cred: PublicKeyCredentialDescriptor) -> dict[str, Any]:
    return {"type": PUBLIC_KEY, "id": bytes(cred.id)}


def _extensions() -> list[Any]:
    return [
        HmacSecretExtension(allow_hmac_secret=True),  # type: ignore[no-untyped-call]
        CredProtectExtension(),
        CredPropsExtension(),
    ]


def wants_resident_key(options: PublicKeyCredentialCreationOptions, info: Info) -> bool:
    selection = options.authenticator_selection or AuthenticatorSelectionCriteria()
    return selection.resident_key == ResidentKeyRequirement.REQUIRED or (
        selection.resident_key == ResidentKeyRequirement.PREFERRED
        and info.options.get("rk") is True
    )


def narrow_exclude_list(
    ctap2: Ctap2,
    rp_id: str,
    excluded: Sequence[PublicKeyCredentialDescriptor],
    event: threading.Event | None,
) -> list[Mapping[str, Any]]:
    """The exclude list to send: as it is when it fits, else the one id the key knows (if
    any), found with silent getAssertions."""
    info = ctap2.info
    max_len = info.max_cred_id_length or 0
    ids: list[Mapping[str, Any]] = [
        _descriptor(c) for c in excluded if not max_len or len(c.id) <= max_len
    ]
    per_request = info.max_creds_in_list or 1
    if len(ids) <= per_request:
        return ids
    while ids:
        chunk = ids[:per_request]
        try:
            found = ctap2.get_assertions(rp_id, b"\0" * 32, chunk, None, {"up": False}, event=event)
        except CtapError as exc:
            if exc.code == CtapError.ERR.NO_CREDENTIALS:
                ids = ids[per_request:]
                continue
            if exc.code == CtapError.ERR.REQUEST_TOO_LARGE and per_request > 1:
                per_request -= 1
                continue
            raise
        if len(chunk) == 1:
            return chunk
        return [{"type": PUBLIC_KEY, "id": bytes(found[0].credential["id"])}]
    return []


def make_credential(
    ctap2: Ctap2,
    options: PublicKeyCredentialCreationOptions,
    protocol: PinProtocol,
    token: bytes,
    *,
    on_keepalive: Callable[[int], None],
    event: threading.Event | None,
) -> CreatedCredential:
    """One makeCredential with ``token`` (asked with ``mc`` for ``options.rp.id``)."""
    rp_id = str(options.rp.id)
    collector = DefaultClientDataCollector("https://" + rp_id)
    client_data, rp_id = collector.collect_client_data(options)  # type: ignore[no-untyped-call]
    processors: list[RegistrationExtensionProcessor] = []
    for extension in _extensions():
        processor = extension.make_credential(ctap2, options, protocol)
        if processor is not None:
            processors.append(processor)
    inputs: dict[str, Any] = {}
    for processor in processors:
        inputs.update(processor.prepare_inputs(token) or {})
    excluded = narrow_exclude_list(ctap2, rp_id, options.exclude_credentials or [], event)
    user = options.user
    response = ctap2.make_credential(
        client_data.hash,
        {"id": rp_id, "name": options.rp.name},
        {
            k: v
            for k, v in (
                ("id", bytes(user.id)),
                ("name", user.name),
                ("displayName", user.display_name),
            )
            if v is not None
        },
        [{"type": PUBLIC_KEY, "alg": p.alg} for p in options.pub_key_cred_params],
        excluded or None,
        inputs or None,
        {"rk": True} if wants_resident_key(options, ctap2.info) else None,
        protocol.authenticate(token, client_data.hash),
        protocol.VERSION,
        event=event,
        on_keepalive=on_keepalive,
    )
    outputs: dict[str, Any] = {}
    for processor in processors:
        outputs.update(processor.prepare_outputs(response, token) or {})
    attestation = AttestationObject.create(response.fmt, response.auth_data, response.att_stmt)
    data = attestation.auth_data.credential_data
    if data is None:
        raise ValueError("the key's answer holds no credential")
    return CreatedCredential(
        credential_id=bytes(data.credential_id),
        client_data_json=bytes(client_data),
        attestation_object=bytes(attestation),
        aaguid=str(uuid.UUID(bytes=bytes(data.aaguid))),
        attestation_format=str(attestation.fmt),
        client_extension_results={str(k): _plain(v) for k, v in outputs.items()},
    )
