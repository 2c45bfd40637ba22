"""The kiosk app's credential: a certificate (preferred) or a client secret, read safely.

Where a credential comes from, in order:

1. A certificate: ``tenant.pfx_file`` (+ ``tenant.pfx_passphrase_file``), or
   ``tenant.certificate_file`` + ``tenant.private_key_file``.
2. A client secret: ``tenant.client_secret_file``.
3. With none of those set, a systemd credential directory (``tenant.credentials_directory`` or
   ``$CREDENTIALS_DIRECTORY``) is searched for the names in :data:`CREDENTIAL_NAMES`.
4. ``tenant.client_secret`` written inline, only with ``tenant.allow_inline_secret`` (warned).

A relative file name is looked up in the credential directory when there is one. Files holding
a secret (secret, private key, PFX, passphrase) must not be readable by group or others: such a
file is refused with the ``chmod 600`` that fixes it. Nothing secret is ever put in a message,
a log line or ``repr``.
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from kiosk.config import TenantSettings
from kiosk.entra.errors import CredentialExpiredError
from kiosk.errors import SecretFileError

log = logging.getLogger(__name__)

CREDENTIAL_NAMES: Mapping[str, str] = {
    "pfx": "kiosk-certificate.pfx",
    "pfx_passphrase": "kiosk-certificate-passphrase",
    "certificate": "kiosk-certificate.pem",
    "private_key": "kiosk-private-key.pem",
    "client_secret": "kiosk-client-secret",
}
"""File names looked for in a systemd credential directory (``LoadCredential=<name>:<path>``)."""

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class SecretCredential:
    """A client secret. ``repr`` never shows it."""

    secret: str = field(repr=False)
    source: str

    def msal_credential(self) -> str:
        return self.secret


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate and its private key (PEM, unencrypted, in memory only)."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    thumbprint_sha1: str
    """Upper-case hex, as the Azure portal shows it."""
    thumbprint_sha256: str
    """Upper-case hex; MSAL signs with PS256 and ``x5t#S256`` when it has the certificate."""
    not_before: datetime
    not_after: datetime
    subject: str
    source: str

    def msal_credential(self) -> dict[str, str]:
        """MSAL's ``client_credential`` dict.

        With ``public_certificate`` and no ``thumbprint``, MSAL 1.35+ computes the SHA-256
        thumbprint itself and sends the certificate chain (``x5c``); giving ``thumbprint`` would
        force the SHA-1 legacy path.
        """
        return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}

    def days_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / 86400.0


Credential = SecretCredential | CertificateCredential


def credentials_directory(tenant: TenantSettings, env: Mapping[str, str]) -> Path | None:
    """The systemd credential directory, if one is configured or given by systemd."""
    raw = tenant.credentials_directory or env.get("CREDENTIALS_DIRECTORY", "")
    return Path(raw) if raw else None


def _resolve(name: str, cred_dir: Path | None) -> Path:
    p = Path(name)
    if not p.is_absolute() and cred_dir is not None:
        return cred_dir / p
    return p


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


ACL_XATTR = "system.posix_acl_access"
_ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP = 0x02, 0x04, 0x08


def only_acl_readers(path: Path, allowed: set[int]) -> bool:
    """True when the group bits of ``path``'s mode are only a POSIX ACL mask over entries that
    let nobody but ``allowed`` users read (no owning group, no named group, no other user).

    systemd writes a credential 0400, owned by root, and lets the service's user read it with
    an ACL entry (``user:fido-kiosk:r--``); ``stat`` then shows the ACL mask as group bits
    (mode 0440) although no group can read the file.
    """
    try:
        raw = os.getxattr(path, ACL_XATTR)
    except OSError:
        return False
    if len(raw) < 4 or (len(raw) - 4) % 8 or int.from_bytes(raw[:4], "little") != 2:
        return False
    for off in range(4, len(raw), 8):
        tag = int.from_bytes(raw[off : off + 2], "little")
        perm = int.from_bytes(raw[off + 2 : off + 4], "little")
        ident = int.from_bytes(raw[off + 4 : off + 8], "little")
        if tag in (_ACL_GROUP_OBJ, _ACL_GROUP) and perm:
            return False
        if tag == _ACL_USER and perm and ident not in allowed:
            return False
    return True


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret file that group or others may read, or that someone else owns."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SecretFileError(
            f"The {what} file {path} does not exist.",
            next_step=f"Put the {what} at {path} (owned by the kiosk user, mode 0600), or fix "
            "the path in kiosk.toml.",
        ) from None
    except OSError as exc:
        raise SecretFileError(
            f"The {what} file {path} cannot be examined ({exc.strerror or type(exc).__name__})."
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"The {what} file {path} is not a regular file.")
    me = os.geteuid()
    try:
        user = pwd.getpwuid(me).pw_name
    except KeyError:
        user = str(me)
    owner = _owner(st)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 and not (mode & 0o007 == 0 and only_acl_readers(path, {me, 0})):
        raise SecretFileError(
            f"The {what} file {path} can be read by group or others (mode {mode:04o}, owner "
            f"{owner}).",
            next_step=f"Run: chmod 600 {path} (and chown {user} {path} if {user} does not own "
            "it), then start the kiosk again.",
        )
    if st.st_uid not in (me, 0):
        raise SecretFileError(
            f"The {what} file {path} belongs to {owner}, not to {user} who runs the kiosk.",
            next_step=f"Run: chown {user} {path} && chmod 600 {path}",
        )


