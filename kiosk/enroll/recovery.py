"""Resume after a crash (power cut, kill -9): finish or report every attempt left open.

For each open attempt in the journal:

- registered (a method id is journaled): record it and count it;
- credential journaled: look on Graph first (the register call may have gone out); if it is
  not there and the challenge is still valid, register it now; else it is an **orphan**: key
  serial S holds a credential Entra does not know, and must be reset;
- a credential journaled without its sealed PIN (escrow on) is never registered: orphan;
- interrupted after the PIN was set but before a credential was journaled (killed while the
  key waited for its touch): key S keeps the PIN the kiosk set, and no credential the kiosk
  knows of; it is tracked as needing a reset (``key needs_reset``), not as an orphan;
- interrupted earlier: the attempt just failed; the user is enrolled again.

Nothing is registered twice (look before sending); nothing is lost (every open attempt ends
done, orphan or failed, and the entry returns to the queue unless it is done).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kiosk.enroll.events import ErrorRaised
from kiosk.enroll.flow import record_success
from kiosk.enroll.ports import ENTRA_ERRORS
from kiosk.enroll.recorder import Success
from kiosk.enroll.registration import lookup, register_once
from kiosk.enroll.replace import REPLACING, delete_methods
from kiosk.enroll.station import Station
from kiosk.entra.calls import GraphCalls, merged
from kiosk.model.steps import Step
from kiosk.store.journal import Enrollment

CHALLENGE_MARGIN_SECONDS = 15.0
WAITING = "an interrupted enrollment is being finished (waiting for Microsoft Graph)"
"""Queue reason of an entry whose open attempt could not be finished yet: it is not enrolled
again meanwhile (the credential may still be registered); the engine tries again."""
_AFTER_PIN = {Step.PIN_SET, Step.CREDENTIAL_CREATED, Step.PIN_POLICY_APPLIED, Step.REGISTERED}


class _StillOpen(Exception):
    """The attempt stays open: Graph could not be asked now."""


def pending(st: Station) -> bool:
    """Are there attempts left open (Graph was unreachable when they were resumed)?"""
    return bool(st.store.journal.open_attempts())


def _requeue_if_waiting(st: Station, entry_id: int) -> None:
    entry = st.store.queue.get(entry_id)
    if entry is not None and entry.status == "failed" and entry.reason == WAITING:
        st.store.queue.set_status(entry_id, "pending")


def resume(st: Station) -> list[str]:
    """Finish what a crash interrupted; return one line per finding (orphans name the serial).

    Call it again later while :func:`pending` says so (the engine does, between users)."""
    report: list[str] = []
    for enr in st.store.journal.open_attempts():
        try:
            with GraphCalls() as calls:  # for the attempt's audit record
                line = _resume_one(st, enr, calls)
        except _StillOpen as still:
            report.append(str(still))
            continue
        if line:
            report.append(line)
        _requeue_if_waiting(st, enr.entry_id)
    st.store.queue.release_active()
    report.extend(_finish_replacements(st))
    return report


def _finish_replacements(st: Station) -> list[str]:
    """Replace mode was confirmed and the new key registered, then the kiosk stopped before
    the old methods were all deleted: delete the rest now (every method not enrolled here)."""
    lines = []
    for entry in st.store.queue.unfinished_replacements():
        ours = {e.method_id for e in st.store.journal.for_entry(entry.entry_id) if e.method_id}
        try:
            old = [m.id for m in st.graph.list_fido2_methods(entry.user_id) if m.id not in ours]
            old += [  # sent before the stop, answer unknown: reconciled (never sent again)
                d.method_id for d in st.store.inventory.deletions(state="sending")
                if d.user_id == entry.user_id and d.reason == REPLACING and d.method_id not in old
            ]
            delete_methods(None, st.graph, st.recorder, st.store.queue, entry, method_ids=old)
        except ENTRA_ERRORS as exc:
            lines.append(f"{entry.upn}: old security keys not deleted yet ({exc.title}).")
            continue
        lines.append(f"{entry.upn}: finished replacing the old security keys ({len(old)} deleted).")
    return lines


def _orphan(st: Station, enr: Enrollment, why: str, calls: GraphCalls) -> str:
    serial = enr.serial or "(no serial)"
    reason = (
        f"Key {serial} holds a credential for {enr.upn} that is not registered ({why}); "
        "reset the key before using it again."
    )
    st.recorder.orphan(
        enr, enr.id, reason,
        key={"serial": enr.serial, "aaguid": enr.aaguid, "model": enr.model},
        graph_calls=merged(enr.graph_calls, calls.calls), operator=enr.operator,
    )
    return _must_be_reset(st, enr, reason)


def _must_be_reset(st: Station, enr: Enrollment, reason: str) -> str:
    """Tell the operator which key to reset (``reason`` says why); the report's line."""
    serial = enr.serial or "(no serial)"
    st.dialog.emit(
        ErrorRaised(
            f"Key {serial} must be reset",
            reason,
            f"Reset key {serial} before using it again; {enr.upn} is enrolled again from the "
            "queue.",
            retryable=False,
        )
    )
    return reason


