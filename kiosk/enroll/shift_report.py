"""The report of one operator's shift, read from the audit trail.

A shift runs from an "operator signed in" record to that operator's "operator signed out"
(or to the end of the trail while they are still signed in). Within it the report counts the
keys enrolled, the users failed (by reason) and skipped (by reason), the failed attempts, the
keys reset before enrollment and the keys that need a reset (an orphan credential: Entra does
not know it). Only records that name the shift's operator count. A record never holds a PIN,
so neither does a report: it is counts, reasons, key serials and times.

The Recorder writes the "shift reported" record; :func:`write_report` writes it as CSV and
JSON beside the shipping manifests.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.durable import atomic_write
from kiosk.enroll.manifest import ManifestError, csv_safe

SIGNED_IN = "operator signed in"
SIGNED_OUT = "operator signed out"
SHIFT_REPORTED = "shift reported"


@dataclass(frozen=True)
class ShiftReport:
    operator: str
    started: str
    ended: str | None
    """None: the operator is still signed in (the report runs to the trail's end)."""
    first_seq: int
    enrolled: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    attempts_failed: int = 0
    keys_reset: int = 0
    keys_needing_reset: tuple[str, ...] = ()
    """The serial of each key holding a credential Entra does not know ("" when none)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator, "started": self.started, "ended": self.ended,
            "enrolled": self.enrolled, "failed": self.failed,
            "failed_by_reason": dict(self.failed_by_reason), "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "attempts_failed": self.attempts_failed, "keys_reset": self.keys_reset,
            "keys_needing_reset": list(self.keys_needing_reset),
        }

    def audit_fields(self, paths: Sequence[Path]) -> dict[str, Any]:
        """The "shift reported" record's fields: the operator, the counts, the files."""
        counts = {
            "enrolled": self.enrolled, "failed": self.failed, "skipped": self.skipped,
            "attempts_failed": self.attempts_failed, "keys_reset": self.keys_reset,
            "keys_needing_reset": len(self.keys_needing_reset),
        }
        return {
            "operator": self.operator, "counts": counts,
            "detail": ", ".join(str(p) for p in paths),
        }

    def json_line(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _shift_start(records: Sequence[Mapping[str, Any]], operator: str | None) -> int | None:
    """The index of the last sign-in (of ``operator`` when named)."""
    for i in range(len(records) - 1, -1, -1):
        r = records[i]
        if r.get("event") == SIGNED_IN and (operator is None or r.get("operator") == operator):
            return i
    return None


def last_shift(
    records: Sequence[Mapping[str, Any]], operator: str | None = None
) -> ShiftReport | None:
    """The report of the last shift in ``records`` (oldest first); None when nobody signed in."""
    start = _shift_start(records, operator)
    if start is None:
        return None
    name = _text(records[start].get("operator"))
    ended: str | None = None
    failed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    counts = {"enrolled": 0, "attempts_failed": 0, "keys_reset": 0}
    needing: list[str] = []
    for r in records[start + 1:]:
        event = r.get("event")
        if event == SIGNED_OUT and r.get("operator") == name:
            ended = _text(r.get("time"))
            break
        if r.get("operator") != name:
            continue
        reason = _text(r.get("reason"))
        if event == "enrolled":
            counts["enrolled"] += 1
            counts["keys_reset"] += "reset" in (r.get("timings_ms") or {})
        elif event == "enrollment failed":
            failed[reason] += 1
        elif event == "enrollment skipped":
            skipped[reason] += 1
        elif event == "attempt failed":
            counts["attempts_failed"] += 1
        elif event == "orphan credential":
            needing.append(_text((r.get("key") or {}).get("serial")))
    return ShiftReport(
        operator=name, started=_text(records[start].get("time")), ended=ended,
        first_seq=int(records[start].get("seq", 0)), failed=sum(failed.values()),
        failed_by_reason=dict(failed), skipped=sum(skipped.values()),
        skipped_by_reason=dict(skipped), keys_needing_reset=tuple(needing), **counts,
    )


def last_shifts(records: Sequence[Mapping[str, Any]]) -> list[ShiftReport]:
    """Each operator's last shift in ``records``, in the order they first signed in."""
    names = dict.fromkeys(
        r["operator"] for r in records
        if r.get("event") == SIGNED_IN and isinstance(r.get("operator"), str)
    )
    return [r for r in (last_shift(records, n) for n in names) if r is not None]


def render_csv(report: ShiftReport) -> str:
    """One row per figure: what, reason (or serial), count."""
    buf = io.StringIO(newline="")
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["what", "detail", "count"])
    out.writerow(["operator", csv_safe(report.operator), ""])
    out.writerow(["started", report.started, ""])
    out.writerow(["ended", report.ended or "still signed in", ""])
    for name in ("enrolled", "failed", "skipped", "attempts_failed", "keys_reset"):
        out.writerow([name, "", getattr(report, name)])
    for reason, n in report.failed_by_reason.items():
        out.writerow(["failed", csv_safe(reason), n])
    for reason, n in report.skipped_by_reason.items():
        out.writerow(["skipped", csv_safe(reason), n])
    out.writerow(["keys_needing_reset", "", len(report.keys_needing_reset)])
    for serial in report.keys_needing_reset:
        out.writerow(["key_needing_reset", csv_safe(serial or "no serial"), 1])
    return buf.getvalue()


def write_report(report: ShiftReport, directory: str | Path) -> list[Path]:
    """Write ``shift-<seq>.csv`` and ``.json`` in ``directory`` (seq: of the sign-in record,
    so a shift reported twice keeps one pair of files); return [csv, json]."""
    folder = Path(directory)
    paths = [folder / f"shift-{report.first_seq}.csv", folder / f"shift-{report.first_seq}.json"]
    try:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        atomic_write(paths[0], render_csv(report).encode("utf-8-sig"), 0o640)
        body = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
        atomic_write(paths[1], body.encode("utf-8"), 0o640)
    except OSError as exc:
        raise ManifestError(
            f"{folder}: the shift report could not be written ({exc.strerror})."
        ) from None
    return paths
