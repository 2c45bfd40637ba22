"""A test attestation CA for virtual keys: one root, one attestation leaf per AAGUID.

The leaf meets the WebAuthn ``packed`` attestation certificate requirements (X.509 v3; subject
C, O, OU="Authenticator Attestation", CN; basicConstraints CA=false) and carries the FIDO AAGUID
extension (1.3.6.1.4.1.45724.1.1.4, an OCTET STRING of the 16 AAGUID bytes, not critical), so a
relying party (the fake tenant, py_webauthn) that trusts :func:`attestation_root_pem` verifies
a virtual key's attestation exactly as it would a real key's.

The CA lives for the process (created on first use); :meth:`AttestationCA.load_or_create`
keeps one in a directory (key file mode 0600) for a caller that needs the same root across
processes.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk import x509util

AAGUID_EXTENSION_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
ORGANIZATION = "fido-kiosk test attestation"
ROOT_CERT_FILE = "attestation-root.pem"
ROOT_KEY_FILE = "attestation-root.key"
_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class AttestationLeaf:
    """The attestation certificate and key a virtual key with this AAGUID signs with."""

    aaguid: uuid.UUID
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        """The certificate as it goes into ``x5c``."""
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _aaguid_extension(aaguid: uuid.UUID) -> x509.UnrecognizedExtension:
    # DER OCTET STRING (tag 0x04, length 16) around the AAGUID bytes.
    return x509.UnrecognizedExtension(AAGUID_EXTENSION_OID, b"\x04\x10" + aaguid.bytes)


def _make_root() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = x509util.ec_key()
    now = _now()
    cert = x509util.certificate(
        x509util.name(
            "fido-kiosk Virtual Key Attestation Root", country="US", organization=ORGANIZATION
        ),
        key,
        not_before=now - datetime.timedelta(days=1),
        not_after=now + _VALIDITY,
        extensions=x509util.ca_extensions(key),
    )
    return cert, key


class AttestationCA:
    """A root certificate and key, and the leaves issued under it (one per AAGUID, cached)."""

    def __init__(self, root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey) -> None:
        self.root = root
        self._root_key = root_key
        self._leaves: dict[uuid.UUID, AttestationLeaf] = {}
        self._lock = threading.Lock()

    @classmethod
    def create(cls) -> AttestationCA:
        return cls(*_make_root())

    @classmethod
    def load_or_create(cls, directory: Path) -> AttestationCA:
        """The CA kept in ``directory``; made and written there the first time."""
        cert_path, key_path = directory / ROOT_CERT_FILE, directory / ROOT_KEY_FILE
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path} does not hold an EC private key")
            return cls(cert, key)
        directory.mkdir(parents=True, exist_ok=True)
        ca = cls.create()
        x509util.write_private(key_path, x509util.key_pem(ca._root_key))
        cert_path.write_bytes(ca.root_pem())
        return ca

    def root_pem(self) -> bytes:
        return x509util.cert_pem(self.root)

    def leaf(self, aaguid: uuid.UUID) -> AttestationLeaf:
        with self._lock:
            found = self._leaves.get(aaguid)
            if found is None:
                found = self._issue(aaguid)
                self._leaves[aaguid] = found
            return found

    def _issue(self, aaguid: uuid.UUID) -> AttestationLeaf:
        key = x509util.ec_key()
        subject = x509util.name(
            f"fido-kiosk Virtual Key {aaguid}",
            country="US",
            organization=ORGANIZATION,
            unit="Authenticator Attestation",
        )
        now = _now()
        cert = x509util.certificate(
            subject,
            key,
            issuer=self.root,
            issuer_key=self._root_key,
            not_before=now - datetime.timedelta(days=1),
            not_after=min(now + _VALIDITY, self.root.not_valid_after_utc),
            extensions=[
                x509util.end_entity(),
                (_aaguid_extension(aaguid), False),
                x509util.authority_key_id(self._root_key),
            ],
        )
        return AttestationLeaf(aaguid=aaguid, certificate=cert, private_key=key)


_default: AttestationCA | None = None
_default_lock = threading.Lock()


def default_ca() -> AttestationCA:
    """The process-wide test CA (made on first use)."""
    global _default  # noqa: PLW0603 - one CA per process, by design
    with _default_lock:
        if _default is None:
            _default = AttestationCA.create()
        return _default


def attestation_root_pem() -> bytes:
    """The root the fake tenant and py_webauthn trust for virtual keys' ``packed`` attestation."""
    return default_ca().root_pem()


def attestation_leaf(aaguid: uuid.UUID) -> AttestationLeaf:
    return default_ca().leaf(aaguid)