def read_private_bytes(path: Path, what: str) -> bytes:
    check_private_file(path, what)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SecretFileError(
            f"The {what} file {path} cannot be read ({exc.strerror or type(exc).__name__}).",
            next_step=f"Make it readable by the kiosk user: chown <kiosk user> {path} && "
            f"chmod 600 {path}",
        ) from None


def _read_public(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SecretFileError(
            f"The {what} file {path} does not exist.",
            next_step="Fix the path in kiosk.toml.",
        ) from None
    except OSError as exc:
        raise SecretFileError(
            f"The {what} file {path} cannot be read ({exc.strerror or type(exc).__name__})."
        ) from None


def thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """(SHA-1, SHA-256) thumbprints in upper-case hex."""
    sha1 = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint, not security
    return sha1, cert.fingerprint(hashes.SHA256()).hex().upper()


def check_certificate_expiry(cert: CertificateCredential, now: datetime | None = None) -> float:
    """Days the certificate has left; raises :class:`CredentialExpiredError` if none.

    Logs a warning when fewer than :data:`EXPIRY_WARNING_DAYS` are left.
    """
    now = now or datetime.now(UTC)
    if now < cert.not_before:
        raise CredentialExpiredError(
            f"The kiosk certificate ({cert.subject}, thumbprint {cert.thumbprint_sha1}) is not "
            f"valid before {cert.not_before:%Y-%m-%d %H:%M} UTC.",
            title="The kiosk's certificate is not valid yet",
            next_step="Check the kiosk's clock, or wait until the certificate becomes valid.",
        )
    days = cert.days_left(now)
    if days <= 0:
        raise CredentialExpiredError(
            f"The kiosk certificate ({cert.subject}, thumbprint {cert.thumbprint_sha1}) expired "
            f"on {cert.not_after:%Y-%m-%d} UTC."
        )
    if days < EXPIRY_WARNING_DAYS:
        log.warning(
            "The kiosk certificate (thumbprint %s) expires in %.0f days, on %s UTC.",
            cert.thumbprint_sha1,
            days,
            f"{cert.not_after:%Y-%m-%d}",
        )
    return days


def _certificate_credential(
    key: object, cert: x509.Certificate, source: str
) -> CertificateCredential:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SecretFileError(
            f"The private key in {source} is not an RSA or EC key.",
            next_step="Entra ID certificate credentials use RSA keys; install one.",
        )
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise SecretFileError(
            f"The private key does not belong to the certificate ({source}).",
            next_step="Install the key that was generated together with this certificate.",
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    sha1, sha256 = thumbprints(cert)
    return CertificateCredential(
        private_key_pem=pem,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        thumbprint_sha1=sha1,
        thumbprint_sha256=sha256,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
        source=source,
    )


def load_pem_pair(cert_path: Path, key_path: Path) -> CertificateCredential:
    cert_bytes = _read_public(cert_path, "certificate")
    key_bytes = read_private_bytes(key_path, "private key")
    try:
        cert = x509.load_pem_x509_certificate(cert_bytes)
    except ValueError:
        raise SecretFileError(
            f"{cert_path} is not a PEM certificate.",
            next_step="Give tenant.certificate_file a file starting with "
            "-----BEGIN CERTIFICATE-----.",
        ) from None
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except TypeError:
        raise SecretFileError(
            f"The private key {key_path} is encrypted.",
            next_step="Use a PFX file with tenant.pfx_passphrase_file for an encrypted key, or "
            "store the PEM key unencrypted with mode 0600.",
        ) from None
    except ValueError:
        raise SecretFileError(f"{key_path} is not a PEM private key.") from None
    return _certificate_credential(key, cert, f"{cert_path} + {key_path}")


def load_pfx(pfx_path: Path, passphrase_path: Path | None) -> CertificateCredential:
    data = read_private_bytes(pfx_path, "PFX")
    passphrase: bytes | None = None
    if passphrase_path is not None:
        passphrase = read_private_bytes(passphrase_path, "PFX passphrase").rstrip(b"\r\n")
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise SecretFileError(
            f"{pfx_path} cannot be opened: not a PFX file, or the passphrase is wrong.",
            next_step="Check tenant.pfx_file and tenant.pfx_passphrase_file.",
        ) from None
    if key is None or cert is None:
        raise SecretFileError(
            f"{pfx_path} does not hold both a certificate and its private key.",
            next_step="Export the PFX again with the private key included.",
        )
    return _certificate_credential(key, cert, str(pfx_path))


def _secret_from_file(path: Path) -> SecretCredential:
    raw = read_private_bytes(path, "client secret")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError(f"The client secret file {path} is not UTF-8 text.") from None
    if not text:
        raise SecretFileError(
            f"The client secret file {path} is empty.",
            next_step="Write the secret's value (not its id) into the file.",
        )
    return SecretCredential(secret=text, source=str(path))


def load_credential(
    tenant: TenantSettings,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Credential:
    """The app credential the settings point to; see the module docstring for the order."""
    environ = os.environ if env is None else env
    cred_dir = credentials_directory(tenant, environ)
    cert: CertificateCredential | None = None
    if tenant.pfx_file:
        pp = tenant.pfx_passphrase_file
        cert = load_pfx(_resolve(tenant.pfx_file, cred_dir), _resolve(pp, cred_dir) if pp else None)
    elif tenant.certificate_file or tenant.private_key_file:
        if not (tenant.certificate_file and tenant.private_key_file):
            missing = "private_key_file" if tenant.certificate_file else "certificate_file"
            raise SecretFileError(
                f"tenant.certificate_file and tenant.private_key_file go together; "
                f"tenant.{missing} is not set.",
                next_step=f"Set tenant.{missing} in kiosk.toml.",
            )
        cert = load_pem_pair(
            _resolve(tenant.certificate_file, cred_dir),
            _resolve(tenant.private_key_file, cred_dir),
        )
    elif tenant.client_secret_file:
        return _secret_from_file(_resolve(tenant.client_secret_file, cred_dir))
    elif cred_dir is not None and (found := _from_credentials_directory(cred_dir)) is not None:
        if isinstance(found, SecretCredential):
            return found
        cert = found
    elif tenant.client_secret:
        if not tenant.allow_inline_secret:
            raise SecretFileError(
                "tenant.client_secret is written inline in kiosk.toml.",
                next_step="Put it in a file named by tenant.client_secret_file (mode 0600), or "
                "set tenant.allow_inline_secret = true to accept the risk.",
            )
        log.warning(
            "Using the client secret written inline in kiosk.toml; anyone who can read the "
            "file can sign in as the kiosk app. Prefer a certificate or a secret file."
        )
        return SecretCredential(secret=tenant.client_secret, source="kiosk.toml (inline)")
    if cert is None:
        raise SecretFileError(
            "No credential for the kiosk app is configured.",
            next_step="Set tenant.pfx_file, tenant.certificate_file + tenant.private_key_file, or "
            "tenant.client_secret_file in kiosk.toml (or provide systemd credentials named "
            + ", ".join(CREDENTIAL_NAMES.values())
            + ").",
        )
    check_certificate_expiry(cert, now)
    return cert


def _from_credentials_directory(cred_dir: Path) -> Credential | None:
    names = {k: cred_dir / v for k, v in CREDENTIAL_NAMES.items()}
    if names["pfx"].exists():
        pp = names["pfx_passphrase"]
        return load_pfx(names["pfx"], pp if pp.exists() else None)
    if names["certificate"].exists() and names["private_key"].exists():
        return load_pem_pair(names["certificate"], names["private_key"])
    if names["client_secret"].exists():
        return _secret_from_file(names["client_secret"])
    return None
