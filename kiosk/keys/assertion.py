"""Credentials for a relying party of the kiosk's own (operator sign-in), at the CTAP level.

Three calls, each on one open ``CtapHidDevice``:

- :func:`make_rp_credential`: a non-discoverable credential (one touch; with the key's PIN
  when the key has one, so the credential can later be used with user verification);
- :func:`get_assertion`: an assertion over a given client-data hash for one of the listed
  credential ids, with a touch, and with the key's PIN (user verification) when one is given;
- :func:`find_credential`: which of the listed credential ids the key holds, *silently*
  (``up=false``: no touch, no blink, nothing changes on a key that holds none of them).

Nothing here checks a signature or knows about operators: :mod:`kiosk.operators` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin
from fido2.hid import CtapHidDevice

from kiosk.keys.errors import Op, PinNotSetError, translated
from kiosk.keys.identity import open_ctap2

OnTouch = Callable[[], None]
ALGORITHMS = (-7, -8)  # ES256, EdDSA
STATUS_UPNEEDED = 2


@dataclass(frozen=True)
class Assertion:
    """What the key signed: check ``signature`` over ``auth_data + client_data_hash``."""

    credential_id: bytes
    auth_data: bytes
    signature: bytes


def _keepalive(on_touch: OnTouch | None) -> Callable[[int], None]:
    said = False

    def keepalive(status: int) -> None:
        nonlocal said
        if status == STATUS_UPNEEDED and not said and on_touch is not None:
            said = True
            on_touch()

    return keepalive


def has_pin(device: CtapHidDevice) -> bool:
    """True when the key has a PIN set (getInfo's clientPin option)."""
    with translated(Op.IDENTIFY):
        return bool(Ctap2(device).info.options.get("clientPin"))


def _pin_auth(
    ctap2: Ctap2, pin: str | None, permission: ClientPin.PERMISSION, rp_id: str, message: bytes
) -> tuple[bytes | None, int | None]:
    """pinUvAuthParam and protocol for ``message`` with a token from ``pin`` (None: none)."""
    if pin is None:
        return None, None
    client_pin = ClientPin(ctap2)
    token = client_pin.get_pin_token(pin, permission, rp_id)
    protocol = client_pin.protocol
    return protocol.authenticate(token, message), protocol.VERSION


def make_rp_credential(
    device: CtapHidDevice,
    client_data_hash: bytes,
    rp: Mapping[str, str],
    user: Mapping[str, Any],
    *,
    pin: str | None = None,
    on_touch: OnTouch | None = None,
) -> tuple[bytes, dict[int, Any]]:
    """Make a credential for ``rp``; return its id and its COSE public key (a CBOR map)."""
    with translated(Op.MAKE_CREDENTIAL):
        ctap2 = Ctap2(device)
        pin_param, protocol = _pin_auth(
            ctap2, pin, ClientPin.PERMISSION.MAKE_CREDENTIAL, rp["id"], client_data_hash
        )
        response = ctap2.make_credential(
            client_data_hash,
            rp,
            user,
            [{"type": "public-key", "alg": a} for a in ALGORITHMS],
            pin_uv_param=pin_param,
            pin_uv_protocol=protocol,
            on_keepalive=_keepalive(on_touch),
        )
    data = response.auth_data.credential_data
    if data is None:
        raise PinNotSetError() if pin is None else ValueError("no credential in the answer")
    key = cbor.decode(cbor.encode(dict(data.public_key)))
    assert isinstance(key, dict)  # noqa: S101 - a COSE key is a CBOR map
    return bytes(data.credential_id), key


def get_assertion(
    device: CtapHidDevice,
    rp_id: str,
    client_data_hash: bytes,
    credential_ids: Sequence[bytes],
    *,
    pin: str | None = None,
    on_touch: OnTouch | None = None,
    event: threading.Event | None = None,
) -> Assertion | None:
    """An assertion (a touch; user verification with ``pin``) for one of ``credential_ids``;
    None when the key holds none of them. Every failure leaves as an operator-facing error."""
    allow: list[Mapping[str, Any]] = [{"type": "public-key", "id": c} for c in credential_ids]
    with translated(Op.SIGN_IN):
        ctap2 = Ctap2(device)
        pin_param, protocol = _pin_auth(
            ctap2, pin, ClientPin.PERMISSION.GET_ASSERTION, rp_id, client_data_hash
        )
        try:
            response = ctap2.get_assertion(
                rp_id,
                client_data_hash,
                allow,
                pin_uv_param=pin_param,
                pin_uv_protocol=protocol,
                event=event,
                on_keepalive=_keepalive(on_touch),
            )
        except CtapError as exc:
            if exc.code == CtapError.ERR.NO_CREDENTIALS:
                return None
            raise
    chosen = (response.credential or {}).get("id")
    if chosen is None and len(credential_ids) == 1:
        chosen = credential_ids[0]
    return Assertion(bytes(chosen or b""), bytes(response.auth_data), bytes(response.signature))


def find_credential(
    device: CtapHidDevice, rp_id: str, credential_ids: Sequence[bytes]
) -> bytes | None:
    """Which of ``credential_ids`` (for ``rp_id``) this key holds, asked without a touch.

    A silent assertion (``up=false``) per batch of ids the key accepts in one allow list; a
    key holding none answers NO_CREDENTIALS and nothing on it changes. None: holds none.
    """
    if not credential_ids:
        return None
    ctap2 = open_ctap2(device)  # the insertion's: no second getInfo
    with translated(Op.IDENTIFY):
        batch = max(1, ctap2.info.max_creds_in_list or 1)
        longest = ctap2.info.max_cred_id_length
        ids = [c for c in credential_ids if not longest or len(c) <= longest]
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            allow: list[Mapping[str, Any]] = [{"type": "public-key", "id": c} for c in chunk]
            try:
                response = ctap2.get_assertion(
                    rp_id, b"\0" * 32, allow, options={"up": False}
                )
            except CtapError as exc:
                if exc.code == CtapError.ERR.NO_CREDENTIALS:
                    continue
                raise
            found = (response.credential or {}).get("id")
            return bytes(found) if found is not None else chunk[0]
    return None
