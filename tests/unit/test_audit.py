"""The audit trail: chained, fsynced, allow-listed; `kiosk audit verify` names tampering."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.audit import AuditTrail, verify
from kiosk.audit_chain import GENESIS, AuditFieldError, line_hash
from kiosk.cli import main
from kiosk.model.keys import KeyInfo

KEY = KeyInfo(
    path="virtual:1",
    aaguid="cb69481e-8ff7-4039-93ec-0a2729a154a8",
    model="YubiKey 5 NFC",
    firmware="5.4.3",
    serial="12345678",
    versions=("FIDO_2_0", "FIDO_2_1"),
)


def _trail(path: Path, n: int = 6) -> list[bytes]:
    with AuditTrail(path) as trail:
        for i in range(1, n + 1):
            trail.append(
                "enrolled",
                operator="olga",
                upn=f"user{i}@contoso.com",
                user_id=f"id-{i}",
                key=KEY,
                method_id=f"method-{i}",
                credential_id=bytes([i]) * 16,
                graph_request_ids=[f"req-{i}"],
                timings_ms={"make_credential": 300.0, "register": 210.5},
            )
    return path.read_bytes().splitlines()


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _cli(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", str(path)])
    return code, capsys.readouterr().out


def test_records_chain_and_carry_who_whom_which_key(tmp_path: Path) -> None:
    lines = _trail(tmp_path / "audit.jsonl", 3)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == line_hash(lines[0])
    assert records[2]["prev"] == line_hash(lines[1])
    first = records[0]
    assert first["operator"] == "olga" and first["upn"] == "user1@contoso.com"
    assert first["key"] == {
        "serial": "12345678",
        "aaguid": KEY.aaguid,
        "model": "YubiKey 5 NFC",
        "firmware": "5.4.3",
    }
    assert first["credential"]["method_id"] == "method-1"
    assert len(first["credential"]["credential_id_sha256"]) == 64
    assert first["time"].endswith("Z")


def test_verify_cli_accepts_an_intact_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path)
    code, out = _cli(path, capsys)
    assert code == 0
    assert "OK" in out and "6 records" in out and line_hash(lines[-1]) in out


def test_verify_cli_names_an_edited_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path)
    lines[2] = lines[2].replace(b"user3@contoso.com", b"mallory@contoso.com")
    _write(path, lines)
    code, out = _cli(path, capsys)
    assert code == 1
    assert "FAILED" in out
    assert "line 3 (seq 3): edited" in out


def test_verify_cli_names_a_deleted_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path)
    del lines[3]  # seq 4
    _write(path, lines)
    code, out = _cli(path, capsys)
    assert code == 1
    assert "line 4 (seq 5)" in out and "seq 4 before it were removed" in out


def test_verify_cli_names_reordered_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path)
    lines[1], lines[2] = lines[2], lines[1]
    _write(path, lines)
    code, out = _cli(path, capsys)
    assert code == 1
    assert "line 2 (seq 3)" in out and "line 3 (seq 2)" in out and "reordered" in out


def test_verify_runs_as_a_real_command(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path, 3)
    _write(path, lines[1:])  # the first record is gone
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "audit", "verify", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 1, out.stderr
    assert "line 1 (seq 2)" in out.stdout and "seq 1 before it were removed" in out.stdout


def test_verify_reads_the_path_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    _trail(path, 2)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[store]\naudit_path = "{path}"\n')
    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert "2 records" in capsys.readouterr().out


def test_a_removed_tail_is_caught_against_the_journal_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path, 4)
    _write(path, lines[:-1])
    report = verify(path, expected_head=line_hash(lines[-1]))
    assert not report.ok
    assert "line 3 (seq 3)" in report.problems[0]
    assert verify(path, expected_head=line_hash(lines[-2])).ok


def test_the_chain_resumes_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _trail(path, 2)
    with AuditTrail(path) as trail:
        assert trail.seq == 2
        trail.append("key pulled", upn="user3@contoso.com")
    report = verify(path)
    assert report.ok and report.records == 3


def test_a_torn_tail_is_cut_off_kept_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _trail(path, 3)
    torn = b'{"seq":4,"time":"2026-11-22T00:00:00Z","prev":"ab'
    path.write_bytes(path.read_bytes() + torn)
    assert not verify(path).ok  # found before repair, never chained over silently
    with AuditTrail(path) as trail:
        assert trail.repaired is not None and trail.repaired["bytes"] == len(torn)
        kept = tmp_path / trail.repaired["kept_in"]
    assert kept.read_bytes() == torn
    records = [json.loads(x) for x in path.read_bytes().splitlines()]
    assert records[-1]["event"] == "torn tail repaired"
    assert records[-1]["seq"] == 4 and records[-1]["prev"] == line_hash(lines[-1])
    assert verify(path).ok


def test_a_tail_missing_only_its_newline_is_completed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _trail(path, 2)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with AuditTrail(path) as trail:
        assert trail.repaired is None
        trail.append("next")
    assert verify(path).ok and verify(path).records == 3


@pytest.mark.parametrize(
    "fields",
    [
        {"pin": "48261937"},
        {"client_secret": "x"},
        {"key": {"serial": "1", "pin": "1234"}},
        {"timings_ms": {"pin": 48261937}},
        {"upn": object()},
    ],
)
def test_unknown_fields_and_values_are_refused(tmp_path: Path, fields: dict[str, object]) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        with pytest.raises(AuditFieldError):
            trail.write("enrolled", fields)
        trail.append("enrolled", reason="The key refused the PIN: too short")
    assert len(path.read_bytes().splitlines()) == 1  # the refused record left no trace


@pytest.mark.parametrize(
    ("fields", "secret", "where"),
    [
        ({"reason": "set PIN: 48261937"}, "48261937", "reason"),
        ({"detail": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345"},
         "abcdefghijklmnopqrstuvwxyz012345", "detail"),
        ({"detail": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.sig"}, "eyJhbGciOiJSUzI1NiJ9",
         "detail"),
        ({"key": {"serial": "PIN: 11111111", "model": "YubiKey"}}, "11111111", "key.serial"),
        ({"display_name": "Eve", "source": ["a", "pin=99887766"]}, "99887766", "source[1]"),
    ],
)
def test_secret_looking_text_is_written_hashed_and_flagged(
    tmp_path: Path, fields: dict[str, object], secret: str, where: str
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        record = trail.write("enrolled", fields)
    text = path.read_text()
    assert secret not in text
    assert record["flagged"] == [where]
    written = json.loads(text.splitlines()[0])
    assert written["flagged"] == [where] and "sha256:" in text
    assert verify(path).ok


def test_a_pin_object_cannot_be_written(tmp_path: Path) -> None:
    from kiosk.enroll.pins import Pin

    with AuditTrail(tmp_path / "a.jsonl") as trail, pytest.raises(AuditFieldError):
        trail.append("enrolled", detail=Pin("48261937"))


def test_records_go_to_the_system_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kiosk.audit")
    with AuditTrail(tmp_path / "a.jsonl") as trail:
        trail.append("enrolled", upn="a@contoso.com")
        head = trail.head
    assert any("a@contoso.com" in r.getMessage() and head in r.getMessage() for r in caplog.records)


def test_threads_and_two_writers_never_break_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    one, two = AuditTrail(path), AuditTrail(path)

    def work(trail: AuditTrail, name: str) -> None:
        for i in range(40):
            trail.append("step", upn=f"{name}{i}@contoso.com")

    threads = [threading.Thread(target=work, args=(t, f"t{k}")) for k, t in
               enumerate([one, one, two, two])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    one.close()
    two.close()
    report = verify(path)
    assert report.ok, report.problems
    assert report.records == 160


def test_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    AuditTrail(path).close()
    assert path.stat().st_mode & 0o077 == 0


def test_a_half_written_record_is_cut_off_and_recorded_before_the_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.append("enrolled", upn="a@contoso.com")
        with path.open("ab") as other:  # what a write cut short by a full disk leaves behind
            other.write(b'{"seq":2,"time":"2026-11-22T')
        record = trail.append("enrolled", upn="b@contoso.com")
        assert trail.repaired is not None and trail.repaired["bytes"] == 28
    events = [json.loads(x)["event"] for x in path.read_bytes().splitlines()]
    assert events == ["enrolled", "torn tail repaired", "enrolled"]
    assert record["seq"] == 3
    assert verify(path).ok


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_failed_write_is_an_operator_facing_error() -> None:
    from kiosk.audit_chain import AuditError

    with AuditTrail("/dev/full") as trail, pytest.raises(AuditError) as err:
        trail.append("enrolled", upn="a@contoso.com")
    assert "could not be written" in err.value.detail
    assert "Stop enrolling" in err.value.next_step
