"""The one place where the kiosk writes what happened: the journal of attempts, the key
inventory, the queue's outcome of an entry and the hash-chained audit trail.

Every record has a method here, named for what happened (a key enrolled, an orphan, an
operator signed in, a shift reported, ...); no other code writes the journal or the audit
trail. A record never holds a PIN, a secret or a token: only what :mod:`kiosk.audit` lists.

``operator`` is who is signed in now (None while the kiosk is locked); it is written with
every record that does not name its own operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from kiosk.audit import AuditTrail, credential_id_sha256
from kiosk.audit_chain import AuditFieldError
from kiosk.enroll.escrow import escrow_fields
from kiosk.enroll.recorder_resets import KeyFields, ResetRecords
from kiosk.enroll.shift_report import ShiftReport
from kiosk.errors import KioskError
from kiosk.model.audit import AuditReport
from kiosk.model.codec import same_method_id
from kiosk.model.keys import CreatedCredential, KeyInfo
from kiosk.model.queue import ImportReport, Status
from kiosk.model.steps import Step
from kiosk.model.timing import Timing
from kiosk.operators.sign_in import SignInRecord
from kiosk.store import Store
from kiosk.store.inventory import InventoryEntry, KeyState
from kiosk.store.queue import QueueEntry

log = logging.getLogger("kiosk.enroll.recorder")

SIGNED_IN = "operator signed in"
SIGNED_OUT = "operator signed out"
QUEUE_IMPORTED = "queue imported"
QUEUE_IMPORT_FAILED = "queue import failed"
ENTRY_REQUEUED = "entry requeued"
MANIFEST_EXPORTED = "manifest exported"
AUDIT_VERIFIED = "audit verified"
ENROLLED = "enrolled"
ATTEMPT_FAILED = "attempt failed"
ORPHAN = "orphan credential"
METHOD_DELETED = "method deleted"
KEY_STATE = "key "
"""Prefix of a key's state change in the trail: ``key in_stock``, ``key lost``, ...."""


