"""The journal and the inventory: what a crash-recovery needs is durably there."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.errors import KioskError
from kiosk.model.keys import CreatedCredential, KeyInfo
from kiosk.model.steps import Step
from kiosk.model.timing import Timing
from kiosk.store import Store
from kiosk.store.migrations import LATEST, MIGRATIONS
from kiosk.store.queue import NewUser
from tests.fixtures.postgres import Backend

INFO = KeyInfo(
    path="virtual:1",
    aaguid="ee882879-721c-4913-9775-3dfcce97072a",
    model="YubiKey 5 NFC",
    firmware="5.7.1",
    serial="31400001",
    versions=("FIDO_2_0", "FIDO_2_1"),
)
CRED = CreatedCredential(
    credential_id=b"\x01\xfe\xff" * 10,
    client_data_json=b'{"type":"webauthn.create"}',
    attestation_object=b"\xa3cfmtfpacked",
    aaguid=INFO.aaguid,
    attestation_format="packed",
)


OPTIONS_CALL = Timing(
    "GET",
    "/v1.0/users/id-a/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=60)",
    200, "rid-1", "crid-1", 51.25, 1,
)


def test_a_schema_1_journal_is_upgraded_and_keeps_its_open_attempt(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "old.db")
    raw.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    raw.execute(
        "INSERT INTO enrollments (entry_id, user_id, upn, step, credential_id, started, updated)"
        " VALUES (1, 'id-a', 'a@contoso.test', 'credential created', 'AQ', 'now', 'now')"
    )
    raw.commit()
    raw.close()
    s = Store(tmp_path / "old.db")
    (open_,) = s.journal.open_attempts()
    assert open_.step is Step.CREDENTIAL_CREATED and open_.graph_calls == ()
    s.close()


def test_attempt_journal_roundtrip_across_reopen(backend: Backend) -> None:
    s = backend.open()
    s.queue.add([NewUser("a@contoso.test", "id-a", "A")])
    (entry,) = s.queue.upcoming(1)
    eid = s.journal.start(entry.entry_id, entry.user_id, entry.upn, "op1")
    assert s.queue.get(entry.entry_id).status == "active"  # type: ignore[union-attr]
    s.journal.key(eid, INFO)
    s.journal.step(eid, Step.PIN_SET)
    expires = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=5)
    s.journal.credential(
        eid, CRED, challenge_expires=expires, display_name="YubiKey 5 31400001",
        escrow_file="/x/1.cms", graph_calls=[OPTIONS_CALL],
    )
    s.close()

    again = backend.open()
    (open_,) = again.journal.open_attempts()
    assert open_.step is Step.CREDENTIAL_CREATED
    assert (open_.serial, open_.operator, open_.escrow_file) == ("31400001", "op1", "/x/1.cms")
    assert open_.challenge_expires == expires
    assert open_.credential() == CRED
    assert open_.graph_calls == (OPTIONS_CALL,)  # a restart audits the options fetch too
    assert again.journal.serial_busy("31400001") == open_
    again.journal.step(open_.id, Step.REGISTERED, method_id="m-1")
    again.journal.finish(open_.id, "done")
    assert again.journal.open_attempts() == []
    assert again.journal.get(open_.id).method_id == "m-1"  # type: ignore[union-attr]


def test_complete_counts_the_key_once_in_the_same_transaction(backend: Backend) -> None:
    s = backend.open()
    s.queue.add([NewUser("a@contoso.test", "id-a", "A")], keys_wanted=2)
    (entry,) = s.queue.upcoming(1)
    first = s.journal.start(entry.entry_id, entry.user_id, entry.upn, None)
    s.journal.complete(first)
    s.journal.complete(first)  # a second call (recovery) changes nothing
    assert s.queue.get(entry.entry_id).keys_done == 1  # type: ignore[union-attr]
    assert s.queue.get(entry.entry_id).status == "active"  # type: ignore[union-attr]
    second = s.journal.start(entry.entry_id, entry.user_id, entry.upn, None)
    s.journal.complete(second)
    assert s.queue.get(entry.entry_id).status == "done"  # type: ignore[union-attr]
    assert [e.state for e in s.journal.for_entry(entry.entry_id)] == ["done", "done"]


def test_step_refuses_unknown_fields(backend: Backend) -> None:
    s = backend.open()
    with pytest.raises(ValueError, match="not journal fields"):
        s.journal.step(1, Step.PIN_SET, pin="123456")


def test_inventory_records_and_moves_keys(backend: Backend) -> None:
    s = backend.open()
    s.inventory.record(serial="1", aaguid="a", model="m", firmware="5.7.1", user_id="u1",
                       upn="a@x", method_id="m1")
    s.inventory.record(serial="1", aaguid="a", model="m", firmware="5.7.1", user_id="u2",
                       upn="b@x", method_id="m2")
    assert s.inventory.count() == 1
    assert s.inventory.get("1").upn == "b@x"  # type: ignore[union-attr]
    assert s.inventory.get("2") is None


def test_a_version_2_database_loses_its_events_table_and_keeps_its_queue(
    tmp_path: Path,
) -> None:
    raw = sqlite3.connect(tmp_path / "k.db")
    raw.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version = 2;")
    raw.execute(
        "INSERT INTO queue (position, upn, user_id, updated) VALUES (1, 'a@x', 'u1', 'now')"
    )
    raw.execute("INSERT INTO events (time, kind) VALUES ('now', 'import')")
    raw.commit()
    raw.close()
    s = Store(tmp_path / "k.db")
    tables = {r["name"] for r in s.db.query("SELECT name FROM sqlite_master")}
    assert "events" not in tables and "events_entry" not in tables
    assert s.queue.find("a@x") is not None


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "k.db")
    raw.execute(f"PRAGMA user_version = {LATEST + 1}")
    raw.close()
    with pytest.raises(KioskError, match="newer"):
        Store(tmp_path / "k.db")


def test_failed_migration_leaves_old_version(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "k.db")
    raw.execute("CREATE TABLE queue (x INTEGER)")  # clashes with migration 1
    raw.close()
    with pytest.raises(KioskError):
        Store(tmp_path / "k.db")
    raw = sqlite3.connect(tmp_path / "k.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'enrollments'").fetchall() == []
