"""One PIN/UV auth channel per insertion: a key agreement made once, its shared secret reused.

python-fido2's ``ClientPin`` asks the key for a fresh key agreement before every setPIN,
changePIN and token (one more transaction each, 100-300 ms on a real key). CTAP 2.1 does not
need that: the authenticator keeps its key-agreement key for the whole power cycle (it makes a
new one at power-up and at authenticatorReset, section 6.5.4 ``initialize()``, and after a
wrong PIN, section 6.5.5.7.2 ``regenerate()``), and a platform may encapsulate once and use the
shared secret for every clientPIN subcommand of that power cycle. :class:`PinChannel` does
exactly that with python-fido2's own pieces (``PinProtocolV2``/``V1``, ``Ctap2.client_pin``):
one getKeyAgreement, then setPIN and each token over the same secret. Any failure drops the
secret (a wrong PIN made the key regenerate its key), so the next call agrees afresh.

Tokens are asked with exactly the permissions the next operation needs (section 6.5.5.7:
``mc`` bound to the rp id for makeCredential; ``acfg`` for authenticatorConfig): a CTAP 2.1
key clears a token's permissions other than ``lbw`` after an operation that collected user
presence (section 6.1.2 step 14, ``clearPinUvAuthTokenPermissionsExceptLbw()``), so one token
cannot serve both.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256
from typing import Any

from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocol

PIN_BLOCK = 64
"""setPIN/changePIN pad the PIN with zeros to 64 bytes (section 6.5.5.5)."""
MAX_PIN_BYTES = 63


def padded_pin(pin: str) -> bytes:
    raw = pin.encode("utf-8")
    if len(raw) > MAX_PIN_BYTES:
        raise ValueError("a PIN is at most 63 bytes")
    return raw.ljust(PIN_BLOCK, b"\0")


def pin_hash(pin: str) -> bytes:
    """LEFT(SHA-256(PIN), 16): what getPinToken and changePIN send, encrypted."""
    return sha256(pin.encode("utf-8")).digest()[:16]


class PinChannel:
    """The platform's side of one PIN/UV auth protocol session with one inserted key."""

    def __init__(self, ctap2: Ctap2, protocol: PinProtocol | None = None) -> None:
        self.ctap2 = ctap2
        self.protocol = protocol or ClientPin(ctap2).protocol  # no transaction: info only
        self._agreed: tuple[Mapping[int, Any], bytes] | None = None
        self.key_agreements = 0
        """How many getKeyAgreement transactions this channel sent."""

    def _secret(self) -> tuple[Mapping[int, Any], bytes]:
        if self._agreed is None:
            answer = self.ctap2.client_pin(self.protocol.VERSION, ClientPin.CMD.GET_KEY_AGREEMENT)
            self.key_agreements += 1
            peer = answer[ClientPin.RESULT.KEY_AGREEMENT]
            self._agreed = self.protocol.encapsulate(peer)
        return self._agreed

    def agree(self) -> None:
        """Agree a shared secret now, if there is none yet (one getKeyAgreement)."""
        self._secret()

    def forget(self) -> None:
        """Drop the shared secret: the key made a new key-agreement key (reset, wrong PIN)."""
        self._agreed = None

    def _call(self, sub: ClientPin.CMD, **params: Any) -> Mapping[int, Any]:
        try:
            return self.ctap2.client_pin(self.protocol.VERSION, sub, **params)
        except BaseException:
            self.forget()  # a refused PIN regenerated the key's key agreement
            raise

    def set_pin(self, pin: str) -> None:
        key_agreement, secret = self._secret()
        pin_enc = self.protocol.encrypt(secret, padded_pin(pin))
        self._call(
            ClientPin.CMD.SET_PIN,
            key_agreement=key_agreement,
            new_pin_enc=pin_enc,
            pin_uv_param=self.protocol.authenticate(secret, pin_enc),
        )

    def change_pin(self, old: str, new: str) -> None:
        key_agreement, secret = self._secret()
        hash_enc = self.protocol.encrypt(secret, pin_hash(old))
        new_enc = self.protocol.encrypt(secret, padded_pin(new))
        self._call(
            ClientPin.CMD.CHANGE_PIN,
            key_agreement=key_agreement,
            pin_hash_enc=hash_enc,
            new_pin_enc=new_enc,
            pin_uv_param=self.protocol.authenticate(secret, new_enc + hash_enc),
        )

    def token(self, pin: str, permissions: ClientPin.PERMISSION, rp_id: str | None = None) -> bytes:
        """A pinUvAuthToken with exactly ``permissions`` (bound to ``rp_id`` where given); a
        key without permission tokens (CTAP 2.0) gets the legacy getPinToken."""
        key_agreement, secret = self._secret()
        hash_enc = self.protocol.encrypt(secret, pin_hash(pin))
        if self.ctap2.info.options.get("pinUvAuthToken") is True:  # CTAP 2.1 permissions
            answer = self._call(
                ClientPin.CMD.GET_TOKEN_USING_PIN,
                key_agreement=key_agreement,
                pin_hash_enc=hash_enc,
                permissions=permissions,
                permissions_rpid=rp_id,
            )
        else:
            answer = self._call(
                ClientPin.CMD.GET_TOKEN_USING_PIN_LEGACY,
                key_agreement=key_agreement,
                pin_hash_enc=hash_enc,
            )
        encrypted = answer[ClientPin.RESULT.PIN_UV_TOKEN]
        return self.protocol.validate_token(self.protocol.decrypt(secret, encrypted))
