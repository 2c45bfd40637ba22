"""The FIDO Metadata Service (MDS3) blob: model names and status by AAGUID.

The admin downloads the blob (https://mds3.fidoalliance.org/) and places it on disk; the kiosk
never fetches it. It is parsed and its signature checked with ``fido2.mds3.parse_blob`` against
a trusted root: by default FIDO's, GlobalSign Root CA - R3 (taken from the certifi bundle that
requests already ships); tests pass their own root. A blob that does not verify is refused as a
whole; the kiosk then names keys from its built-in table (see :mod:`kiosk.keys.identity`).
"""

from __future__ import annotations

import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation.base import InvalidSignature
from fido2.mds3 import MetadataBlobPayload, MetadataBlobPayloadEntry, parse_blob

from kiosk.errors import KioskError

FIDO_MDS_ROOT_LABEL = "GlobalSign Root CA - R3"
"""The root FIDO signs MDS3 blobs under."""

MDS_URL = "https://mds3.fidoalliance.org/"


class MdsError(KioskError):
    title = "FIDO metadata blob unusable"

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"{path}: {detail}",
            next_step=f"Download a fresh blob from {MDS_URL} and place it at {path}. "
            "Until then keys are named from the built-in table.",
        )


def load_root(data: bytes) -> bytes:
    """A trust root given as PEM or DER, returned as DER."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(data).public_bytes(Encoding.DER)
    except ValueError as exc:
        raise KioskError(
            "The MDS trust root is not an X.509 certificate.",
            title="MDS trust root unusable",
            next_step="Give the root certificate as a PEM or DER file.",
        ) from exc


def fido_mds_root() -> bytes:
    """FIDO's MDS root (GlobalSign Root CA - R3) from the certifi bundle, as DER."""
    import certifi

    text = Path(certifi.where()).read_text(encoding="ascii", errors="replace")
    # The bundle labels each certificate; parse only the one we want, and check its subject.
    _, found, rest = text.partition(f'# Label: "{FIDO_MDS_ROOT_LABEL}"')
    end = "-----END CERTIFICATE-----"
    if found and end in rest:
        pem = rest[: rest.index(end) + len(end)]
        cert = x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN") :].encode())
        units = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        if any(unit.value == FIDO_MDS_ROOT_LABEL for unit in units):
            return cert.public_bytes(Encoding.DER)
    raise KioskError(
        f"The CA bundle has no {FIDO_MDS_ROOT_LABEL} certificate.",
        title="MDS trust root missing",
        next_step="Update the certifi package, or give the root certificate explicitly.",
    )


@dataclass(frozen=True)
class MdsEntry:
    aaguid: str
    description: str
    status: str | None
    """The latest status report, e.g. ``FIDO_CERTIFIED_L1`` or ``REVOKED``."""

    @property
    def revoked(self) -> bool:
        return self.status == "REVOKED"


class MdsCatalog:
    """A verified MDS3 blob, indexed by AAGUID."""

    def __init__(self, payload: MetadataBlobPayload, source: str = "<memory>") -> None:
        self.source = source
        self.number = payload.no
        self.next_update: date = payload.next_update
        self._entries: dict[str, MdsEntry] = {}
        for entry in payload.entries:
            parsed = _entry(entry)
            if parsed is not None:
                self._entries[parsed.aaguid] = parsed

    @classmethod
    def from_bytes(
        cls, blob: bytes, trust_root: bytes | None = None, source: str = "<memory>"
    ) -> MdsCatalog:
        """Parse and signature-check a blob; :class:`MdsError` if it does not verify."""
        root = fido_mds_root() if trust_root is None else load_root(trust_root)
        try:
            payload = parse_blob(blob.strip(), root)
        except (InvalidSignature, CryptoInvalidSignature) as exc:
            raise MdsError(
                source, "the signature does not verify (tampered or wrong root)."
            ) from exc
        except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
            raise MdsError(source, "this is not an MDS3 blob.") from exc
        return cls(payload, source)

    @classmethod
    def load(cls, path: str | Path, trust_root: bytes | None = None) -> MdsCatalog:
        p = Path(path)
        try:
            blob = p.read_bytes()
        except FileNotFoundError as exc:
            raise MdsError(str(p), "the file does not exist.") from exc
        except OSError as exc:
            raise MdsError(str(p), f"the file cannot be read ({exc.strerror}).") from exc
        return cls.from_bytes(blob, trust_root, source=str(p))

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, aaguid: str) -> MdsEntry | None:
        return self._entries.get(aaguid.lower())

    def model(self, aaguid: str) -> str | None:
        found = self.entry(aaguid)
        return found.description if found else None

    def days_until_update(self, today: date) -> int:
        return (self.next_update - today).days

    def is_stale(self, today: date) -> bool:
        """FIDO publishes a new blob by ``nextUpdate``; after it this one is out of date."""
        return today > self.next_update

    def freshness(self, today: date) -> str:
        """One line for ``kiosk check``."""
        days = self.days_until_update(today)
        when = self.next_update.isoformat()
        head = f"MDS blob #{self.number} ({len(self)} models)"
        if days < 0:
            return f"{head} is out of date: its next update was due {when} ({-days} days ago)"
        return f"{head} is current: next update due {when} (in {days} days)"


def _entry(entry: MetadataBlobPayloadEntry) -> MdsEntry | None:
    if entry.aaguid is None:
        return None  # U2F (by key identifier) or UAF entries: not FIDO2
    aaguid = str(uuid.UUID(bytes=bytes(entry.aaguid)))
    statement = entry.metadata_statement
    description = statement.description if statement else ""
    status = None
    if entry.status_reports:
        latest = max(entry.status_reports, key=lambda r: r.effective_date or date.min)
        status = str(latest.status.value)
    return MdsEntry(aaguid=aaguid, description=description, status=status)
