"""Station names come from the shared database, where any station (or anyone who can write
there) puts them: `kiosk fleet status` shows them cleaned, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.audit import AuditTrail
from kiosk.cli import main
from kiosk.store.queue import NewUser
from kiosk.store.station_counts import station_counts
from tests.fixtures.postgres import Backend

HOSTILE = "st\x1b]0;owned\x07\x1b[2J\u202eA\x9b31m" + "x" * 5000


def _config(tmp: Path, backend: Backend) -> Path:
    path = tmp / "admin.toml"
    if backend.server is None:
        path.write_text(f'[store]\npath = "{backend.target}"\naudit_path = "{tmp}/audit.jsonl"\n')
        return path
    path.write_text(
        "[store]\n"
        f'url = "{backend.target}"\n'
        f'password_file = "{backend.server.password_file}"\n'
        'station = "admin"\n'
        f'audit_path = "{tmp}/audit.jsonl"\n'
        f'path = "{tmp}/admin.db"\n'
    )
    return path


def test_fleet_status_lists_a_hostile_station_name_cleaned(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = backend.open(station=HOSTILE)
    store.queue.add([NewUser("ann@contoso.test", "id-ann", "Ann")])
    entry = store.queue.upcoming(1)[0]  # the look at the queue registers the station
    attempt = store.journal.start(entry.entry_id, entry.user_id, entry.upn, "op\x1b[31m")
    store.journal.complete(attempt)
    config = _config(tmp_path, backend)
    capsys.readouterr()
    assert main(["fleet", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out and "\x07" not in out
    assert "st]0;owned[2JA31mxxx" in out and "op[31m" in out
    assert max(len(line) for line in out.splitlines()) < 200
    assert main(["fleet", "status", "--json", "--config", str(config)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["stations"]
    assert listed["name"].startswith("st]0;owned[2JA31mxxx") and len(listed["name"]) <= 64
    (counted,) = station_counts(store.db)  # the batch summary's lines by station
    assert counted.name == listed["name"] and counted.done == 1


@pytest.mark.slow
@pytest.mark.fleet
def test_fleet_audit_verify_names_a_hostile_station_cleaned(
    pg_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = pg_backend.open(station=HOSTILE)
    with AuditTrail(tmp_path / "hostile-audit.jsonl") as trail:
        trail.mirror = store.trail.put
        trail.append("enrolled", upn="ann@contoso.test", operator="op")
    with AuditTrail(tmp_path / "audit.jsonl") as mine:  # the admin's own trail
        mine.append("enrolled", upn="bob@contoso.test", operator="op")
    capsys.readouterr()
    assert main(["audit", "verify", "--fleet", "--config",
                 str(_config(tmp_path, pg_backend))]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out and "\x07" not in out
    assert "fleet station st]0;owned[2JA31mxxx" in out and "OK, 1 records" in out
    assert max(len(line) for line in out.splitlines()) < 200
