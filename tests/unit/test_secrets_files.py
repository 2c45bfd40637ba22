"""Who can read what the kiosk writes, and which secret files it refuses to read.

Everything the kiosk writes is private to its user even when it runs with umask 022 (an admin
command from a shell): the SQLite database with its -wal and -shm files, the audit trail, the
sealed-PIN directory and files. Secret files (private key, PFX, PFX passphrase, client secret,
systemd credentials) are refused when anyone but the kiosk user can read them, with the chmod
that fixes it and never their content; a systemd credential, which systemd makes readable to
the service through a POSIX ACL (mode shows 0440), is accepted.
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from kiosk.audit import AuditTrail
from kiosk.config import TenantSettings
from kiosk.enroll.escrow import EscrowStore
from kiosk.entra.secrets import CREDENTIAL_NAMES, CertificateCredential, load_credential
from kiosk.errors import SecretFileError
from kiosk.store import Store
from kiosk.store.queue import NewUser
from kiosk.store.sqlite import SqliteDatabase as Database

PASSPHRASE = "pfx-passphrase-7f3a9c"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


# ---- what the kiosk writes ------------------------------------------------------------------
def test_database_and_its_wal_are_private_whatever_the_umask(
    tmp_path: Path, loose_umask: None
) -> None:
    path = tmp_path / "state" / "kiosk.db"
    store = Store(path)
    try:
        store.queue.add([NewUser("a@contoso.com", "u1", "A")])
        files = [path, path.with_name("kiosk.db-wal"), path.with_name("kiosk.db-shm")]
        assert all(p.exists() for p in files)
        assert [mode(p) for p in files] == [0o600, 0o600, 0o600]
        assert mode(path.parent) == 0o700  # made by the kiosk: private too
    finally:
        store.close()


def test_a_database_left_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    path.touch()
    path.chmod(0o644)
    Database(path).close()
    assert mode(path) == 0o600


def test_audit_trail_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    try:
        trail.write("kiosk_started", {"operator": "tester"})
    finally:
        trail.close()
    assert mode(tmp_path / "audit.jsonl") == 0o600


def test_sealed_pin_directory_is_private_even_if_it_was_not(
    tmp_path: Path, loose_umask: None
) -> None:
    directory = tmp_path / "escrow"
    directory.mkdir(mode=0o755)
    path = EscrowStore(directory).write(1, "41000001", b"\x30\x80sealed")
    assert mode(path) == 0o600
    assert mode(directory) == 0o700  # others may not even list whose PINs are sealed


def test_a_kiosk_command_run_from_a_shell_writes_nothing_others_can_read(
    tmp_path: Path,
) -> None:
    """`kiosk demo --headless` under umask 022: every file and directory it made is private
    (the CLI sets umask 0077 as the service's UMask= does)."""
    state = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "1",
         "--state-dir", str(state)],
        capture_output=True, text=True, timeout=180, check=False,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    open_to_others = [
        f"{p.relative_to(state)} {mode(p):04o}"
        for p in state.rglob("*")
        if mode(p) & 0o077 and not p.is_symlink()
    ]
    assert open_to_others == []
    assert (state / "kiosk.db").exists() and (state / "escrow").is_dir()


# ---- secret files the kiosk reads -------------------------------------------------------------
def _pfx(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-app")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    pfx = tmp_path / "kiosk.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"kiosk", key, cert, None,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ))
    passphrase = tmp_path / "pfx-pass"
    passphrase.write_text(PASSPHRASE + "\n")
    pfx.chmod(0o600)
    passphrase.chmod(0o600)
    return pfx, passphrase


@pytest.mark.parametrize("loose", ["pfx", "passphrase"])
@pytest.mark.parametrize("bits", [0o640, 0o604])
def test_a_pfx_or_its_passphrase_readable_by_others_is_refused(
    tmp_path: Path, loose: str, bits: int
) -> None:
    pfx, passphrase = _pfx(tmp_path)
    tenant = TenantSettings(pfx_file=str(pfx), pfx_passphrase_file=str(passphrase))
    assert isinstance(load_credential(tenant, env={}), CertificateCredential)
    target = pfx if loose == "pfx" else passphrase
    target.chmod(bits)
    with pytest.raises(SecretFileError) as info:
        load_credential(tenant, env={})
    text = str(info.value)
    assert str(target) in text and f"chmod 600 {target}" in info.value.next_step
    assert PASSPHRASE not in text and PASSPHRASE not in repr(info.value)


