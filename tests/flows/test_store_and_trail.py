"""The audit trail and the database vouch for each other when the kiosk opens them: a trail cut
at its tail, emptied, rewritten, or a new empty database beside a trail is refused, said in the
trail, and named by `kiosk audit verify` by default. Real store, trail and fake tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.trail_check import MISMATCH, TrailMismatch
from kiosk.wiring import open_records
from tests.fixtures.engine import EngineRig


def _enrolled_rig(engine_rig: Callable[..., EngineRig]) -> EngineRig:
    rig = engine_rig()
    rig.add_users(2)
    rig.robot()
    rig.start()
    rig.wait_results(2)
    rig.stop()
    rig.store.close()
    rig.audit.close()
    return rig


def _reopen(rig: EngineRig) -> None:
    records = open_records(rig.settings, env={})
    records.close()


def test_a_consistent_pair_opens(engine_rig: Callable[..., EngineRig]) -> None:
    rig = _enrolled_rig(engine_rig)
    _reopen(rig)


def test_a_trail_cut_at_its_tail_is_refused_and_said_in_the_trail(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = _enrolled_rig(engine_rig)
    path = Path(rig.settings.store.audit_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    with pytest.raises(TrailMismatch, match="was cut, emptied or replaced"):
        _reopen(rig)
    last = json.loads(path.read_bytes().splitlines()[-1])
    assert last["event"] == MISMATCH and last["outcome"] == "refused"


def test_an_emptied_or_deleted_trail_is_refused(engine_rig: Callable[..., EngineRig]) -> None:
    rig = _enrolled_rig(engine_rig)
    Path(rig.settings.store.audit_path).unlink()
    with pytest.raises(TrailMismatch, match="ends at record 0"):
        _reopen(rig)


def test_a_trail_rewritten_from_the_middle_is_refused(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = _enrolled_rig(engine_rig)
    path = Path(rig.settings.store.audit_path)
    from kiosk.audit import AuditTrail

    records = path.read_bytes().splitlines(keepends=True)
    count = len(records)
    path.write_bytes(b"".join(records[:1]))
    with AuditTrail(path) as forged:  # a whole new, valid chain from record 2 on
        for i in range(count - 1):
            forged.append("step", upn=f"forged{i}@contoso.com")
    with pytest.raises(TrailMismatch, match="rewritten"):
        _reopen(rig)


def test_a_new_database_beside_an_existing_trail_is_refused(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = _enrolled_rig(engine_rig)
    db = Path(rig.settings.store.path)
    for extra in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        extra.unlink(missing_ok=True)
    db.write_bytes(b"")  # a zero-length database
    with pytest.raises(TrailMismatch, match="database was lost or replaced"):
        _reopen(rig)


def test_audit_verify_compares_with_the_database_by_default(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rig = _enrolled_rig(engine_rig)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[store]\npath = "{rig.settings.store.path}"\n'
        f'audit_path = "{rig.settings.store.audit_path}"\n'
    )
    assert main(["audit", "verify", "--config", str(config)]) == 0
    path = Path(rig.settings.store.audit_path)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    assert main(["audit", "verify", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "was cut, emptied or replaced" in out


def test_a_damaged_database_page_is_found_when_the_kiosk_opens(tmp_path: Path) -> None:
    import sqlite3

    from kiosk.store.db import StoreError
    from kiosk.store.sqlite import SqliteDatabase

    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(f"row {i} " * 20,) for i in range(2000)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096 * 5
    data[page + 100 : page + 400] = b"\xff" * 300  # a page's cells overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        SqliteDatabase(path)


def test_an_unknown_value_in_a_row_is_a_clear_error_naming_the_row(
    engine_rig: Callable[..., EngineRig],
) -> None:
    import sqlite3

    from kiosk.store.db import StoreError

    rig = _enrolled_rig(engine_rig)
    conn = sqlite3.connect(rig.settings.store.path)
    conn.execute("UPDATE queue SET status = 'teleported' WHERE id = 2")
    conn.execute("UPDATE enrollments SET step = 'warped' WHERE id = 1")
    conn.commit()
    conn.close()
    records = open_records(rig.settings, env={})
    try:
        with pytest.raises(StoreError, match="Row 2 of the queue table holds 'teleported'"):
            records.store.queue.page(0, 10)
        with pytest.raises(StoreError, match="Row 1 of the enrollments table holds 'warped'"):
            records.store.journal.get(1)
    finally:
        records.close()
