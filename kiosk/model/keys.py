"""What the kiosk knows about a key and what a key made: plain data, no device I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from kiosk.model.codec import b64url

SERIALLESS = "no serial "
"""How the inventory names a key without a serial (``no serial 3f2a9c0d1e4b5a6f``)."""


def standin_serial(credential_id: bytes) -> str:
    """The inventory's name for a key without a serial, made from the credential the kiosk
    put on it (a key that holds nothing of the kiosk's cannot be told from another)."""
    return SERIALLESS + hashlib.sha256(credential_id).hexdigest()[:16]


@dataclass(frozen=True)
class KeyInfo:
    """What the kiosk knows about one inserted key, as identified by the session."""

    path: str
    aaguid: str
    """Lower-case UUID string; all zeros where the key reports none."""
    model: str
    """From the FIDO MDS3 blob, else the built-in table, else ``"FIDO2 key 0076631b"`` (the
    start of the AAGUID)."""
    firmware: str | None
    serial: str | None
    """YubiKey serial via yubikit, else the HID serial number, else None."""
    versions: tuple[str, ...]
    options: Mapping[str, bool] = field(default_factory=dict)
    pin_set: bool = False
    pin_retries: int | None = None
    min_pin_length: int = 4
    force_pin_change: bool = False
    remaining_credentials: int | None = None
    has_credentials: bool | None = None
    """True/False when the key can tell (credMgmt with a PIN), None when unknown."""

    @property
    def supports_ctap21(self) -> bool:
        return "FIDO_2_1" in self.versions

    @property
    def supports_pin_policy(self) -> bool:
        """authenticatorConfig with setMinPINLength: min PIN length and force-PIN-change."""
        return bool(self.options.get("authnrCfg")) and bool(self.options.get("setMinPINLength"))

    @property
    def serial_or_none(self) -> str:
        return self.serial if self.serial else "none"


@dataclass(frozen=True)
class CreatedCredential:
    """A credential a key made for one user: everything Graph's register call needs.

    Nothing in here is secret: the private key never leaves the security key.
    """

    credential_id: bytes
    client_data_json: bytes
    attestation_object: bytes
    aaguid: str
    attestation_format: str
    client_extension_results: Mapping[str, object] = field(default_factory=dict)

    def public_key_credential(self) -> dict[str, object]:
        """The ``publicKeyCredential`` object of Graph's register body."""
        return {
            "id": b64url(self.credential_id),
            "response": {
                "clientDataJSON": b64url(self.client_data_json),
                "attestationObject": b64url(self.attestation_object),
            },
            "clientExtensionResults": dict(self.client_extension_results),
        }
