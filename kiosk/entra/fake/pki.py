"""Certificates of the fake tenant, made fresh at every start with ``cryptography``.

- a CA (``ca.pem``): the only thing a client must trust to talk to the fake tenant;
- a TLS server certificate for ``127.0.0.1`` and ``localhost`` signed by that CA;
- an app-registration certificate (``app-cert.pem`` + ``app-key.pem``, RSA, self-signed, as
  Entra app certificates usually are) whose client assertions the token endpoint accepts.

Private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.entra.fake.wire import utcnow


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600), replacing any file."""
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fido-kiosk fake tenant"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class TenantPki:
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    app_cert_file: Path
    app_key_file: Path
    app_certificate: x509.Certificate

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert_file, self.server_key_file)
        return ctx


def make_app_certificate(
    directory: Path,
    name: str = "app",
    *,
    not_after: dt.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[Path, Path, x509.Certificate]:
    """A self-signed RSA certificate credential (cert PEM, key PEM 0600) like an app owner makes.

    ``key``: reuse this RSA key instead of generating one (a test suite shares one to save the
    ~0.1 s an RSA key costs); the certificate is always new.
    """
    if key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fido-kiosk app credential"))
        .issuer_name(_name("fido-kiosk app credential"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / f"{name}-cert.pem"
    key_file = directory / f"{name}-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(key_file, _pem_key(key))
    return cert_file, key_file, cert


def create_pki(
    directory: Path,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    app_key: rsa.RSAPrivateKey | None = None,
) -> TenantPki:
    """Make the CA, the server certificate and the app certificate under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fido-kiosk fake tenant CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt_names.append(x509.DNSName(h))
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_cert_file = directory / "server-cert.pem"
    server_cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    server_key_file = directory / "server-key.pem"
    write_private(server_key_file, _pem_key(server_key))
    app_cert_file, app_key_file, app_cert = make_app_certificate(directory, key=app_key)
    return TenantPki(
        ca_file, server_cert_file, server_key_file, app_cert_file, app_key_file, app_cert
    )
