"""Operator sign-in with their own FIDO2 key, against the kiosk's own relying party id.

`kiosk operator add NAME --key` makes a (non-discoverable) credential on the operator's key
for :data:`KIOSK_RP_ID` and prints it for kiosk.toml as ``key_credential`` = credential id
and COSE public key, both base64url. Nothing in it is secret.

At sign-in (:func:`identify`) the kiosk first asks the key, without a touch, which of the
operators' credentials it holds (so a stranger's key is never asked for a PIN), then asks for
an assertion over a fresh random challenge for that credential, with the key's own PIN (user
verification) unless kiosk.operator_key_verification is off, and checks the signature, the
relying party, the touch and the verification with the stored public key.

:func:`operator_key_owner` is the same silent question for the enrollment flow: a key that
holds an operator's credential is never enrolled for a user. All CTAP calls go through
:mod:`kiosk.keys.assertion`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from collections.abc import Callable, Sequence

from fido2 import cbor
from fido2.cose import CoseKey
from fido2.hid import CtapHidDevice
from fido2.webauthn import AuthenticatorData

from kiosk.config import OperatorSettings
from kiosk.errors import KioskError
from kiosk.keys.assertion import find_credential, get_assertion, make_rp_credential
from kiosk.model.codec import b64url

KIOSK_RP_ID = "fido-kiosk.local"
"""The kiosk's own relying party id (never Entra's): operator keys only work here."""
MAX_CREDENTIAL_TEXT = 2048
OnTouch = Callable[[], None]


class OperatorKeyError(KioskError):
    title = "Operator key not accepted"
    next_step = "Sign in with your PIN, or ask the admin to add your key again."


class OperatorKeyInserted(KioskError):
    """A key holding an operator's sign-in credential was inserted for enrollment."""

    title = "Operator key"
    next_step = "Remove it, then insert a new key for the user."

    def __init__(self, name: str) -> None:
        super().__init__(f"This is {name}'s operator key. Remove it.")
        self.operator = name


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def format_credential(credential_id: bytes, public_key: dict[int, object]) -> str:
    return f"{b64url(credential_id)}.{b64url(cbor.encode(public_key))}"


def parse_credential(text: str) -> tuple[bytes, CoseKey]:
    """The credential id and public key of a ``key_credential`` value."""
    try:
        if len(text) > MAX_CREDENTIAL_TEXT:
            raise ValueError("too long")
        cred_text, key_text = text.strip().split(".")
        decoded = cbor.decode(_unb64(key_text))
        if not isinstance(decoded, dict):
            raise ValueError("not a COSE key")
        return _unb64(cred_text), CoseKey.parse(decoded)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise OperatorKeyError(
            "A key_credential in kiosk.toml is not readable.",
            next_step="Register the key again with `kiosk operator add NAME --key`.",
        ) from exc


def key_credentials(operators: Sequence[OperatorSettings]) -> dict[bytes, tuple[str, CoseKey]]:
    """Credential id -> (operator name, public key), for every operator with a key."""
    return {
        cred_id: (o.name, key)
        for o in operators
        if o.key_credential
        for cred_id, key in [parse_credential(o.key_credential)]
    }


def enroll(
    device: CtapHidDevice, name: str, *, pin: str | None = None, on_touch: OnTouch | None = None
) -> str:
    """Make the operator's credential on ``device`` (with the key's ``pin`` when it has one);
    return the ``key_credential`` text."""
    challenge = hashlib.sha256(b"fido-kiosk operator enrollment" + secrets.token_bytes(32))
    user = {"id": hashlib.sha256(name.encode("utf-8")).digest()[:16], "name": name}
    rp = {"id": KIOSK_RP_ID, "name": "fido-kiosk operators"}
    cred_id, public_key = make_rp_credential(
        device, challenge.digest(), rp, user, pin=pin, on_touch=on_touch
    )
    return format_credential(cred_id, public_key)


def operator_key_owner(
    device: CtapHidDevice, operators: Sequence[OperatorSettings]
) -> str | None:
    """The operator whose sign-in credential this key holds, asked without a touch."""
    known = key_credentials(operators)
    found = find_credential(device, KIOSK_RP_ID, list(known))
    return known[found][0] if found in known else None


def refuse_operator_key(device: CtapHidDevice, operators: Sequence[OperatorSettings]) -> None:
    """Raise :class:`OperatorKeyInserted` when this key is an operator's own key."""
    if any(o.key_credential for o in operators):
        owner = operator_key_owner(device, operators)
        if owner is not None:
            raise OperatorKeyInserted(owner)


def identify(
    device: CtapHidDevice,
    operators: Sequence[OperatorSettings],
    *,
    pin: str | None = None,
    verification: bool = True,
    on_touch: OnTouch | None = None,
    event: threading.Event | None = None,
) -> str:
    """Which operator's key this is: an assertion, checked against the stored public keys.

    With ``verification`` the key's own ``pin`` is required and the key must say it checked
    it (the UV flag); without, a touch suffices.
    """
    known = key_credentials(operators)
    if not known:
        raise OperatorKeyError("No operator has a key configured (key_credential).")
    found = find_credential(device, KIOSK_RP_ID, list(known))
    if found is None or found not in known:
        raise OperatorKeyError("This key belongs to no operator of this kiosk.")
    if verification and not pin:
        raise OperatorKeyError(
            "Sign-in with a key needs the key's own PIN.",
            next_step="Type your key's PIN in the PIN box, then press F5 again.",
        )
    client_data_hash = hashlib.sha256(b"fido-kiosk sign-in" + secrets.token_bytes(32)).digest()
    answer = get_assertion(
        device, KIOSK_RP_ID, client_data_hash, [found],
        pin=pin if verification else None, on_touch=on_touch, event=event,
    )
    if answer is None or answer.credential_id != found:
        raise OperatorKeyError("The key answered with an unknown credential.")
    name, public_key = known[found]
    auth_data = AuthenticatorData(answer.auth_data)
    if auth_data.rp_id_hash != hashlib.sha256(KIOSK_RP_ID.encode()).digest():
        raise OperatorKeyError("The key signed for another relying party.")
    if not auth_data.is_user_present():
        raise OperatorKeyError("The key was not touched.")
    if verification and not auth_data.is_user_verified():
        raise OperatorKeyError("The key did not check its PIN.")
    try:
        public_key.verify(answer.auth_data + client_data_hash, answer.signature)
    except Exception as exc:
        raise OperatorKeyError("The key's signature does not verify.") from exc
    return name
