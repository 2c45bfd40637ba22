"""The virtual keys' test attestation CA: packed attestation certificate requirements."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.keys.virtual.attestation import (
    AAGUID_EXTENSION_OID,
    ROOT_KEY_FILE,
    AttestationCA,
    attestation_leaf,
    attestation_root_pem,
)
from kiosk.keys.virtual.profiles import CTAP20_AAGUID, YUBIKEY_5_AAGUID


def test_leaf_meets_the_packed_attestation_certificate_requirements() -> None:
    leaf = attestation_leaf(YUBIKEY_5_AAGUID).certificate
    assert leaf.version == x509.Version.v3
    subject = {a.oid: a.value for a in leaf.subject}
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "Authenticator Attestation"
    assert subject[NameOID.COUNTRY_NAME] == "US"
    assert subject[NameOID.ORGANIZATION_NAME] and subject[NameOID.COMMON_NAME]
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is False
    aaguid = leaf.extensions.get_extension_for_oid(AAGUID_EXTENSION_OID)
    assert aaguid.critical is False
    assert isinstance(aaguid.value, x509.UnrecognizedExtension)
    assert aaguid.value.value == b"\x04\x10" + YUBIKEY_5_AAGUID.bytes


def test_leaf_is_signed_by_the_root_everyone_trusts() -> None:
    root = x509.load_pem_x509_certificate(attestation_root_pem())
    leaf = attestation_leaf(CTAP20_AAGUID).certificate
    leaf.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_one_leaf_per_aaguid_cached_for_the_process() -> None:
    first = attestation_leaf(YUBIKEY_5_AAGUID)
    assert attestation_leaf(YUBIKEY_5_AAGUID) is first
    other = attestation_leaf(uuid.UUID(int=7))
    assert other.certificate.serial_number != first.certificate.serial_number
    assert isinstance(other.private_key, ec.EllipticCurvePrivateKey)


def test_ca_kept_in_a_directory_is_reused_and_its_key_is_private(tmp_path: Path) -> None:
    created = AttestationCA.load_or_create(tmp_path / "ca")
    loaded = AttestationCA.load_or_create(tmp_path / "ca")
    assert loaded.root_pem() == created.root_pem()
    mode = stat.S_IMODE((tmp_path / "ca" / ROOT_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    loaded.leaf(YUBIKEY_5_AAGUID).certificate.verify_directly_issued_by(created.root)
