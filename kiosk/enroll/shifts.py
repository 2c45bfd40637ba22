"""Shift reports for the engine and its front ends: read from the end of the audit trail
(:mod:`kiosk.enroll.shift_report`), written to the outbox as CSV and JSON and audited through
the Recorder. Printing is the print desk's (:mod:`kiosk.paper.desk`)."""

from __future__ import annotations

import dataclasses
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
        self.station = recorder.store.station if recorder.store.fleet else ""
        """Named in each report on a fleet (each station keeps its own trail)."""

    def last(self, operator: str | None = None) -> ShiftReport | None:
        """The last shift (of ``operator`` when named), not written anywhere."""
        report = last_shift(self.audit.recent(SHIFT_TRAIL_BYTES), operator)
        return report and dataclasses.replace(report, station=self.station)

    def each(self) -> list[ShiftReport]:
        """Each operator's last shift."""
        reports = last_shifts(self.audit.recent(SHIFT_TRAIL_BYTES))
        return [dataclasses.replace(r, station=self.station) for r in reports]

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