def _pin_kept(st: Station, enr: Enrollment) -> str:
    """Stopped after the key's PIN was set, before a credential was journaled (killed while
    the key waited for its touch): the key keeps that PIN. A credential the key made in the
    instant before the stop, never journaled, goes with the same reset."""
    serial = enr.serial or "(no serial)"
    kept = f"it keeps the PIN the kiosk set for {enr.upn}"
    reason = (
        f"Key {serial} keeps the PIN the kiosk set for {enr.upn}: the kiosk stopped before "
        "it had a credential from the key; reset the key before using it again."
    )
    st.recorder.interrupted(enr.id, reason)
    st.recorder.key_needs_reset(
        {"serial": enr.serial, "aaguid": enr.aaguid, "model": enr.model}, kept,
        operator=enr.operator, upn=enr.upn, user_id=enr.user_id, entry_id=enr.entry_id,
        enrollment_id=enr.id,
    )
    return _must_be_reset(st, enr, reason)


def _done(st: Station, enr: Enrollment, method_id: str, calls: GraphCalls) -> str:
    entry = st.store.queue.get(enr.entry_id)
    cred = enr.credential()
    assert entry is not None and cred is not None  # noqa: S101
    if enr.step is not Step.REGISTERED:
        st.recorder.reached(enr.id, Step.REGISTERED, method_id=method_id)
    record_success(
        st,
        entry,
        Success(
            enr.id, enr.serial, enr.aaguid or cred.aaguid, enr.model or "", enr.firmware,
            method_id, cred.credential_id, cred.attestation_format, enr.display_name or "",
            enr.pin_policy or "not applied (interrupted)", recovered=True,
            graph_calls=merged(enr.graph_calls, calls.calls),
        ),
    )
    note = ""
    if enr.step is Step.CREDENTIAL_CREATED:
        note = f" The PIN policy was not applied to key {enr.serial or '(no serial)'}."
    return f"Finished the enrollment of {enr.upn} on key {enr.serial or '(no serial)'}.{note}"


def _resume_one(st: Station, enr: Enrollment, calls: GraphCalls) -> str:
    cred = enr.credential()
    if cred is None:
        if enr.step is Step.PIN_SET:
            return _pin_kept(st, enr)
        if enr.step in _AFTER_PIN:
            return _orphan(st, enr, f"interrupted at step {enr.step.value}", calls)
        st.recorder.interrupted(enr.id, f"interrupted at step {enr.step.value}")
        return ""
    if enr.method_id:
        return _done(st, enr, enr.method_id, calls)
    display = enr.display_name or ""
    sent_at = _started(enr)
    try:
        found = lookup(st.graph, enr.user_id, display, cred, sent_at)
        if found is not None:
            return _done(st, enr, found.id, calls)
        sealed = st.settings.escrow.seals
        if sealed and not (enr.escrow_file and Path(enr.escrow_file).is_file()):
            return _orphan(st, enr, "its PIN was not escrowed", calls)
        if not sealed:
            return _orphan(st, enr, "its PIN was only to be shown on screen", calls)
        expires = enr.challenge_expires
        if expires is None or expires.timestamp() - st.clock().timestamp() < (
            CHALLENGE_MARGIN_SECONDS
        ):
            return _orphan(st, enr, "its challenge expired", calls)
        method = register_once(
            st.graph, enr.user_id, display, cred, sent_at=sent_at, maybe_sent=False
        )
    except ENTRA_ERRORS as exc:
        st.store.queue.set_status(enr.entry_id, "failed", WAITING)
        st.dialog.emit(
            ErrorRaised(
                exc.title,
                f"{enr.upn}: the enrollment interrupted by a restart cannot be finished yet "
                f"({exc.detail}). The kiosk tries again in a moment.",
                exc.next_step,
            )
        )
        raise _StillOpen(f"{enr.upn}: {WAITING} ({exc.title}).") from None
    return _done(st, enr, method.id, calls)


def _started(enr: Enrollment) -> datetime:
    return datetime.fromisoformat(enr.started)
