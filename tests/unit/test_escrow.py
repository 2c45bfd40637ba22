"""Sealed PINs: the helpdesk opens them with `openssl cms -decrypt`; bad certificates are named."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import x509util
from kiosk.enroll.escrow import EscrowStore, RecipientError, load_recipients, seal
from kiosk.enroll.pins import Pin

NOW = datetime.now(UTC)


def _helpdesk(
    tmp: Path,
    name: str,
    *,
    key_encipherment: bool = True,
    days: int = 365,
    ec_key: bool = False,
) -> tuple[Path, Path]:
    key = x509util.ec_key() if ec_key else x509util.rsa_key()
    cert = x509util.certificate(
        x509util.name(f"Helpdesk {name}"),
        key,
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=days),
        extensions=[
            (x509util.key_usage(digital_signature=True, key_encipherment=key_encipherment), True),
        ],
    )
    return x509util.write_pair(cert, key, tmp / f"{name}.pem", tmp / f"{name}.key")


@pytest.fixture(scope="module")
def helpdesks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, Path]]]:
    tmp = tmp_path_factory.mktemp("helpdesk")
    return tmp, [_helpdesk(tmp, "one"), _helpdesk(tmp, "two")]


def _openssl_decrypt(blob_path: Path, cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(blob_path),
         "-recip", str(cert), "-inkey", str(key)],
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_each_helpdesk_opens_the_sealed_pin_with_openssl(
    tmp_path: Path, helpdesks: tuple[Path, list[tuple[Path, Path]]]
) -> None:
    _, pairs = helpdesks
    recipients = load_recipients([cert for cert, _ in pairs])
    blob = seal(Pin("58294713"), "alice@contoso.com", "12345678", recipients)
    path = EscrowStore(tmp_path / "escrow").write(42, "12345678", blob)
    assert b"58294713" not in path.read_bytes()
    for cert, key in pairs:
        out = _openssl_decrypt(path, cert, key)
        assert out.returncode == 0, out.stderr
        assert "UPN: alice@contoso.com" in out.stdout
        assert "Key serial: 12345678" in out.stdout
        assert "PIN: 58294713" in out.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_a_stranger_key_cannot_open_it(
    tmp_path: Path, helpdesks: tuple[Path, list[tuple[Path, Path]]]
) -> None:
    _, pairs = helpdesks
    stranger_cert, stranger_key = _helpdesk(tmp_path, "stranger")
    blob = seal("58294713", "alice@contoso.com", "1", load_recipients([pairs[0][0]]))
    path = EscrowStore(tmp_path).write(1, "1", blob)
    out = _openssl_decrypt(path, stranger_cert, stranger_key)
    assert out.returncode != 0
    assert "58294713" not in out.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_a_flipped_bit_never_opens_to_changed_text(
    tmp_path: Path, helpdesks: tuple[Path, list[tuple[Path, Path]]]
) -> None:
    """AuthEnvelopedData with AES-GCM: a bit flipped in the encrypted PIN, its tag or its key
    fails to decrypt; a flip elsewhere (a label openssl does not need) still gives the exact
    sealed text, never an altered one. Before: AES-CBC without a MAC, a flip gave garbage
    text ("Sealed at: 2126")."""
    _, pairs = helpdesks
    cert, key = pairs[0]
    blob = seal(Pin("58294713"), "alice@contoso.com", "12345678", load_recipients([cert]))
    original = _openssl_decrypt(EscrowStore(tmp_path).write(1, "1", blob), cert, key).stdout
    assert "PIN: 58294713" in original
    sealed_part = range(len(blob) - 18 - len(original), len(blob))  # text, then the GCM tag
    refused = set()
    for i in sorted(set(sealed_part) | set(range(0, len(blob), 5))):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        path = tmp_path / "flipped.p7m"
        path.write_bytes(bytes(flipped))
        out = subprocess.run(
            ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(path),
             "-recip", str(cert), "-inkey", str(key)],
            capture_output=True, timeout=60, check=False,
        )
        if out.returncode == 0:
            assert out.stdout == original.encode(), f"byte {i}: a flip changed the sealed text"
        else:
            refused.add(i)
    assert set(sealed_part) <= refused  # every bit of the encrypted text and of its tag


def test_escrow_files_are_private_atomic_and_name_no_upn_or_pin(
    tmp_path: Path, helpdesks: tuple[Path, list[tuple[Path, Path]]]
) -> None:
    _, pairs = helpdesks
    store = EscrowStore(tmp_path / "escrow")
    blob = seal(Pin("58294713"), "alice@contoso.com", "../12 34", load_recipients([pairs[0][0]]))
    path = store.write(7, "../12 34", blob)
    assert path.parent == tmp_path / "escrow"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "escrow").stat().st_mode & 0o077 == 0
    assert "alice" not in path.name and "58294713" not in path.name
    assert [p.name for p in (tmp_path / "escrow").iterdir()] == [path.name]  # no temp file left
    assert store.files() == [path]
    assert path.read_bytes() == blob


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        ("missing", "no such file"),
        ("garbage", "not a PEM certificate"),
        ("expired", "expired on"),
        ("no_encipherment", "key encipherment"),
        ("ec", "RSA key"),
        ("with_key", "holds a private key"),
    ],
)
def test_unusable_helpdesk_certificates_are_named(tmp_path: Path, make: str, expected: str) -> None:
    path = tmp_path / "helpdesk.pem"
    if make == "garbage":
        path.write_text("hello\n")
    elif make == "expired":
        path, _ = _helpdesk(tmp_path, "old", days=-1)
    elif make == "no_encipherment":
        path, _ = _helpdesk(tmp_path, "signonly", key_encipherment=False)
    elif make == "ec":
        path, _ = _helpdesk(tmp_path, "ec", ec_key=True)
    elif make == "with_key":
        cert, key = _helpdesk(tmp_path, "both")
        path.write_bytes(cert.read_bytes() + key.read_bytes())
    with pytest.raises(RecipientError) as err:
        load_recipients([path])
    assert expected in err.value.detail
    assert str(path) in err.value.detail
    assert "escrow.recipients" in err.value.next_step


def test_no_recipients_is_an_error() -> None:
    with pytest.raises(RecipientError, match="no helpdesk certificate"):
        load_recipients([])
