"""A virtual key's memory as bytes and back: what survives unplugging (PIN hash and retries,
PIN policy, credentials with their private keys, counters, the master key that wraps
non-discoverable credential ids), as canonical CBOR. The demo keeps its keys on disk this way
(``kiosk demo --state-dir``), so a key left in the port when the demo was killed is still
there, with the PIN the kiosk set, when it starts again.

What a real key keeps in its secure element: the file is the demo's alone (mode 0600 in the
demo's 0700 state directory), like the demo helpdesk key beside it.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

from kiosk.keys.virtual.key_state import Credential, KeyState

FORMAT = 1


class SavedKeyError(ValueError):
    """Bytes that are not a key state this module wrote."""


def dump_state(state: KeyState) -> bytes:
    """``state``'s lasting part (not the volatile part a power cycle loses)."""
    credentials = [
        {
            "id": c.credential_id,
            "rp_id": c.rp_id,
            "d": c.private_key.private_numbers().private_value.to_bytes(32, "big"),
            "cred_protect": c.cred_protect,
            "hmac_secret": c.hmac_secret,
            "discoverable": c.discoverable,
            "rp": c.rp,
            "user": c.user,
            "created": c.created,
        }
        for c in state.credentials.values()
    ]
    return cbor.encode({
        "format": FORMAT,
        "min_pin_length": state.min_pin_length,
        "master_key": state.master_key,
        "pin_hash": state.pin_hash or b"",
        "pin_length": state.pin_length,
        "pin_retries": state.pin_retries,
        "force_pin_change": state.force_pin_change,
        "min_pin_rp_ids": list(state.min_pin_rp_ids),
        "sign_count": state.sign_count,
        "created_counter": state.created_counter,
        "credentials": credentials,
    })


def load_state(data: bytes) -> KeyState:
    """The key state in ``data``; :class:`SavedKeyError` if it is not one."""
    try:
        doc = cbor.decode(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TypeError("format")
        pin_hash = _get(doc, "pin_hash", bytes)
        state = KeyState(
            min_pin_length=_get(doc, "min_pin_length", int),
            master_key=_get(doc, "master_key", bytes),
            pin_hash=pin_hash or None,
            pin_length=_get(doc, "pin_length", int),
            pin_retries=_get(doc, "pin_retries", int),
            force_pin_change=_get(doc, "force_pin_change", bool),
            min_pin_rp_ids=[str(r) for r in _get(doc, "min_pin_rp_ids", list)],
            sign_count=_get(doc, "sign_count", int),
            created_counter=_get(doc, "created_counter", int),
        )
        if len(state.master_key) != 32:
            raise ValueError("master key")
        for item in _get(doc, "credentials", list):
            credential = _credential(item)
            state.credentials[credential.credential_id] = credential
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise SavedKeyError(f"not a saved virtual key ({type(exc).__name__})") from None
    return state


def _get(doc: dict[Any, Any], key: str, kind: type[Any]) -> Any:
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(key)
    return value


def _credential(item: object) -> Credential:
    if not isinstance(item, dict):
        raise TypeError("credential")
    scalar = int.from_bytes(_get(item, "d", bytes), "big")
    rp, user = _get(item, "rp", dict), _get(item, "user", dict)
    return Credential(
        credential_id=_get(item, "id", bytes),
        rp_id=_get(item, "rp_id", str),
        private_key=ec.derive_private_key(scalar, ec.SECP256R1()),
        cred_protect=_get(item, "cred_protect", int),
        hmac_secret=_get(item, "hmac_secret", bool),
        discoverable=_get(item, "discoverable", bool),
        rp={str(k): v for k, v in rp.items()},
        user={str(k): v for k, v in user.items()},
        created=_get(item, "created", int),
    )