class Subject(Protocol):
    """Whom a record is about: a queue entry, or a journaled attempt (recovery)."""

    @property
    def upn(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def entry_id(self) -> int: ...


@dataclass(frozen=True)
class Success:
    """What the records of one registered key need (from the attempt, or from the journal)."""

    enrollment_id: int
    serial: str | None
    aaguid: str
    model: str
    firmware: str | None
    method_id: str
    credential_id: bytes
    attestation_format: str
    display_name: str
    pin_policy: str
    recovered: bool = False
    timings: dict[str, float] | None = None
    graph_calls: Sequence[Timing] = ()
    """The Graph calls made for this key: its creation options, register (and retries), lists."""


class Recorder(ResetRecords):
    """Owns every journal, inventory and audit write of the kiosk (see the module text)."""

    def __init__(self, store: Store, audit: AuditTrail, *, operator: str | None = None) -> None:
        self.store = store
        self.audit = audit
        self.operator = operator

    # ---- operator and admin actions ----------------------------------------------------

    def operator_changed(self, name: str | None) -> None:
        """Sign ``name`` in (None: lock). The one signed in before is signed out first, so
        locking always happens; raises :class:`~kiosk.audit.AuditError` when the sign-in record
        cannot be written, and then nobody is signed in."""
        previous = self.operator
        if name == previous:
            return
        if previous is not None:
            self.operator = None
            self.audit.append(SIGNED_OUT, operator=previous, detail="the kiosk was locked")
        if name is not None:
            was = f"the kiosk was unlocked; {previous} was signed in before" if previous else ""
            self.audit.append(SIGNED_IN, operator=name, detail=was)
            self.operator = name

    def sign_in(self, record: SignInRecord) -> None:
        """A failed sign-in, a pause, an admin unlock or the admin's exit. Never the PIN; a
        record the trail refuses is logged, never raised into the sign-in screen."""
        counts = {"failures": record.failures, "pause_seconds": record.pause_seconds}
        try:
            self.audit.append(
                record.event, outcome=record.outcome, operator=record.name,
                reason=record.reason, counts=counts if record.failures else None,
            )
        except KioskError as exc:
            log.error("sign-in event not audited: %s", exc.detail)

    def queue_imported(
        self, report: ImportReport, *, source: str, keys_per_user: int, replace: bool = False
    ) -> None:
        """Counts only: an import problem's text may quote whatever a CSV held."""
        counts = {
            "added": report.added,
            "already_queued": report.already_queued,
            "problems": len(report.problems),
            "keys_per_user": keys_per_user,
        }
        outcome = "ok" if not report.problems else "partial"
        try:
            self.audit.append(
                QUEUE_IMPORTED, outcome=outcome, operator=self.operator, source=source,
                detail=report.source + (" (replace mode)" if replace else ""), counts=counts,
            )
        except AuditFieldError:  # typed text the audit will not hold: the kind of source only
            log.warning("queue import: the source's name was not audited")
            self.audit.append(
                QUEUE_IMPORTED, outcome=outcome, operator=self.operator,
                source=source.split(":", 1)[0], counts=counts,
            )

    def queue_import_failed(self, exc: KioskError, *, source: str) -> None:
        """An import that raised (an unreadable CSV, say): say so, with the error's title."""
        try:
            self.audit.append(
                QUEUE_IMPORT_FAILED, outcome="failed", operator=self.operator, source=source,
                reason=f"{exc.title}: {exc.detail}",
            )
        except AuditFieldError:  # a reason the audit will not hold: the title alone
            self.audit.append(
                QUEUE_IMPORT_FAILED, outcome="failed", operator=self.operator, source=source,
                reason=exc.title,
            )

    def manifest_exported(self, paths: Sequence[Path], rows: int) -> None:
        detail = ", ".join(str(p) for p in paths)
        self.audit.append(MANIFEST_EXPORTED, operator=self.operator, count=rows, detail=detail)

    def audit_verified(self, report: AuditReport) -> None:
        outcome = "ok" if report.ok else "failed"
        self.audit.append(AUDIT_VERIFIED, outcome=outcome, operator=self.operator,
                          count=report.records, counts={"problems": len(report.problems)})

    def shift_reported(self, report: ShiftReport, paths: Sequence[Path] = (), *,
                       job: Mapping[str, object] | None = None, reason: str = "") -> None:
        """Written to the outbox (``paths``) or printed (``job``; ``reason``: it was not)."""
        fields = report.audit_fields(paths, job, reason)  # counts and files: never a PIN
        self.audit.append(fields.pop("event"), **fields)

    # ---- paper: labels and PIN mailers -------------------------------------------------

    def print_job(
        self, event: str, *, upn: str, entry_id: int, serial: str | None,
        job: Mapping[str, object], outcome: str = "ok", reason: str = "",
    ) -> None:
        """A label or PIN mailer printed, not printed, or a reprint asked: named by queue,
        job id and job name (:mod:`kiosk.paper.desk`); a mailer's text never comes here."""
        self.audit.append(
            event, outcome=outcome, reason=reason, operator=self.operator, upn=upn,
            entry_id=entry_id, key={"serial": serial}, print=dict(job),
        )

    # ---- one attempt, as it goes (the journal) -----------------------------------------

    def attempt_started(self, entry: QueueEntry) -> int:
        """A key came in for ``entry``: open an attempt (the entry becomes active)."""
        return self.store.journal.start(entry.entry_id, entry.user_id, entry.upn, self.operator)

    def key_identified(self, enrollment_id: int, info: KeyInfo) -> None:
        self.store.journal.key(enrollment_id, info)

    def reached(self, enrollment_id: int, step: Step, **fields: str | None) -> None:
        """The attempt reached ``step`` (journaled before the step is treated as done)."""
        self.store.journal.step(enrollment_id, step, **fields)

    def credential_made(
        self,
        enrollment_id: int,
        cred: CreatedCredential,
        *,
        challenge_expires: datetime,
        display_name: str,
        escrow_file: str | None,
        graph_calls: Sequence[Timing] = (),
    ) -> None:
        """The attestation, in one durable write: from here on no key is needed to finish."""
        self.store.journal.credential(
            enrollment_id, cred, challenge_expires=challenge_expires,
            display_name=display_name, escrow_file=escrow_file, graph_calls=graph_calls,
        )

    # ---- how an attempt or an entry ends -----------------------------------------------

    def enrolled(self, subject: Subject, ok: Success) -> None:
        """Registered: the key goes into the inventory, the audit trail says so, and the
        attempt is done with its entry counting one more key."""
        self.store.inventory.record(
            serial=ok.serial or self.serialless_enrolled(ok.aaguid, ok.credential_id),
            aaguid=ok.aaguid, model=ok.model, firmware=ok.firmware,
            user_id=subject.user_id, upn=subject.upn, method_id=ok.method_id,
        )
        row = self.store.journal.get(ok.enrollment_id)
        if ok.recovered and self._audited_before(ok.credential_id):
            # The kiosk stopped between this record and the journal's "done": not twice.
            log.info("Enrollment %d was already in the audit trail", ok.enrollment_id)
        else:
            operator = row.operator if row is not None else None
            escrow = escrow_fields(row.escrow_file if row is not None else None)
            self._audit_enrolled(subject, ok, operator or self.operator, escrow)
        self.store.journal.complete(ok.enrollment_id)

    def _audited_before(self, credential_id: bytes) -> bool:
        """An "enrolled" record for this credential is among the trail's last records."""
        digest = credential_id_sha256(credential_id)
        return any(
            r.get("event") == ENROLLED
            and isinstance(r.get("credential"), dict)
            and r["credential"].get("credential_id_sha256") == digest
            for r in self.audit.recent()
        )

    def _audit_enrolled(
        self, subject: Subject, ok: Success, operator: str | None,
        escrow: dict[str, str] | None = None,
    ) -> None:
        self.audit.append(
            ENROLLED,
            reason="finished after a restart" if ok.recovered else "",
            operator=operator,
            upn=subject.upn,
            user_id=subject.user_id,
            entry_id=subject.entry_id,
            key={"serial": ok.serial, "aaguid": ok.aaguid, "model": ok.model,
                 "firmware": ok.firmware},
            method_id=ok.method_id,
            credential_id=ok.credential_id,
            attestation_format=ok.attestation_format,
            display_name=ok.display_name,
            detail=f"PIN policy: {ok.pin_policy}",
            timings_ms=ok.timings,
            graph_calls=ok.graph_calls,
            escrow=escrow,
        )

    def attempt_failed(
        self,
        subject: Subject,
        enrollment_id: int,
        reason: str,
        *,
        key: KeyFields = None,
        graph_calls: Sequence[Timing] = (),
    ) -> None:
        """The attempt failed; the entry goes on (another key, or the entry ends)."""
        self.store.journal.finish(enrollment_id, "failed", reason)
        try:
            self.audit.append(
                ATTEMPT_FAILED, outcome="failed", reason=reason, operator=self.operator,
                upn=subject.upn, user_id=subject.user_id, entry_id=subject.entry_id,
                key=key, graph_calls=graph_calls,
            )
        except AuditFieldError:  # a reason the audit will not hold: keep the journal's copy
            log.warning("attempt %d: failure reason not audited", enrollment_id)

    def interrupted(self, enrollment_id: int, reason: str) -> None:
        """Recovery: an attempt stopped before a credential was made (journal only; the user
        is simply enrolled again). A key left with the kiosk's PIN is tracked besides, by
        :meth:`key_needs_reset`."""
        self.store.journal.finish(enrollment_id, "failed", reason)

    def orphan(
        self,
        subject: Subject,
        enrollment_id: int,
        reason: str,
        *,
        key: KeyFields,
        graph_calls: Sequence[Timing] = (),
        operator: str | None = None,
    ) -> None:
        """A key holds a credential Entra does not know: it must be reset before reuse.
        ``operator``: who made it, when that is not who is signed in now (recovery)."""
        self.store.journal.finish(enrollment_id, "orphan", reason)
        self.audit.append(
            ORPHAN, outcome="orphan", reason=reason, operator=operator or self.operator,
            upn=subject.upn, user_id=subject.user_id, entry_id=subject.entry_id,
            key=key, graph_calls=graph_calls,
        )
        self.key_needs_reset(key, reason, operator=operator, upn=subject.upn,
                             user_id=subject.user_id, entry_id=subject.entry_id,
                             enrollment_id=enrollment_id)

    def entry_ended(
        self, entry: QueueEntry, status: Status, reason: str, graph_calls: Sequence[Timing] = ()
    ) -> None:
        """The entry ends without its keys (failed or skipped): the queue and the trail."""
        self.store.queue.set_status(entry.entry_id, status, reason)
        self.audit.append(
            "enrollment " + status, outcome=status, reason=reason, operator=self.operator,
            upn=entry.upn, user_id=entry.user_id, entry_id=entry.entry_id,
            graph_calls=graph_calls,
        )

    def entry_requeued(self, entry: QueueEntry, how: str) -> None:
        """A skipped, failed or done user put back in the queue (``how``: requeued, or
        backup key queued), from the queue screen or a re-import."""
        self.audit.append(ENTRY_REQUEUED, outcome="ok", reason=how, operator=self.operator,
                          upn=entry.upn, user_id=entry.user_id, entry_id=entry.entry_id)

    def method_deleted(
        self, entry: QueueEntry, method_id: str, graph_calls: Sequence[Timing] = ()
    ) -> None:
        """Replace mode: one of the user's old methods was deleted from Entra; the old key
        it was on (if the kiosk enrolled it) needs a reset before it is used again."""
        self.audit.append(
            METHOD_DELETED, reason="replace mode", operator=self.operator, upn=entry.upn,
            user_id=entry.user_id, entry_id=entry.entry_id, method_id=method_id,
            graph_calls=graph_calls,
        )
        for old in self.store.inventory.of_user(entry.upn):
            if old.owned and old.method_id and same_method_id(old.method_id, method_id):
                self.key_state(old.serial, "needs_reset", "replaced by a new key", was=old)

    # ---- the key's life: returns, lost keys, stock ------------------------------------

    def key_state(
        self, serial: str, state: KeyState, reason: str, *,
        was: InventoryEntry | None = None, key: KeyFields = None,
    ) -> None:
        """A key changes state (in stock, lost, retired, ...): the inventory and the trail,
        with the operator and the reason; ``was`` is the key as the inventory knew it."""
        self.store.inventory.set_state(serial, state, reason)
        self.audit.append(
            KEY_STATE + state, reason=reason, operator=self.operator,
            upn=was.upn if was is not None and was.upn else None,
            user_id=was.user_id if was is not None and was.user_id else None,
            method_id=was.method_id if was is not None else None,
            key=key or {"serial": serial},
        )

    def key_wiped(self, serial: str, reason: str, credential_id: bytes | None = None) -> None:
        """The key was reset: the attempts that put credentials on it (a key without a
        serial: the one of ``credential_id``) hold none any more."""
        self.store.journal.wiped(serial, reason, credential_id=credential_id)

    def deletion_started(self, was: InventoryEntry, method_id: str, reason: str) -> int:
        """Journaled before the DELETE is sent (a lost answer is reconciled from here)."""
        return self.store.inventory.deletion_started(
            serial=was.serial or None, user_id=was.user_id, upn=was.upn,
            method_id=method_id, reason=reason, operator=self.operator,
        )

    def deletion_ended(
        self, deletion_id: int, was: InventoryEntry, method_id: str, *, gone: bool,
        reason: str, graph_calls: Sequence[Timing] = (),
    ) -> None:
        """Entra no longer holds the method: deleted now, or found gone already."""
        self.store.inventory.deletion_done(deletion_id, "gone" if gone else "deleted")
        self.audit.append(
            METHOD_DELETED, outcome="gone" if gone else "ok",
            reason=reason + ("; the method was already gone" if gone else ""),
            operator=self.operator, upn=was.upn, user_id=was.user_id, method_id=method_id,
            key={"serial": was.serial or None}, graph_calls=graph_calls,
        )