def test_a_wrong_passphrase_is_named_but_never_shown(tmp_path: Path) -> None:
    pfx, passphrase = _pfx(tmp_path)
    passphrase.write_text("not-the-passphrase-9d2e\n")
    with pytest.raises(SecretFileError) as info:
        load_credential(
            TenantSettings(pfx_file=str(pfx), pfx_passphrase_file=str(passphrase)), env={}
        )
    assert "passphrase is wrong" in str(info.value)
    assert "not-the-passphrase-9d2e" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def _credentials_dir(tmp_path: Path, secret: str) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir(mode=0o700)
    path = directory / CREDENTIAL_NAMES["client_secret"]
    path.write_text(secret)
    path.chmod(0o400)
    return directory


def test_a_systemd_credential_readable_by_group_or_others_is_refused(tmp_path: Path) -> None:
    directory = _credentials_dir(tmp_path, "cred-secret-51c0")
    (directory / CREDENTIAL_NAMES["client_secret"]).chmod(0o444)
    with pytest.raises(SecretFileError) as info:
        load_credential(TenantSettings(), env={"CREDENTIALS_DIRECTORY": str(directory)})
    assert "mode 0444" in str(info.value)
    assert "cred-secret-51c0" not in str(info.value)


def _set_acl(path: Path, *entries: tuple[int, int, int]) -> None:
    """Write a POSIX access ACL (the kernel's xattr format: version 2, then tag/perm/id)."""
    undefined = 0xFFFFFFFF
    blob = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, undefined if ident < 0 else ident)
        for tag, perm, ident in entries
    )
    try:
        os.setxattr(path, "system.posix_acl_access", blob)
    except OSError as exc:
        pytest.skip(f"no POSIX ACLs on this file system ({exc.strerror})")


USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
READ = 4


def test_a_systemd_credential_readable_through_its_acl_is_accepted(tmp_path: Path) -> None:
    """As systemd writes it: 0400, ACL user:<service user>:r--, so stat shows mode 0440."""
    directory = _credentials_dir(tmp_path, "cred-secret-51c0")
    path = directory / CREDENTIAL_NAMES["client_secret"]
    _set_acl(path, (USER_OBJ, READ, -1), (USER, READ, os.geteuid()), (GROUP_OBJ, 0, -1),
             (MASK, READ, -1), (OTHER, 0, -1))
    assert mode(path) == 0o440
    cred = load_credential(TenantSettings(), env={"CREDENTIALS_DIRECTORY": str(directory)})
    assert cred.msal_credential() == "cred-secret-51c0"


@pytest.mark.parametrize(
    "extra",
    [(USER, READ, 54321), (GROUP_OBJ, READ, -1), (GROUP, READ, 54321)],
    ids=["another user", "the owning group", "a named group"],
)
def test_an_acl_that_lets_someone_else_read_is_refused(
    tmp_path: Path, extra: tuple[int, int, int]
) -> None:
    directory = _credentials_dir(tmp_path, "cred-secret-51c0")
    path = directory / CREDENTIAL_NAMES["client_secret"]
    entries = [(USER_OBJ, READ, -1), (USER, READ, os.geteuid()), (GROUP_OBJ, 0, -1),
               (MASK, READ, -1), (OTHER, 0, -1)]
    entries = [e for e in entries if e[0] != extra[0] or extra[0] == USER] + [extra]
    entries.sort(key=lambda e: (e[0], e[2]))
    _set_acl(path, *entries)
    with pytest.raises(SecretFileError) as info:
        load_credential(TenantSettings(), env={"CREDENTIALS_DIRECTORY": str(directory)})
    assert "can be read by group or others" in str(info.value)


def test_the_service_leaves_no_core_dump_and_writes_privately() -> None:
    """A core dump of the kiosk would be a plaintext file with the private key, tokens, PINs."""
    unit = (Path(__file__).parents[2] / "systemd" / "fido-kiosk.service").read_text()
    settings = [line.strip() for line in unit.splitlines() if not line.startswith("#")]
    assert "LimitCORE=0" in settings
    assert "UMask=0077" in settings
