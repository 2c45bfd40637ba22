"""Certificates of the fake tenant, made at start with ``cryptography`` (or, for a tenant kept
in a state directory, read back from there: :func:`load_pki`).

- a CA (``ca.pem``): the only thing a client must trust to talk to the fake tenant;
- a TLS server certificate for ``127.0.0.1`` and ``localhost`` signed by that CA;
- an app-registration certificate (``app-cert.pem`` + ``app-key.pem``, RSA, self-signed, as
  Entra app certificates usually are) whose client assertions the token endpoint accepts.

Private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiosk.entra.fake.wire import utcnow
from kiosk.x509util import (
    authority_key_id,
    ca_extensions,
    cert_pem,
    certificate,
    ec_key,
    end_entity,
    name,
    rsa_key,
    write_pair,
    write_private,
)

# write_private is re-exported: the tenant server writes its client secret with it.
__all__ = ["TenantPki", "create_pki", "load_pki", "make_app_certificate", "write_private"]


def _name(cn: str) -> x509.Name:
    return name(cn, organization="fido-kiosk fake tenant")


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
        key = rsa_key()
    now = utcnow()
    cert = certificate(
        _name("fido-kiosk app credential"),
        key,
        not_before=now - dt.timedelta(days=2),
        not_after=not_after or now + dt.timedelta(days=365),
    )
    cert_file, key_file = write_pair(
        cert, key, directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    )
    return cert_file, key_file, cert


def create_pki(
    directory: Path,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    app_key: rsa.RSAPrivateKey | None = None,
) -> TenantPki:
    """Make the CA, the server certificate and the app certificate under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, server_cert_file, server_key_file = _server_pki(directory, hosts)
    app_cert_file, app_key_file, app_cert = make_app_certificate(directory, key=app_key)
    return TenantPki(
        ca_file, server_cert_file, server_key_file, app_cert_file, app_key_file, app_cert
    )


def load_pki(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TenantPki:
    """The certificates :func:`create_pki` wrote under ``directory`` (a kept tenant); the CA
    and server certificate are made again when they expire within a day (the app certificate,
    registered with the tenant, is kept). OSError or ValueError if a file is missing or bad."""
    ca_file, server_cert_file = directory / "ca.pem", directory / "server-cert.pem"
    server_key_file = directory / "server-key.pem"
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(server_cert_file.read_bytes())
    soon = utcnow() + dt.timedelta(days=1)
    if min(ca.not_valid_after_utc, server.not_valid_after_utc) < soon:
        ca_file, server_cert_file, server_key_file = _server_pki(directory, hosts)
    app_cert_file, app_key_file = directory / "app-cert.pem", directory / "app-key.pem"
    app_cert = x509.load_pem_x509_certificate(app_cert_file.read_bytes())
    pki = TenantPki(
        ca_file, server_cert_file, server_key_file, app_cert_file, app_key_file, app_cert
    )
    pki.server_context()  # the key matches the certificate, or ValueError/SSLError now
    return pki


def _server_pki(directory: Path, hosts: tuple[str, ...]) -> tuple[Path, Path, Path]:
    """A new CA and a TLS server certificate for ``hosts`` signed by it."""
    now = utcnow()
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=30)
    ca_key = ec_key()
    ca = certificate(
        _name("fido-kiosk fake tenant CA"),
        ca_key,
        extensions=ca_extensions(ca_key, digital_signature=True),
        not_before=not_before,
        not_after=not_after,
    )
    server_key = ec_key()
    alt_names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt_names.append(x509.DNSName(h))
    server = certificate(
        _name(hosts[0]),
        server_key,
        issuer=ca,
        issuer_key=ca_key,
        extensions=[
            end_entity(),
            (x509.SubjectAlternativeName(alt_names), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            authority_key_id(ca_key),
        ],
        not_before=not_before,
        not_after=not_after,
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(cert_pem(ca))
    server_cert_file, server_key_file = write_pair(
        server, server_key, directory / "server-cert.pem", directory / "server-key.pem"
    )
    return ca_file, server_cert_file, server_key_file
