"""TLS verification is never off: no switch for it in the code, and the kiosk's HTTP session
refuses a server whose certificate comes from a CA it was not told to trust, or names another
host, even when the environment points requests at that CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import kiosk
from kiosk.config import GraphSettings, Settings, TenantSettings
from kiosk.entra.errors import TlsError
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import make_session

KIOSK = Path(kiosk.__file__).parent
TURNED_OFF = re.compile(
    r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    r"|PYTHONHTTPSVERIFY|disable_warnings"
)


def test_no_code_in_the_kiosk_turns_tls_verification_off() -> None:
    hits = [
        f"{path.relative_to(KIOSK.parent)}:{n}: {line.strip()}"
        for path in sorted(KIOSK.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if TURNED_OFF.search(line)
    ]
    assert hits == []


# ---- a small HTTPS server with a certificate of our choosing --------------------------------
@dataclass
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem_file: Path


def make_ca(directory: Path, name: str) -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    pem_file = directory / f"{name}.pem"
    pem_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Ca(key, cert, pem_file)


def server_context(directory: Path, ca: Ca, host: str) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"server-{host}.pem", directory / f"server-{host}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


Serve = Callable[["Ca", str], str]
"""serve(ca, host): start a server with a certificate from ``ca`` for ``host``; its URL."""


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    servers: list[HTTPServer] = []

    def start(ca: Ca, cert_host: str) -> str:
        server = HTTPServer(("127.0.0.1", 0), _Hello)
        ctx = server_context(tmp_path, ca, cert_host)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}/v1.0/me"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(ca_bundle: str, url: str) -> int:
    session = make_session(TenantSettings(ca_bundle=ca_bundle), GraphSettings(timeout_seconds=5))
    try:
        return session.get(url).status_code
    finally:
        session.close()


class _Token:
    def token(self, *, force_refresh: bool = False) -> str:
        return "never-sent-token"


def graph_get(ca_bundle: str, url: str) -> None:
    """The same call as the kiosk's Graph client makes it (errors as the operator sees them)."""
    base = url.split("/v1.0/", maxsplit=1)[0]
    settings = Settings(
        tenant=TenantSettings(graph_url=base, ca_bundle=ca_bundle),
        graph=GraphSettings(timeout_seconds=5, max_retries=0),
    )
    GraphClient(settings, _Token(), sleep=lambda _s: None).get_user("alice")


def test_a_server_of_the_trusted_ca_is_accepted(tmp_path: Path, serve: Serve) -> None:
    trusted = make_ca(tmp_path, "trusted")
    assert get(str(trusted.pem_file), serve(trusted, "127.0.0.1")) == 200


def test_a_server_of_an_untrusted_ca_is_refused_even_if_the_environment_trusts_it(
    tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusted, rogue = make_ca(tmp_path, "trusted"), make_ca(tmp_path, "rogue")
    url = serve(rogue, "127.0.0.1")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(rogue.pem_file))
    with pytest.raises(requests.exceptions.SSLError):
        get(str(trusted.pem_file), url)
    with pytest.raises(requests.exceptions.SSLError):  # nor do the system's CAs know it
        get("", url)
    with pytest.raises(TlsError) as info:
        graph_get(str(trusted.pem_file), url)
    assert "never-sent-token" not in str(info.value)


def test_a_certificate_for_another_host_is_refused(tmp_path: Path, serve: Serve) -> None:
    trusted = make_ca(tmp_path, "trusted")
    url = serve(trusted, "login.example.org")
    with pytest.raises(requests.exceptions.SSLError):
        get(str(trusted.pem_file), url)
    with pytest.raises(TlsError):
        graph_get(str(trusted.pem_file), url)
