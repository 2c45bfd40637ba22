"""What the fleet shares besides the queue: sealed PINs (central escrow), the audit trail of
every station, the line's status and an admin's release; driven through `kiosk` commands."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import x509util
from kiosk.audit import AuditTrail
from kiosk.cli import main
from kiosk.enroll.escrow import EscrowStore, load_recipients, seal
from kiosk.enroll.pins import Pin
from kiosk.model.keys import KeyInfo
from kiosk.store import Store
from kiosk.store.queue import NewUser
from tests.fixtures.pgserver import PgServer
from tests.fixtures.postgres import Backend

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
NOW = datetime.now(UTC)


def _config(tmp: Path, backend: Backend, station: str) -> Path:
    assert backend.server is not None
    path = tmp / f"{station}.toml"
    path.write_text(
        "[store]\n"
        f'url = "{backend.target}"\n'
        f'password_file = "{backend.server.password_file}"\n'
        f'station = "{station}"\n'
        f'audit_path = "{tmp / station}-audit.jsonl"\n'
        f'path = "{tmp / station}.db"\n'
    )
    return path


def _helpdesk(tmp: Path) -> tuple[Path, Path]:
    key = x509util.rsa_key()
    cert = x509util.certificate(
        x509util.name("Helpdesk"), key, not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
        extensions=[(x509util.key_usage(key_encipherment=True), True)],
    )
    return x509util.write_pair(cert, key, tmp / "helpdesk.pem", tmp / "helpdesk.key")


def test_a_pin_sealed_at_one_station_is_retrieved_anywhere_and_audited(
    pg_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = pg_backend.open(station="A")
    a.queue.add([NewUser("Ann@contoso.test", "id-ann", "Ann")])
    entry = a.queue.upcoming(1)[0]
    cert, key = _helpdesk(tmp_path)
    blob = seal(Pin("58294713"), entry.upn, "31400001", load_recipients([cert]))
    EscrowStore(tmp_path / "escrow-a", central=a.sealed.put).write(entry.entry_id, "31400001", blob)
    config = _config(tmp_path, pg_backend, "B")
    out = tmp_path / "out"
    assert main(["escrow", "get", "--upn", "ann@CONTOSO.test", "--out", str(out),
                 "--config", str(config)]) == 0
    (written,) = out.iterdir()
    assert written.stat().st_mode & 0o777 == 0o600
    opened = subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(written),
         "-recip", str(cert), "-inkey", str(key)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert "PIN: 58294713" in opened.stdout and "Ann@contoso.test" in opened.stdout
    assert main(["escrow", "get", "--serial", "31400001", "--out", str(out / "again"),
                 "--config", str(config)]) == 0
    assert main(["escrow", "get", "--serial", "99", "--config", str(config)]) == 1
    records = [json.loads(x) for x in (tmp_path / "B-audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == [
        "escrow retrieved", "escrow retrieved", "escrow not found"
    ]
    assert records[0]["upn"] == "Ann@contoso.test" and records[0]["key"]["serial"] == "31400001"
    assert "58294713" not in (tmp_path / "B-audit.jsonl").read_text()
    assert records[2]["key"] == {"serial": "99"}
    assert a.trail.last_seq("B") == 3  # the retrievals and the lookup are in the fleet's copy
    capsys.readouterr()


def test_fleet_audit_verify_checks_every_station_and_names_a_changed_record(
    pg_backend: Backend, pg_server: PgServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for station in ("A", "B"):
        store = pg_backend.open(station=station)
        with AuditTrail(tmp_path / f"{station}-audit.jsonl") as trail:
            trail.mirror = store.trail.put
            for i in range(3):
                trail.append("enrolled", upn=f"u{i}@contoso.test", operator=station)
    config = _config(tmp_path, pg_backend, "A")
    assert main(["audit", "verify", "--fleet", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "fleet station A: OK, 3 records" in out and "fleet station B: OK, 3 records" in out
    pg_server.admin_sql(
        "UPDATE audit_records SET line = replace(line, 'u1@', 'mallory@')"
        " WHERE station = 'B' AND seq = 2", pg_backend.dbname,
    )
    pg_server.admin_sql(
        "UPDATE audit_records SET line = replace(line, 'u0@', 'eve@')"
        " WHERE station = 'A' AND seq = 1", pg_backend.dbname,
    )
    assert main(["audit", "verify", "--fleet", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "fleet station B: FAILED" in out and "fleet station A: FAILED" in out
    assert "differs from this station's file" in out


def test_fleet_status_shows_each_station_and_the_time_to_finish(
    pg_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pg_backend.open(station="A"), pg_backend.open(station="B")
    a.queue.add([NewUser(f"u{i}@contoso.test", f"id-{i}", "") for i in range(10)])
    for store in (a, b):
        for _ in range(2):
            entry = store.queue.upcoming(1)[0]
            attempt = store.journal.start(entry.entry_id, entry.user_id, entry.upn, "op")
            store.journal.complete(attempt)
    entry = a.queue.upcoming(1)[0]
    a.journal.start(entry.entry_id, entry.user_id, entry.upn, "olga")
    config = _config(tmp_path, pg_backend, "C")
    assert main(["fleet", "status", "--json", "--config", str(config)]) == 0
    st = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in st["stations"]}
    assert by_name["A"]["online"] and by_name["A"]["current_upn"] == entry.upn
    assert by_name["A"]["operator"] == "olga" and by_name["B"]["keys_last_hour"] == 2
    assert st["left"] == 6 and st["keys_last_hour"] == 4
    assert st["finish_in_minutes"] == 90.0  # 6 users at 4 keys an hour


def test_an_admin_releases_a_stuck_user_naming_the_key(
    pg_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a: Store = pg_backend.open(station="A")
    a.queue.add([NewUser("stuck@contoso.test", "id-s", "")])
    entry = a.queue.upcoming(1)[0]
    attempt = a.journal.start(entry.entry_id, entry.user_id, entry.upn, "op")
    a.journal.key(attempt, KeyInfo(path="v", aaguid="x", model="m", firmware="5",
                                   serial="31400009", versions=("FIDO_2_1",)))
    config = _config(tmp_path, pg_backend, "admin")
    assert main(["fleet", "release", "--upn", "stuck@contoso.test", "--config", str(config)]) == 2
    assert "31400009" in capsys.readouterr().err
    assert main(["fleet", "release", "--upn", "stuck@contoso.test", "--serial", "31400009",
                 "--config", str(config)]) == 0
    assert "was held by station A" in capsys.readouterr().out
    assert a.queue.get(entry.entry_id).status == "pending"  # type: ignore[union-attr]
    (record,) = [json.loads(x) for x in (tmp_path / "admin-audit.jsonl").read_text().splitlines()]
    assert record["event"] == "user released" and record["key"]["serial"] == "31400009"
