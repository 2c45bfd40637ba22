"""Shift reports for the engine and its front ends: read from the end of the audit trail
(:mod:`kiosk.enroll.shift_report`), written to the outbox as CSV and JSON and audited through
the Recorder. Printing is the print desk's (:mod:`kiosk.paper.desk`)."""

from __future__ import annotations

from pathlib import Path

from kiosk.audit import AuditTrail
from kiosk.config import Settings
from kiosk.enroll.manifest import outbox
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.shift_report import ShiftReport, last_shift, last_shifts, write_report

SHIFT_TRAIL_BYTES = 64 << 20
"""How much of the trail's end a shift report reads (a long shift of big records fits)."""


class Shifts:
    def __init__(self, settings: Settings, audit: AuditTrail, recorder: Recorder) -> None:
        self.settings = settings
        self.audit = audit
        self.recorder = recorder

    def last(self, operator: str | None = None) -> ShiftReport | None:
        """The last shift (of ``operator`` when named), not written anywhere."""
        return last_shift(self.audit.recent(SHIFT_TRAIL_BYTES), operator)

    def each(self) -> list[ShiftReport]:
        """Each operator's last shift."""
        return last_shifts(self.audit.recent(SHIFT_TRAIL_BYTES))

    def report(
        self, directory: Path | None = None, operator: str | None = None
    ) -> tuple[ShiftReport, list[Path]] | None:
        """Write the last shift's report (of ``operator`` when named) as CSV and JSON in
        ``directory`` (the outbox by default) and audit it; None: nobody signed in yet."""
        report = self.last(operator)
        if report is None:
            return None
        paths = write_report(report, directory or outbox(self.settings))
        self.recorder.shift_reported(report, paths)
        return report, paths
