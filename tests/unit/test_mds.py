"""The FIDO MDS3 blob: verified against a trusted root, tampering refused, freshness reported."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.keys.mds import MdsCatalog, MdsError, fido_mds_root
from tests.unit.mds_blob import MdsSigner, entry, payload

YK5 = "ee882879-721c-4913-9775-3dfcce97072a"
OTHER = "2fc0579f-8113-47ea-b116-bb5a8db9202a"


@pytest.fixture(scope="module")
def signer() -> MdsSigner:
    return MdsSigner.create()


@pytest.fixture(scope="module")
def blob(signer: MdsSigner) -> bytes:
    return signer.sign(
        payload(
            [
                entry(YK5, "YubiKey 5 Series with NFC (from MDS)"),
                entry(OTHER, "A revoked key", status="REVOKED"),
            ],
            next_update="2026-12-01",
        )
    )


def test_signed_blob_names_models_by_aaguid(signer: MdsSigner, blob: bytes) -> None:
    catalog = MdsCatalog.from_bytes(blob, signer.root_der)
    assert len(catalog) == 2
    assert catalog.model(YK5) == "YubiKey 5 Series with NFC (from MDS)"
    assert catalog.model(YK5.upper()) == "YubiKey 5 Series with NFC (from MDS)"
    assert catalog.model("00000000-0000-0000-0000-000000000000") is None
    revoked = catalog.entry(OTHER)
    assert revoked is not None and revoked.revoked
    assert catalog.entry(YK5) is not None and not catalog.entry(YK5).revoked  # type: ignore[union-attr]


def test_root_given_as_pem_works_too(signer: MdsSigner, blob: bytes) -> None:
    pem = x509.load_der_x509_certificate(signer.root_der).public_bytes(Encoding.PEM)
    assert MdsCatalog.from_bytes(blob, pem).model(YK5) is not None


def test_tampered_payload_is_refused(signer: MdsSigner, blob: bytes) -> None:
    header, body, signature = blob.split(b".")
    data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
    data["entries"][0]["metadataStatement"]["description"] = "Evil Key"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    with pytest.raises(MdsError) as caught:
        MdsCatalog.from_bytes(header + b"." + forged + b"." + signature, signer.root_der)
    assert "signature" in caught.value.detail
    assert "mds3.fidoalliance.org" in caught.value.next_step


def test_blob_signed_under_another_root_is_refused(blob: bytes) -> None:
    stranger = MdsSigner.create("Stranger")
    with pytest.raises(MdsError, match="signature"):
        MdsCatalog.from_bytes(blob, stranger.root_der)


def test_blob_checked_against_fidos_root_by_default(blob: bytes) -> None:
    # Our test signer is not FIDO: with the default root (GlobalSign R3) the blob must fail.
    root = x509.load_der_x509_certificate(fido_mds_root())
    assert "GlobalSign Root CA - R3" in root.subject.rfc4514_string()
    with pytest.raises(MdsError, match="signature"):
        MdsCatalog.from_bytes(blob)


def test_garbage_file_is_not_a_blob(tmp_path: Path, signer: MdsSigner) -> None:
    path = tmp_path / "mds3.jwt"
    path.write_bytes(b"<html>captive portal</html>")
    with pytest.raises(MdsError, match="not an MDS3 blob") as caught:
        MdsCatalog.load(path, signer.root_der)
    assert str(path) in caught.value.detail


def test_missing_file_says_so(tmp_path: Path, signer: MdsSigner) -> None:
    with pytest.raises(MdsError, match="does not exist"):
        MdsCatalog.load(tmp_path / "absent.jwt", signer.root_der)


def test_freshness_from_next_update(tmp_path: Path, signer: MdsSigner, blob: bytes) -> None:
    path = tmp_path / "mds3.jwt"
    path.write_bytes(blob + b"\n")
    catalog = MdsCatalog.load(path, signer.root_der)
    assert catalog.next_update == date(2026, 12, 1)
    assert catalog.number == 42
    assert not catalog.is_stale(date(2026, 11, 22))
    assert catalog.days_until_update(date(2026, 11, 22)) == 9
    assert "current" in catalog.freshness(date(2026, 11, 22))
    assert catalog.is_stale(date(2026, 12, 5))
    line = catalog.freshness(date(2026, 12, 5))
    assert "out of date" in line and "4 days ago" in line
