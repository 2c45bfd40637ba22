"""Audit records of operator and admin actions: sign-in, sign-out (lock), queue imports,
manifest exports and audit verifications. The engine writes them; the TUI never does.

What these records hold: who (the operator signed in, if any), what (the event), the source
and counts of an import, the files of an export, the result of a verification. Never a PIN, a
secret or a token, and no import problem text (it may quote whatever a CSV held): counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.audit_chain import AuditFieldError
from kiosk.enroll.api import AuditReport, ImportReport
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.enroll.engine import Engine

log = logging.getLogger("kiosk.enroll.actions")

SIGNED_IN = "operator signed in"
SIGNED_OUT = "operator signed out"
QUEUE_IMPORTED = "queue imported"
QUEUE_IMPORT_FAILED = "queue import failed"
MANIFEST_EXPORTED = "manifest exported"
AUDIT_VERIFIED = "audit verified"


def signed_in(eng: Engine, name: str, previous: str | None) -> None:
    """Raises :class:`~kiosk.audit.AuditError` when the record cannot be written."""
    eng.audit.append(
        SIGNED_IN,
        operator=name,
        detail=f"the kiosk was unlocked; {previous} was signed in before" if previous else "",
    )


def signed_out(eng: Engine, name: str) -> None:
    eng.audit.append(SIGNED_OUT, operator=name, detail="the kiosk was locked")


def queue_imported(
    eng: Engine,
    report: ImportReport,
    *,
    source: str,
    keys_per_user: int,
    replace: bool = False,
) -> None:
    counts = {
        "added": report.added,
        "already_queued": report.already_queued,
        "problems": len(report.problems),
        "keys_per_user": keys_per_user,
    }
    outcome = "ok" if not report.problems else "partial"
    try:
        eng.audit.append(
            QUEUE_IMPORTED, outcome=outcome, operator=eng.operator, source=source,
            detail=report.source + (" (replace mode)" if replace else ""), counts=counts,
        )
    except AuditFieldError:  # typed text the audit will not hold: the kind of source only
        log.warning("queue import: the source's name was not audited")
        eng.audit.append(
            QUEUE_IMPORTED, outcome=outcome, operator=eng.operator,
            source=source.split(":", 1)[0], counts=counts,
        )


def queue_import_failed(eng: Engine, exc: KioskError, *, source: str) -> None:
    """An import that raised (an unreadable CSV, say): say so, with the error's title."""
    try:
        eng.audit.append(
            QUEUE_IMPORT_FAILED,
            outcome="failed",
            operator=eng.operator,
            source=source,
            reason=f"{exc.title}: {exc.detail}",
        )
    except AuditFieldError:  # a reason the audit will not hold: the title alone
        eng.audit.append(
            QUEUE_IMPORT_FAILED, outcome="failed", operator=eng.operator, source=source,
            reason=exc.title,
        )


def manifest_exported(eng: Engine, paths: Sequence[Path], rows: int) -> None:
    eng.audit.append(
        MANIFEST_EXPORTED,
        operator=eng.operator,
        count=rows,
        detail=", ".join(str(p) for p in paths),
    )


def audit_verified(eng: Engine, report: AuditReport) -> None:
    eng.audit.append(
        AUDIT_VERIFIED,
        outcome="ok" if report.ok else "failed",
        operator=eng.operator,
        count=report.records,
        counts={"problems": len(report.problems)},
    )
