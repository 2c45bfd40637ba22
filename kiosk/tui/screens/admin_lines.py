"""What the admin screens say of a task: an import's report, a failed task's error."""

from __future__ import annotations

from kiosk.errors import KioskError
from kiosk.model.queue import ImportReport
from kiosk.tui.words import plural

SAY_MAX = 2000
"""Longest line the admin screens show of a task's output."""


def report_lines(report: ImportReport) -> list[str]:
    lines = [
        f"{report.source}: {report.added} added, {report.already_queued} already queued, "
        f"{plural(len(report.problems), 'problem')}"
    ]
    for problem in report.problems:
        where = f"line {problem.line}: " if problem.line is not None else ""
        lines.append(f"  {where}{problem.value!r}: {problem.reason}")
    return lines


def task_error_lines(error: BaseException | None) -> list[str]:
    """What the admin reads of a failed task: the error's title, detail and next step."""
    if isinstance(error, KioskError):
        return [f"✘ {error.title}: {error.detail}", f"  next: {error.next_step}"]
    what = type(error).__name__ if error is not None else "an unknown error"
    if isinstance(error, OSError) and error.strerror:
        what = f"{what} ({error.strerror})"
    return [
        f"✘ The task stopped: {what}.",
        "  next: Check the file, disk or network named above and try again; if it fails "
        "again, see `journalctl -u fido-kiosk`.",
    ]
