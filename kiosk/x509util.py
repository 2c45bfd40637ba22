"""Small helpers for the X.509 certificates the kiosk's own tools make with ``cryptography``:
the fake tenant's CA, TLS and app certificates, the virtual keys' attestation CA, the demo's
helpdesk certificate (and the tests' variants of them).

Each caller still decides every field (names, key type, validity, extensions); these helpers
only spare it the builder boilerplate. Private keys are written readable by the owner only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Extension = tuple[x509.ExtensionType, bool]
"""An extension and whether it is critical."""


def rsa_key() -> rsa.RSAPrivateKey:
    """A new 2048-bit RSA key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def name(
    common_name: str,
    *,
    country: str | None = None,
    organization: str | None = None,
    unit: str | None = None,
) -> x509.Name:
    """A distinguished name: C, O, OU (those given) then CN."""
    parts = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.ORGANIZATION_NAME, organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        (NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value is not None])


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A KeyUsage with only the named bits set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def ca_extensions(key: PrivateKey, *, digital_signature: bool = False) -> list[Extension]:
    """A CA that issues end-entity certificates only: basicConstraints CA (path length 0) and
    keyCertSign + cRLSign, both critical, and its subject key identifier."""
    return [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (
            key_usage(digital_signature=digital_signature, key_cert_sign=True, crl_sign=True),
            True,
        ),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ]


def end_entity() -> Extension:
    """basicConstraints CA=false, critical."""
    return x509.BasicConstraints(ca=False, path_length=None), True


def authority_key_id(issuer_key: PrivateKey) -> Extension:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False


def certificate(
    subject: x509.Name,
    key: PrivateKey,
    *,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[Extension] = (),
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
) -> x509.Certificate:
    """A certificate for ``key``'s public key, signed with SHA-256 by ``issuer_key`` under
    ``issuer``'s subject, or self-signed when no issuer is given."""
    if (issuer is None) != (issuer_key is None):
        raise ValueError("issuer and issuer_key go together")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key if issuer_key is None else issuer_key, hashes.SHA256())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (write it with :func:`write_private`)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600), replacing any file."""
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_pair(
    cert: x509.Certificate, key: PrivateKey, cert_path: Path, key_path: Path
) -> tuple[Path, Path]:
    """The certificate as PEM, the key as PKCS#8 PEM with mode 0600; returns both paths."""
    cert_path.write_bytes(cert_pem(cert))
    write_private(key_path, key_pem(key))
    return cert_path, key_path
