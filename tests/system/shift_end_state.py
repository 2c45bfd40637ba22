"""What the records say after the shift test in a real terminal: read from the demo's state
directory (the fake tenant kept there, queue and journal, key inventory, audit trail, manifest)
and the terminal's scrollback."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

from kiosk.demo.operators import OPERATOR_KEY_SERIAL


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def trail(state: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (state / "audit.jsonl").read_text().splitlines()]


def check_queue(state: Path, users: int, backup_upn: str) -> None:
    """Every user done with the keys asked for (the backup user two)."""
    queue = rows(state / "kiosk.db",
                 "SELECT upn, status, keys_wanted, keys_done FROM queue ORDER BY position")
    assert len(queue) == users
    for upn, status, wanted, done in queue:
        assert (status, done) == ("done", wanted), (upn, status, wanted, done)
    backup = next(q for q in queue if q[0] == backup_upn)
    assert backup[2:] == (2, 2)


def check_keys_agree(state: Path, users: int) -> list[tuple[str, str]]:
    """The journal, the audit trail and the newest manifest name the same (user, key) pairs:
    one key each and the backup key, no key given twice, no operator key. Returns them."""
    journal = rows(state / "kiosk.db", "SELECT upn, serial FROM enrollments WHERE state = 'done'")
    assert len(journal) == users + 1
    assert str(OPERATOR_KEY_SERIAL) not in {str(s) for _u, s in journal}
    assert len({s for _u, s in journal}) == len(journal)
    events = trail(state)
    enrolled = sorted((r["upn"], r["key"]["serial"]) for r in events if r["event"] == "enrolled")
    assert enrolled == sorted((str(u), str(s)) for u, s in journal)
    manifest = sorted((state / "manifests").glob("manifest-*.csv"))[-1]
    with manifest.open(encoding="utf-8-sig") as fh:
        listed = [r for r in csv.DictReader(fh) if r["status"] == "enrolled"]
    assert sorted((r["upn"], r["serial"]) for r in listed) == enrolled
    return enrolled


def check_tenant_agrees(state: Path) -> None:
    """The FIDO2 methods the tenant holds (its kept tenant.json) are those the journal says
    the kiosk registered, user by user: none lost, none made twice, no stray one."""
    tenant = json.loads((state / "tenant" / "tenant.json").read_text(encoding="utf-8"))
    upns = {u["id"]: u["upn"] for u in tenant["users"]}
    held = sorted((upns[m["user_id"]], m["id"]) for m in tenant["methods"])
    journal = sorted(rows(state / "kiosk.db",
                          "SELECT upn, method_id FROM enrollments WHERE state = 'done'"))
    assert held == journal


def check_no_key_needs_reset(state: Path, serials: int) -> None:
    """Every key the kiosk left holding its PIN (pulled mid-touch, in the port at the kill)
    was tracked, then reset and enrolled: none is left needing a reset."""
    events = trail(state)
    tracked = [r for r in events if r["event"] == "key needs_reset"]
    assert len(tracked) == serials, tracked
    states = rows(state / "kiosk.db", "SELECT serial, state FROM keys")
    assert all(st == "enrolled" for _s, st in states), states


def check_mishaps_recorded(state: Path, skip_note: str) -> None:
    """The trail names the refusals, the key pulled mid-touch, the skip's reason and the
    requeue."""
    events = trail(state)
    assert any(r["event"] == "entry requeued" for r in events)
    assert any(r["event"] == "enrollment skipped" and skip_note in r.get("reason", "")
               for r in events)
    refused = [r.get("reason", "") for r in events if r["event"] == "attempt failed"]
    assert any("This is Demo operator's operator key" in r for r in refused)
    assert any("is full: it reports no room" in r and "declined" in r for r in refused)
    assert any("pulled out while the kiosk was using it" in r for r in refused)


def check_no_pin_in(history: str, pins: list[str], expected: int) -> None:
    """Every PIN shown was different, and none is left in the terminal's scrollback."""
    assert len(pins) == expected and len(set(pins)) == len(pins), pins
    flat = history.replace(" ", "")
    for pin in pins:
        assert pin not in flat, "a PIN was left in the terminal's scrollback"
