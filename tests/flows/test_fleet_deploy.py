"""Deploying a fleet with least privilege: the owner migrates, stations get only the grants
`kiosk fleet grants` prints, and `kiosk check` says whether a station's role is right."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from kiosk.check import CheckContext
from kiosk.check_fleet import check_fleet
from kiosk.cli import main
from kiosk.config import Settings, StoreSettings
from kiosk.store import Store
from kiosk.store.grants import STATION, grant_sql
from kiosk.store.migrations import LATEST
from kiosk.store.queue import NewUser
from tests.fixtures.pgserver import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
_n = itertools.count()


def _ctx(url: str, password_file: Path) -> CheckContext:
    settings = dataclasses.replace(
        Settings(), store=StoreSettings(url=url, password_file=str(password_file))
    )
    return CheckContext(config_path=Path("/nonexistent"), env={}, settings=settings)


@pytest.fixture
def roles(pg_server: PgServer) -> tuple[str, str, Path, Path]:
    n = next(_n)
    owner, station = f"owner_{n}", f"station_{n}"
    owner_pw, station_pw = pg_server.new_role(owner), pg_server.new_role(station)
    return owner, station, owner_pw, station_pw


def test_owner_migrates_and_a_station_works_with_only_its_grants(
    pg_server: PgServer, roles: tuple[str, str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    owner, station, owner_pw, station_pw = roles
    owner_url = pg_server.new_database(owner=owner).replace("kiosk_station@", f"{owner}@")
    dbname = owner_url.split("/")[3].split("?")[0]
    station_url = owner_url.replace(f"{owner}@", f"{station}@")
    assert main(["fleet", "migrate", "--url", owner_url, "--password-file", str(owner_pw)]) == 0
    assert f"-> {LATEST}" in capsys.readouterr().out
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no grants yet
        Store(station_url, station="s1", password_file=str(station_pw)).queue.counts()
    assert main(["fleet", "grants", "--role", station]) == 0
    sql = capsys.readouterr().out
    assert sql.strip() == grant_sql(station)
    pg_server.admin_sql(f"SET ROLE {owner}; {sql}", dbname)

    s = Store(station_url, station="s1", password_file=str(station_pw))
    s.queue.add([NewUser("a@contoso.test", "id-a", "A")])
    entry = s.queue.upcoming(1)[0]
    attempt = s.journal.start(entry.entry_id, entry.user_id, entry.upn, "op")
    s.sealed.put(entry.entry_id, "1", b"\x30\x80sealed", datetime.now(UTC))
    s.trail.put([(1, b'{"seq":1}')])
    s.journal.complete(attempt)
    assert s.queue.counts()["done"] == 1
    for forbidden in ("SELECT * FROM escrow", "UPDATE audit_records SET line = 'x'",
                      "DELETE FROM audit_records", "DROP TABLE queue"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), s.db.tx() as conn:
            conn.execute(forbidden)
    results = {r.name: r for r in check_fleet(_ctx(station_url, station_pw))}
    assert [r.status for r in results.values()] == ["ok", "ok", "ok", "ok"], results
    assert "TLS" in results["fleet database"].detail
    owner_checks = {r.name: r for r in check_fleet(_ctx(owner_url, owner_pw))}
    assert owner_checks["fleet grants"].status == "warn"  # the owner could rewrite the trail
    s.close()


def test_check_names_a_schema_behind_and_missing_grants(
    pg_server: PgServer, roles: tuple[str, str, Path, Path]
) -> None:
    owner, station, owner_pw, station_pw = roles
    owner_url = pg_server.new_database(owner=owner).replace("kiosk_station@", f"{owner}@")
    dbname = owner_url.split("/")[3].split("?")[0]
    Store(owner_url, station="m", password_file=str(owner_pw)).close()
    pg_server.admin_sql(f"UPDATE kiosk_schema SET version = {LATEST - 1}", dbname)  # noqa: S608
    pg_server.admin_sql(f"GRANT SELECT ON kiosk_schema, queue TO {station}", dbname)
    station_url = owner_url.replace(f"{owner}@", f"{station}@")
    results = {r.name: r for r in check_fleet(_ctx(station_url, station_pw))}
    assert results["fleet schema"].status == "fail" and "kiosk fleet migrate" in (
        results["fleet schema"].fix
    )
    assert results["fleet grants"].status == "fail"
    assert "INSERT on queue" in results["fleet grants"].detail
    assert set(STATION) >= {"queue", "audit_records"}
    wrong = check_fleet(_ctx(station_url.replace(str(pg_server.ca_file), "/no/ca.crt"),
                             station_pw))
    assert wrong[0].status == "fail" and wrong[1].status == "skip"
