"""Sealed PIN escrow: each PIN encrypted as CMS AuthEnvelopedData to the helpdesk.

AES-256-GCM content encryption under RSAES-OAEP (SHA-256) key transport
(:mod:`kiosk.enroll.cms`): a file changed by one bit no longer opens, and the audit record of
the enrollment names the sealed file and its SHA-256.

The kiosk holds only the helpdesk's certificates, never a private key, so it cannot read a sealed
PIN back. The helpdesk opens one with::

    openssl cms -decrypt -inform DER -in <file>.p7m -recip helpdesk.pem -inkey helpdesk.key

and reads a few lines of text: the UPN, the key's serial and the PIN. Files are written
atomically (temporary file, fsync, rename, fsync of the directory) with mode 0600; their names
hold the queue entry, the key serial and the time, never the UPN or the PIN.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.durable import atomic_write
from kiosk.enroll.cms import auth_enveloped
from kiosk.enroll.pins import Pin
from kiosk.errors import KioskError
from kiosk.model.text import clean, has_controls

SUFFIX = ".p7m"


class EscrowError(KioskError):
    """The PIN could not be sealed or stored; the enrollment must not go on without it."""

    title = "PIN escrow failed"
    next_step = (
        "Do not hand the key out. Check the escrow directory (disk space, permissions), then "
        "retry; if it fails again, call the kiosk administrator."
    )


class RecipientError(EscrowError):
    """A helpdesk certificate cannot be used to seal PINs."""

    title = "Helpdesk certificate problem"
    next_step = (
        "Fix escrow.recipients in kiosk.toml: each entry must be a PEM file with a valid, "
        "unexpired RSA certificate of the helpdesk that allows key encipherment."
    )


def _check_certificate(cert: x509.Certificate, where: str, now: datetime) -> None:
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise RecipientError(
            f"{where}: the certificate has a {type(cert.public_key()).__name__} key; "
            "sealing needs an RSA key (2048 bits or more)."
        )
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)  # noqa: S101 - narrowed just above
    if key.key_size < 2048:
        raise RecipientError(f"{where}: the RSA key has {key.key_size} bits; 2048 or more needed.")
    if cert.not_valid_after_utc <= now:
        raise RecipientError(
            f"{where}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}."
        )
    if cert.not_valid_before_utc > now:
        raise RecipientError(
            f"{where}: the certificate is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (check the kiosk's clock)."
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_encipherment:
        raise RecipientError(
            f"{where}: the certificate's key usage does not allow key encipherment, so "
            "openssl would refuse to open what is sealed to it."
        )


def load_recipients(
    paths: Sequence[str | Path], *, now: datetime | None = None
) -> list[x509.Certificate]:
    """Read the helpdesk certificates (PEM; a file may hold several) and check each one."""
    when = now or datetime.now(UTC)
    if not paths:
        raise RecipientError("no helpdesk certificate is configured (escrow.recipients is empty).")
    certs: list[x509.Certificate] = []
    for raw in paths:
        path = Path(raw)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RecipientError(f"{path}: no such file.") from None
        except OSError as exc:
            raise RecipientError(f"{path}: cannot be read ({exc.strerror}).") from None
        if b"PRIVATE KEY" in data:
            raise RecipientError(
                f"{path}: holds a private key. The kiosk must only have the certificate; "
                "remove the key from this machine."
            )
        try:
            found = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise RecipientError(f"{path}: not a PEM certificate.") from None
        for i, cert in enumerate(found):
            where = str(path) if len(found) == 1 else f"{path} (certificate {i + 1})"
            _check_certificate(cert, where, when)
        certs.extend(found)
    return certs


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint (hex) of a certificate, for the audit trail."""
    return cert.fingerprint(hashes.SHA256()).hex()


def sealed_text(pin: Pin | str, upn: str, serial: str | None, sealed_at: datetime) -> bytes:
    """The lines the helpdesk reads. No field holds a control character, so none can add a
    line (a serial ``X\nPIN: 11111111`` must not put a forged PIN above the real one)."""
    value = pin.reveal() if isinstance(pin, Pin) else pin
    if has_controls(value):
        raise EscrowError("the PIN holds a control character; it was not sealed.")
    return (
        "fido-kiosk sealed PIN\n"
        f"UPN: {clean(upn)}\n"
        f"Key serial: {clean(serial) or 'none'}\n"
        f"PIN: {value}\n"
        f"Sealed at: {sealed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}\n"
    ).encode()


def seal(
    pin: Pin | str,
    upn: str,
    serial: str | None,
    recipients: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> bytes:
    """CMS AuthEnvelopedData (DER, AES-256-GCM, RSA-OAEP) of the PIN text, openable by any
    recipient."""
    if not recipients:
        raise RecipientError("no helpdesk certificate to seal the PIN to.")
    text = sealed_text(pin, upn, serial, now or datetime.now(UTC))
    try:
        return auth_enveloped(text, recipients)
    except (ValueError, TypeError) as exc:
        raise EscrowError(f"the PIN could not be sealed ({exc.__class__.__name__}).") from None


_SAFE = re.compile(r"[^A-Za-z0-9_-]")


Central = Callable[[int, "str | None", bytes, datetime], None]
"""(entry id, serial, envelope, when) -> kept in the database too (``Store.sealed.put``)."""


class EscrowStore:
    """The directory of sealed PINs (and, with ``central``, the database). Write-only from the
    kiosk's point of view."""

    def __init__(self, directory: str | Path, *, central: Central | None = None) -> None:
        self.directory = Path(directory)
        self.central = central

    def _ensure(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise EscrowError(f"{self.directory}: cannot be created ({exc.strerror}).") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise EscrowError(f"{self.directory}: the kiosk cannot write here.")
        st = self.directory.stat()
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            self.directory.chmod(0o700)  # others may not even list who got a sealed PIN

    def name_for(self, entry_id: int, serial: str | None, when: datetime) -> str:
        safe_serial = _SAFE.sub("_", serial or "noserial")[:40] or "noserial"
        return f"pin-{entry_id:06d}-{safe_serial}-{when.astimezone(UTC):%Y%m%dT%H%M%S%fZ}{SUFFIX}"

    def write(
        self, entry_id: int, serial: str | None, blob: bytes, *, now: datetime | None = None
    ) -> Path:
        """Store one sealed PIN durably (file, then database); return its path (name without
        UPN or PIN)."""
        self._ensure()
        when = now or datetime.now(UTC)
        path = self.directory / self.name_for(entry_id, serial, when)
        try:
            atomic_write(path, blob, 0o600)
        except OSError as exc:
            raise EscrowError(
                f"{path.name}: the sealed PIN could not be written ({exc.strerror})."
            ) from None
        if self.central is not None:
            self.central(entry_id, serial, blob, when)
        return path

    def files(self) -> list[Path]:
        """Sealed PIN files, oldest name first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))


def blob_sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def escrow_fields(path: str | None) -> dict[str, str] | None:
    """What the audit record keeps of a sealed PIN file: its name and SHA-256 (None: none)."""
    if not path:
        return None
    try:
        digest = blob_sha256(Path(path).read_bytes())
    except OSError as exc:
        return {"file": Path(path).name, "sha256": f"unreadable ({exc.strerror})"}
    return {"file": Path(path).name, "sha256": digest}
