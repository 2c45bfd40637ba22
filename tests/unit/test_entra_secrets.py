"""Reading the kiosk app's credential: files, permissions, systemd credentials, expiry."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from kiosk import x509util
from kiosk.config import TenantSettings
from kiosk.entra.errors import CredentialExpiredError
from kiosk.entra.secrets import (
    CREDENTIAL_NAMES,
    CertificateCredential,
    SecretCredential,
    check_certificate_expiry,
    load_credential,
)
from kiosk.errors import SecretFileError

NOW = datetime.now(UTC)


_KEYS = [x509util.rsa_key(), x509util.rsa_key()]


def _cert(
    key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime, cn: str = "kiosk-app"
) -> x509.Certificate:
    return x509util.certificate(
        x509util.name(cn), key, not_before=not_before, not_after=not_after
    )


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _pem_pair(
    tmp: Path, days: int = 365, key_mode: int = 0o600, key: rsa.RSAPrivateKey | None = None
) -> tuple[Path, Path, x509.Certificate]:
    key = key or _KEYS[0]
    cert = _cert(key, NOW - timedelta(days=1), NOW + timedelta(days=days))
    cert_path = _write(tmp / "app.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    key_path = _write(tmp / "app.key", key_pem, key_mode)
    return cert_path, key_path, cert


def test_pem_pair_gives_certificate_credential_with_thumbprints(tmp_path: Path) -> None:
    cert_path, key_path, cert = _pem_pair(tmp_path)
    cred = load_credential(
        TenantSettings(certificate_file=str(cert_path), private_key_file=str(key_path)), env={}
    )
    assert isinstance(cred, CertificateCredential)
    assert cred.thumbprint_sha1 == cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert cred.thumbprint_sha256 == cert.fingerprint(hashes.SHA256()).hex().upper()
    msal = cred.msal_credential()
    assert msal["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in msal["private_key"]
    assert "thumbprint" not in msal  # lets MSAL use the SHA-256 thumbprint (PS256)
    assert "PRIVATE KEY" not in repr(cred)
    assert 364 < cred.days_left() <= 365


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    cert_path, key_path, _ = _pem_pair(tmp_path, key_mode=mode)
    with pytest.raises(SecretFileError) as info:
        load_credential(
            TenantSettings(certificate_file=str(cert_path), private_key_file=str(key_path)),
            env={},
        )
    text = str(info.value)
    assert f"chmod 600 {key_path}" in text
    assert f"{mode:04o}" in text
    assert "group or others" in text


def test_secret_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "secret", b"  abc~DEF.123_secret-value \n")
    cred = load_credential(TenantSettings(client_secret_file=str(path)), env={})
    assert isinstance(cred, SecretCredential)
    assert cred.msal_credential() == "abc~DEF.123_secret-value"
    assert "abc~DEF" not in repr(cred)


def test_open_secret_file_is_refused_and_secret_not_shown(tmp_path: Path) -> None:
    path = _write(tmp_path / "secret", b"abc~DEF.123_secret-value", 0o644)
    with pytest.raises(SecretFileError) as info:
        load_credential(TenantSettings(client_secret_file=str(path)), env={})
    assert f"chmod 600 {path}" in str(info.value)
    assert "abc~DEF" not in str(info.value)


def test_empty_or_missing_secret_file(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty", b"\n")
    with pytest.raises(SecretFileError, match="empty"):
        load_credential(TenantSettings(client_secret_file=str(empty)), env={})
    with pytest.raises(SecretFileError, match="does not exist"):
        load_credential(TenantSettings(client_secret_file=str(tmp_path / "nope")), env={})


def test_pfx_with_passphrase_file(tmp_path: Path) -> None:
    key = _KEYS[0]
    cert = _cert(key, NOW - timedelta(days=1), NOW + timedelta(days=90))
    blob = pkcs12.serialize_key_and_certificates(
        b"kiosk", key, cert, None, serialization.BestAvailableEncryption(b"pfx-pass-1")
    )
    pfx = _write(tmp_path / "app.pfx", blob)
    good = _write(tmp_path / "pass", b"pfx-pass-1\n")
    cred = load_credential(TenantSettings(pfx_file=str(pfx), pfx_passphrase_file=str(good)), env={})
    assert isinstance(cred, CertificateCredential)
    assert cred.thumbprint_sha256 == cert.fingerprint(hashes.SHA256()).hex().upper()
    bad = _write(tmp_path / "bad", b"wrong")
    with pytest.raises(SecretFileError, match="passphrase is wrong") as info:
        load_credential(TenantSettings(pfx_file=str(pfx), pfx_passphrase_file=str(bad)), env={})
    assert "wrong" not in str(info.value).replace("passphrase is wrong", "")


def test_open_passphrase_file_is_refused(tmp_path: Path) -> None:
    pfx = _write(tmp_path / "app.pfx", b"x")
    loose = _write(tmp_path / "pass", b"pw", 0o644)
    with pytest.raises(SecretFileError, match=f"chmod 600 {loose}"):
        load_credential(TenantSettings(pfx_file=str(pfx), pfx_passphrase_file=str(loose)), env={})


def test_systemd_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    _write(creds / CREDENTIAL_NAMES["client_secret"], b"from-systemd")
    cred = load_credential(TenantSettings(), env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert isinstance(cred, SecretCredential)
    assert cred.secret == "from-systemd"
    # the setting wins over the environment, and relative names resolve inside it
    other = tmp_path / "other"
    other.mkdir()
    _write(other / "mine", b"from-setting")
    cred2 = load_credential(
        TenantSettings(credentials_directory=str(other), client_secret_file="mine"),
        env={"CREDENTIALS_DIRECTORY": str(creds)},
    )
    assert isinstance(cred2, SecretCredential)
    assert cred2.secret == "from-setting"


def test_systemd_certificate_preferred_over_secret(tmp_path: Path) -> None:
    cert_path, key_path, _ = _pem_pair(tmp_path)
    creds = tmp_path / "creds"
    creds.mkdir()
    os.replace(cert_path, creds / CREDENTIAL_NAMES["certificate"])
    os.replace(key_path, creds / CREDENTIAL_NAMES["private_key"])
    _write(creds / CREDENTIAL_NAMES["client_secret"], b"also-here")
    cred = load_credential(TenantSettings(), env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert isinstance(cred, CertificateCredential)


def test_certificate_setting_preferred_over_secret_file(tmp_path: Path) -> None:
    cert_path, key_path, _ = _pem_pair(tmp_path)
    secret = _write(tmp_path / "secret", b"s")
    cred = load_credential(
        TenantSettings(
            certificate_file=str(cert_path),
            private_key_file=str(key_path),
            client_secret_file=str(secret),
        ),
        env={},
    )
    assert isinstance(cred, CertificateCredential)


def test_inline_secret_needs_permission_and_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SecretFileError, match="allow_inline_secret"):
        load_credential(TenantSettings(client_secret="inline-value"), env={})
    with caplog.at_level(logging.WARNING):
        cred = load_credential(
            TenantSettings(client_secret="inline-value", allow_inline_secret=True), env={}
        )
    assert isinstance(cred, SecretCredential)
    assert any("inline" in r.getMessage() for r in caplog.records)
    assert all("inline-value" not in r.getMessage() for r in caplog.records)


def test_nothing_configured_says_what_to_set() -> None:
    with pytest.raises(SecretFileError) as info:
        load_credential(TenantSettings(), env={})
    assert "client_secret_file" in info.value.next_step
    assert "pfx_file" in info.value.next_step


def test_half_a_pem_pair_is_refused(tmp_path: Path) -> None:
    cert_path, _key_path, _ = _pem_pair(tmp_path)
    with pytest.raises(SecretFileError, match="private_key_file"):
        load_credential(TenantSettings(certificate_file=str(cert_path)), env={})


def test_key_that_does_not_match_the_certificate(tmp_path: Path) -> None:
    cert_path, _, _ = _pem_pair(tmp_path)
    other = _KEYS[1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    wrong = _write(tmp_path / "wrong.key", other)
    with pytest.raises(SecretFileError, match="does not belong"):
        load_credential(
            TenantSettings(certificate_file=str(cert_path), private_key_file=str(wrong)), env={}
        )


def test_expired_certificate_is_refused(tmp_path: Path) -> None:
    cert_path, key_path, cert = _pem_pair(tmp_path, days=30)
    settings = TenantSettings(certificate_file=str(cert_path), private_key_file=str(key_path))
    later = NOW + timedelta(days=31)
    with pytest.raises(CredentialExpiredError) as info:
        load_credential(settings, env={}, now=later)
    assert cert.fingerprint(hashes.SHA1()).hex().upper() in str(info.value)  # noqa: S303
    assert "new certificate" in info.value.next_step


def test_certificate_close_to_expiry_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert_path, key_path, _ = _pem_pair(tmp_path, days=10)
    cred = load_credential(
        TenantSettings(certificate_file=str(cert_path), private_key_file=str(key_path)), env={}
    )
    assert isinstance(cred, CertificateCredential)
    with caplog.at_level(logging.WARNING):
        days = check_certificate_expiry(cred)
    assert 9 < days <= 10
    assert any("expires in" in r.getMessage() for r in caplog.records)
