"""The report of one operator's shift, read from the audit trail.

A shift runs from an "operator signed in" record to that operator's "operator signed out"
(or to the end of the trail while they are still signed in). Within it the report counts the
keys enrolled, the users failed (by reason) and skipped (by reason), the failed attempts, the
keys the kiosk reset to enroll them (``key reset`` records, whether the attempt then succeeded
or not), the keys that need a reset (an orphan credential Entra does not
know, or a key whose method was deleted and that was not reset since) and the key returns
(:mod:`kiosk.enroll.lifecycle`: keys returned, reset back into stock or retired, lost). Only
records that name the shift's operator count. A record never holds a PIN,
so neither does a report: it is counts, reasons, key serials and times.

The Recorder writes the "shift reported" record (and "shift report printed" when the print
desk printed it); :func:`write_report` writes it as CSV and JSON in the outbox;
:meth:`ShiftReport.lines` is the text the screen and the printed page show.
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
from kiosk.enroll.recorder_resets import KEY_RESET

SIGNED_IN = "operator signed in"
SIGNED_OUT = "operator signed out"
SHIFT_REPORTED = "shift reported"
SHIFT_PRINTED = "shift report printed"
SHIFT_NOT_PRINTED = "shift report not printed"
RETURN_EVENTS = {
    "key returned": "returned", "key in_stock": "back_in_stock",
    "key retired": "retired", "key lost": "lost",
}
"""Key-life records (:mod:`kiosk.enroll.lifecycle`) counted as returns, by report field."""


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
    """The serial of each key that needs a reset before it is used again ("" when none)."""
    returned: int = 0
    """Keys taken back (returned) in this shift."""
    back_in_stock: int = 0
    """Keys reset and taken into stock (a return, or an unknown key an admin reset)."""
    retired: int = 0
    lost: int = 0
    station: str = ""
    """The fleet station the shift was worked at ("" for a kiosk on its own)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator, "started": self.started, "ended": self.ended,
            "enrolled": self.enrolled, "failed": self.failed,
            "failed_by_reason": dict(self.failed_by_reason), "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "attempts_failed": self.attempts_failed, "keys_reset": self.keys_reset,
            "keys_needing_reset": list(self.keys_needing_reset),
            "returned": self.returned, "back_in_stock": self.back_in_stock,
            "retired": self.retired, "lost": self.lost, "station": self.station,
        }

    def audit_fields(
        self, paths: Sequence[Path] = (), job: Mapping[str, object] | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """A shift-report record's event and fields: the operator, the counts and the files
        written, or (``job``) the print job: queue, job id and name; ``reason``: not printed."""
        counts = {
            "enrolled": self.enrolled, "failed": self.failed, "skipped": self.skipped,
            "attempts_failed": self.attempts_failed, "keys_reset": self.keys_reset,
            "keys_needing_reset": len(self.keys_needing_reset), "returned": self.returned,
            "back_in_stock": self.back_in_stock, "retired": self.retired, "lost": self.lost,
        }
        fields: dict[str, Any] = {"operator": self.operator, "counts": counts}
        if job is None:
            return {"event": SHIFT_REPORTED, **fields, "detail": ", ".join(map(str, paths))}
        event = SHIFT_NOT_PRINTED if reason else SHIFT_PRINTED
        outcome = "failed" if reason else "ok"
        return {"event": event, **fields, "outcome": outcome, "reason": reason,
                "print": dict(job)}

    def lines(self) -> list[str]:
        """The report as the screen and the printed page show it (plain text; the operator's
        name and the reasons come from the trail: a front end cleans them as outside text)."""
        out = [
            f"Operator: {self.operator}",
            *([f"Station:  {self.station}"] if self.station else []),
            f"Started:  {_when(self.started)}",
            f"Ended:    {_when(self.ended) if self.ended else 'still signed in'}",
            f"Keys enrolled: {self.enrolled}" + (
                f" ({self.keys_reset} reset first)" if self.keys_reset else ""),
            f"Users failed: {self.failed}",
            *[f"  {n} {reason or 'no reason given'}" for reason, n in
              self.failed_by_reason.items()],
            f"Users skipped: {self.skipped}",
            *[f"  {n} {reason or 'no reason given'}" for reason, n in
              self.skipped_by_reason.items()],
            f"Failed attempts (tried again or not): {self.attempts_failed}",
            f"Keys needing a reset: {len(self.keys_needing_reset)}",
            *[f"  key {serial or '(no serial)'}" for serial in self.keys_needing_reset],
            f"Keys returned: {self.returned} (back in stock {self.back_in_stock}, "
            f"retired {self.retired}); keys lost: {self.lost}",
        ]
        return out

    @property
    def busy(self) -> bool:
        """Something happened in this shift (a key, a user, a return)."""
        return any((self.enrolled, self.failed, self.skipped, self.attempts_failed,
                    self.keys_needing_reset, self.returned, self.back_in_stock, self.lost))

    def json_line(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


def _when(stamp: str) -> str:
    """A trail time (``2026-12-04T09:15:02.123Z``) as people read it: 2026-12-04 09:15:02 UTC."""
    day, _, clock = stamp.partition("T")
    return f"{day} {clock[:8]} UTC" if clock.endswith("Z") else stamp


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
    counts = dict.fromkeys(
        ("enrolled", "attempts_failed", "keys_reset", *RETURN_EVENTS.values()), 0
    )
    needing: list[str] = []
    reset_for: set[object] = set()  # the entries a "key reset" record names
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
            # A trail written before "key reset" records: the enrolled key's own timings.
            counts["keys_reset"] += r.get("entry_id") not in reset_for and (
                "reset" in (r.get("timings_ms") or {}))
        elif event == KEY_RESET:
            counts["keys_reset"] += 1
            reset_for.add(r.get("entry_id"))
        elif event == "enrollment failed":
            failed[reason] += 1
        elif event == "enrollment skipped":
            skipped[reason] += 1
        elif event == "attempt failed":
            counts["attempts_failed"] += 1
        elif event in RETURN_EVENTS:
            counts[RETURN_EVENTS[str(event)]] += 1
        serial = _text((r.get("key") or {}).get("serial"))
        if event in ("orphan credential", "key needs_reset") and (
            not serial or serial not in needing
        ):
            needing.append(serial)  # a key without a serial counts each time
        elif event in ("key in_stock", "key retired") and serial:
            needing = [s for s in needing if s != serial]
    return ShiftReport(
        operator=name, started=_text(records[start].get("time")), ended=ended,
        first_seq=int(records[start].get("seq", 0)), failed=sum(failed.values()),
        failed_by_reason=dict(failed), skipped=sum(skipped.values()),
        skipped_by_reason=dict(skipped), keys_needing_reset=tuple(needing),
        enrolled=counts["enrolled"], attempts_failed=counts["attempts_failed"],
        keys_reset=counts["keys_reset"], returned=counts["returned"],
        back_in_stock=counts["back_in_stock"], retired=counts["retired"], lost=counts["lost"],
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
    if report.station:
        out.writerow(["station", csv_safe(report.station), ""])
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
    for name in RETURN_EVENTS.values():
        out.writerow([name, "", getattr(report, name)])
    return buf.getvalue()


def report_paths(report: ShiftReport, directory: str | Path) -> list[Path]:
    """``shift-<seq>.csv`` and ``.json`` in ``directory`` (seq: of the sign-in record, so a
    shift reported twice keeps one pair of files)."""
    folder = Path(directory)
    return [folder / f"shift-{report.first_seq}.csv", folder / f"shift-{report.first_seq}.json"]


def write_report(report: ShiftReport, directory: str | Path) -> list[Path]:
    """Write the report as CSV and JSON in ``directory`` (:func:`report_paths`); return them."""
    folder = Path(directory)
    paths = report_paths(report, folder)
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
