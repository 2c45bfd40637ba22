"""Operator sign-in with their own FIDO2 key, against the kiosk's own relying party id.

`kiosk operator add NAME --key` makes a (non-discoverable) credential on the operator's key
for :data:`KIOSK_RP_ID` and prints it for kiosk.toml as ``key_credential`` = credential id
and COSE public key, both base64url. At sign-in the kiosk asks the key for an assertion over
a fresh random challenge, allowing only the configured operators' credentials, and checks the
signature with the stored public key. No PIN is involved and nothing here is secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fido2 import cbor
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2.base import Ctap2
from fido2.hid import CtapHidDevice
from fido2.webauthn import AuthenticatorData

from kiosk.errors import KioskError

KIOSK_RP_ID = "fido-kiosk.local"
"""The kiosk's own relying party id (never Entra's): operator keys only work here."""
ALGORITHMS = (-7, -8)  # ES256, EdDSA
OnTouch = Callable[[], None]


class OperatorKeyError(KioskError):
    title = "Operator key not accepted"
    next_step = "Sign in with your PIN, or ask the admin to add your key again."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def format_credential(credential_id: bytes, public_key: CoseKey) -> str:
    return f"{_b64(credential_id)}.{_b64(cbor.encode(dict(public_key)))}"


def parse_credential(text: str) -> tuple[bytes, CoseKey]:
    try:
        cred_text, key_text = text.strip().split(".")
        decoded = cbor.decode(_unb64(key_text))
        if not isinstance(decoded, dict):
            raise ValueError("not a COSE key")
        key = CoseKey.parse(decoded)
        return _unb64(cred_text), key
    except (ValueError, KeyError, TypeError) as exc:
        raise OperatorKeyError("A key_credential in kiosk.toml is not readable.") from exc


def _keepalive(on_touch: OnTouch | None) -> Callable[[int], None]:
    said = False

    def keepalive(status: int) -> None:
        nonlocal said
        if status == 2 and not said and on_touch is not None:  # STATUS_UPNEEDED
            said = True
            on_touch()

    return keepalive


def enroll(
    device: CtapHidDevice, name: str, on_touch: OnTouch | None = None
) -> str:
    """Make the operator's credential on ``device``; return the ``key_credential`` text."""
    ctap2 = Ctap2(device)
    try:
        response = ctap2.make_credential(
            hashlib.sha256(b"fido-kiosk operator enrollment" + secrets.token_bytes(32)).digest(),
            {"id": KIOSK_RP_ID, "name": "fido-kiosk operators"},
            {"id": hashlib.sha256(name.encode("utf-8")).digest()[:16], "name": name},
            [{"type": "public-key", "alg": a} for a in ALGORITHMS],
            on_keepalive=_keepalive(on_touch),
        )
    except CtapError as exc:
        raise OperatorKeyError(
            f"The key refused to make the operator credential ({exc.code.name}).",
            next_step="Use a key without a PIN, or one that allows it without (most do).",
        ) from exc
    data = response.auth_data.credential_data
    if data is None:
        raise OperatorKeyError("The key's answer holds no credential.")
    return format_credential(bytes(data.credential_id), data.public_key)


def identify(
    device: CtapHidDevice,
    operators: Sequence[tuple[str, str]],
    on_touch: OnTouch | None = None,
    event: threading.Event | None = None,
) -> str:
    """Which operator's key this is: an assertion, checked against the stored public keys."""
    known = {cred_id: (name, key) for name, text in operators
             for cred_id, key in [parse_credential(text)]}
    if not known:
        raise OperatorKeyError("No operator has a key configured (key_credential).")
    client_data_hash = hashlib.sha256(b"fido-kiosk sign-in" + secrets.token_bytes(32)).digest()
    allow: list[Mapping[str, Any]] = [{"type": "public-key", "id": c} for c in known]
    try:
        response = Ctap2(device).get_assertion(
            KIOSK_RP_ID,
            client_data_hash,
            allow,
            event=event,
            on_keepalive=_keepalive(on_touch),
        )
    except CtapError as exc:
        if exc.code == CtapError.ERR.NO_CREDENTIALS:
            raise OperatorKeyError("This key belongs to no operator of this kiosk.") from exc
        raise OperatorKeyError(f"The key did not sign in ({exc.code.name}).") from exc
    credential = response.credential or {}
    only = next(iter(known)) if len(known) == 1 else b""
    cred_id = bytes(credential.get("id", only))
    if cred_id not in known:
        raise OperatorKeyError("The key answered with an unknown credential.")
    name, public_key = known[cred_id]
    auth_data = AuthenticatorData(bytes(response.auth_data))
    if auth_data.rp_id_hash != hashlib.sha256(KIOSK_RP_ID.encode()).digest():
        raise OperatorKeyError("The key signed for another relying party.")
    if not auth_data.is_user_present():
        raise OperatorKeyError("The key was not touched.")
    try:
        public_key.verify(bytes(auth_data) + client_data_hash, response.signature)
    except Exception as exc:
        raise OperatorKeyError("The key's signature does not verify.") from exc
    return name
