"""The per-user flow: a queue entry, its keys (backup keys too), and what happens when an
attempt fails. The steps of one attempt are in :mod:`kiosk.enroll.steps`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from fido2.hid.base import HidDescriptor

from kiosk.enroll import key_reset, steps
from kiosk.enroll.control import Command, EntryOver, Stopped
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import EnrollmentResult, KeyEnrolled, KeyGone, Prompt
from kiosk.enroll.guests import check_guest
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.manifest import label_reference
from kiosk.enroll.one_key import PULL_ALL, TAKE_ONE, Crowd
from kiosk.enroll.pins import Pin
from kiosk.enroll.ports import ENTRA_ERRORS
from kiosk.enroll.recorder import Success
from kiosk.enroll.registration import lookup
from kiosk.enroll.replace import confirm_replace, delete_methods
from kiosk.enroll.station import Station
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import CreationOptions, Fido2Method
from kiosk.errors import KioskError
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.watcher import KeyInserted, KeyRemoved
from kiosk.model.queue import Status
from kiosk.model.steps import Step
from kiosk.model.timing import Timing
from kiosk.store.claims import ClaimLost
from kiosk.store.queue import QueueEntry

log = logging.getLogger("kiosk.enroll.flow")


class Switch(Exception):
    """The operator selected another entry before a key came in."""


def work_entry(st: Station, entry: QueueEntry) -> int | None:
    """Enroll ``entry``'s keys; the entry's id when it ended without them (failed, skipped)."""
    dialog = st.dialog
    dialog.step(entry, Step.QUEUED)
    current = entry
    calls = GraphCalls()  # every Graph call made on this thread for the entry
    try:
        with calls:
            check_guest(dialog, st.settings.policy.guests, entry)
            old_methods = (
                confirm_replace(dialog, st.graph, st.store.queue, entry) if entry.replace else []
            )
            while current.keys_done < current.keys_wanted:
                options = take_options(st, current)
                dialog.step(current, Step.OPTIONS_READY)
                one_key(st, current, options)
                if old_methods:
                    delete_methods(
                        dialog, st.graph, st.recorder, st.store.queue, current,
                        method_ids=old_methods,
                    )
                    old_methods = []
                refreshed = st.store.queue.get(entry.entry_id)
                assert refreshed is not None  # noqa: S101
                current = refreshed
                if current.keys_done >= current.keys_wanted:
                    dialog.emit(EnrollmentResult(current.entry_id, current.upn, Step.DONE))
                    st.queue_changed()
                wait_removal(dialog, st.keys)
    except Switch:
        return None
    except EntryOver as over:
        entry_ended(st, current, over, calls.calls)
        wait_removal(dialog, st.keys)
        return current.entry_id
    return None


def entry_ended(
    st: Station, entry: QueueEntry, over: EntryOver, graph_calls: Sequence[Timing] = ()
) -> None:
    status: Status = "skipped" if over.status is Step.SKIPPED else "failed"
    st.recorder.entry_ended(entry, status, over.reason, graph_calls)
    st.dialog.step(entry, over.status, over.reason)
    st.dialog.emit(
        EnrollmentResult(entry.entry_id, entry.upn, over.status, over.reason, over.next_step)
    )
    st.queue_changed()


def take_options(st: Station, entry: QueueEntry) -> CreationOptions:
    while True:
        try:
            more = entry.keys_wanted - entry.keys_done > 1
            return st.prefetch.take(entry.entry_id, entry.user_id, more=more)
        except GraphNotFoundError as exc:
            raise EntryOver(Step.FAILED, f"{exc.title}: {exc.detail}", exc.next_step) from None
        except ENTRA_ERRORS as exc:
            st.dialog.graph_trouble(exc)


def wait_insert(st: Station, entry: QueueEntry) -> HidDescriptor:
    dialog, keys = st.dialog, st.keys
    n = entry.keys_done + 1
    which = f" (key {n} of {entry.keys_wanted})" if entry.keys_wanted > 1 else ""
    if st.desk.asked.is_set():
        raise Switch  # the return desk is open: the key that comes in is a returned one
    dialog.prompt(Prompt.INSERT_KEY, f"Insert a new security key for {entry.upn}{which}.")
    waiting = keys.waiting_key()
    if waiting is not None:
        return waiting  # inserted while the kiosk was idle (or locked)
    crowd = Crowd(dialog, keys, TAKE_ONE)
    crowd.look()  # keys left in from before: say so now
    while True:
        signal = keys.signals.next()
        if not isinstance(signal, Command) and crowd.look():
            continue
        if isinstance(signal, KeyInserted):
            return signal.descriptor
        if isinstance(signal, KeyRemoved):
            dialog.emit(KeyGone())
            dialog.prompt(Prompt.INSERT_KEY, f"Insert a new security key for {entry.upn}{which}.")
        elif isinstance(signal, Command):
            if signal.name == "select" and signal.value != entry.entry_id:
                dialog.handle(signal)
                raise Switch
            dialog.handle(signal)
            if st.recorder.operator is None or st.desk.asked.is_set():
                raise Switch  # locked, or the return desk opened: take no key for the user


def wait_removal(dialog: Dialog, keys: KeyIO) -> None:
    """Wait until no key is inserted (the watcher's picture), handling commands."""
    if keys.watcher.key is None and not keys.watcher.present:
        return
    dialog.prompt(Prompt.REMOVE_KEY)
    keys.signals.clear_abort()
    crowd = Crowd(dialog, keys, PULL_ALL)
    while keys.watcher.present:
        crowd.look()
        try:
            signal = keys.signals.next(timeout=1.0)
        except EntryOver:
            continue
        crowd.look()
        if isinstance(signal, KeyRemoved):
            dialog.emit(KeyGone())
        elif isinstance(signal, Command) and signal.name != "retry":
            dialog.handle(signal)


def one_key(st: Station, entry: QueueEntry, options: CreationOptions) -> None:
    """Enroll one key for ``entry``: wait for it, try, and on failure let the operator decide."""
    holder: list[CreationOptions | None] = [options]
    descriptor = wait_insert(st, entry)
    while True:
        try:
            attempt(st, entry, descriptor, holder)
            return
        except steps.Reinserted as again:
            descriptor = again.descriptor
            continue
        except KioskError as exc:
            if after_error(st.dialog, st.keys, exc) == "retry":
                continue
        descriptor = wait_insert(st, entry)


def after_error(dialog: Dialog, keys: KeyIO, exc: KioskError) -> Literal["retry", "removed"]:
    """The attempt failed: show why, then wait for the key to go (or the operator's retry)."""
    dialog.error(exc)
    if isinstance(exc, KeyPulledError):
        dialog.emit(KeyGone())
        return "removed"
    dialog.prompt(Prompt.REMOVE_KEY, f"{exc.title}. Pull the key, or retry with it.")
    crowd = Crowd(dialog, keys, PULL_ALL)
    while True:
        signal = keys.signals.next(timeout=0.2)
        crowd.look()
        if not keys.watcher.present:
            dialog.emit(KeyGone())
            return "removed"
        if isinstance(signal, Command):
            if signal.name == "retry":
                return "retry"
            dialog.handle(signal)


def attempt(
    st: Station,
    entry: QueueEntry,
    descriptor: HidDescriptor,
    holder: list[CreationOptions | None],
) -> None:
    st.keys.signals.new_attempt()
    st.keys.used(descriptor)
    try:
        eid = st.recorder.attempt_started(entry)
    except ClaimLost as exc:  # another station took this user meanwhile: nothing was done
        st.dialog.prompt(Prompt.WORKING, f"{exc.title}; this key goes to the next user.")
        raise Switch from None
    st.queue_changed()  # the entry is active now: front ends show it in their counts
    att = steps.Attempt(entry, eid, descriptor, holder[0])
    with att.graph:  # the Graph calls made for this attempt, for its audit record
        _attempt(st, att, holder)


def _attempt(st: Station, att: steps.Attempt, holder: list[CreationOptions | None]) -> None:
    entry, eid, descriptor = att.entry, att.enrollment_id, att.descriptor
    journal_row = st.store.journal.get(eid)
    assert journal_row is not None  # noqa: S101
    t = att.timings
    pin: Pin | None = None
    try:
        with steps.timed(t, "identify"):
            att.session = st.keys.open_session(descriptor)
            st.dialog.step(entry, Step.KEY_INSERTED)
            st.dialog.prompt(Prompt.WORKING)
            info = steps.identify(st.dialog, att, st.keys)
            verdict = steps.check(st, att, info)
        if verdict.reset != "none":
            if verdict.reset == "ask":
                key_reset.ask_reset(st, att, info)
            with steps.timed(t, "reset"):
                info = key_reset.reset(st.dialog, st.keys, st.recorder, att)
        pin = steps.choose_pin(st.dialog, st.keys, st.settings.policy, att, info)
        with steps.timed(t, "set_pin"):
            steps.set_pin(st.dialog, st.keys, st.recorder, att, pin)
        options = steps.fresh_options(st, att)
        with steps.timed(t, "make_credential"):
            steps.make_credential(st, att, pin)
        holder[0] = None
        with steps.timed(t, "journal_and_escrow"):
            display = steps.journal_and_escrow(st, att, pin, options)
        att.display = display
        with steps.timed(t, "pin_policy"):
            pin_policy = steps.apply_pin_policy(st, att, pin, verdict.apply_pin_policy)
        with steps.timed(t, "register"):
            method = steps.register(
                st.dialog, st.graph, st.recorder, att, display=display,
                sent_at_iso=journal_row.started,
            )
    except Stopped:
        raise  # left open in the journal, like a crash: recovery finishes it
    except BaseException as exc:
        if st.keys.signals.stop.is_set():
            raise Stopped from exc  # the key call was cut short to stop: as above
        found = _registered_after_all(st, att, journal_row.started)
        if found is not None and att.display is not None:  # Graph took it before the failure
            log.warning("attempt %d failed after registering; recorded as done", eid)
            st.recorder.reached(eid, Step.REGISTERED, method_id=found.id)
            _done(st, att, (att.display, "unknown (interrupted)", found.id), pin)
            return
        over = steps.ended_by_operator(st.keys.signals)
        orphan = _attempt_failed(st, att, over if over is not None else exc)
        if att.session is not None:
            with contextlib.suppress(Exception):
                att.session.close()
        if over is not None and orphan is not None:
            raise EntryOver(over.status, orphan.detail, orphan.next_step) from None
        if over is not None:
            raise over from None
        if orphan is not None:
            raise orphan from exc
        raise
    _done(st, att, (display, pin_policy, method.id), pin)


def _done(st: Station, att: steps.Attempt, what: tuple[str, str, str], pin: Pin | None) -> None:
    """Registered: recorded as done, then the PIN box, last (it names the key and person)."""
    finish(st, att, *what)
    if pin is not None:
        steps.hand_over(st, att, pin)


def _registered_after_all(st: Station, att: steps.Attempt, started: str) -> Fido2Method | None:
    """A credential that was journaled may have reached Graph before the failure: look."""
    if att.credential is None or att.display is None:
        return None
    row = st.store.journal.get(att.enrollment_id)
    if row is None or row.credential_id is None:
        return None  # (a method id journaled already is looked for too: its commit was in doubt)
    try:
        return lookup(
            st.graph, att.entry.user_id, att.display, att.credential,
            datetime.fromisoformat(started),
        )
    except ENTRA_ERRORS:
        return None


def _attempt_failed(
    st: Station, att: steps.Attempt, exc: BaseException
) -> KioskError | None:
    """Journal the failure; an unregistered credential left on the key is an orphan, returned
    as the error the operator must see (it names the key's serial)."""
    reason = steps.describe_failure(exc)
    if not isinstance(exc, KioskError | EntryOver):
        log.error("attempt %d failed unexpectedly", att.enrollment_id, exc_info=exc)
    row = st.store.journal.get(att.enrollment_id)
    if row is not None and row.credential_id and not row.method_id:
        serial = row.serial or "(no serial)"
        reason = f"Key {serial} holds a credential that was not registered; reset it. {reason}"
        st.recorder.orphan(
            att.entry, att.enrollment_id, reason,
            key={"serial": row.serial, "aaguid": row.aaguid, "model": row.model},
            graph_calls=steps.graph_calls(att),
        )
        return KioskError(
            reason,
            title=f"Key {serial} must be reset",
            next_step=f"Set key {serial} aside to be reset, and insert another key.",
        )
    pinned = row is not None and row.step is Step.PIN_SET
    serial = (row.serial if row is not None else None) or "(no serial)"
    holds = (
        " and a credential that was not registered" if att.credential is not None
        else ", but no credential from this attempt"
    )  # escrow fails after the credential is made, before it is journaled
    note = f"Key {serial} keeps the PIN the kiosk set{holds}: reset it before it is used again."
    if pinned:  # like a crash at this step (recovery): the key must be reset before reuse
        reason = f"{reason.rstrip('.')}. {note}"
    st.recorder.attempt_failed(
        att.entry, att.enrollment_id, reason, key=att.info, graph_calls=steps.graph_calls(att)
    )
    if not pinned:
        return None
    _keeps_kiosk_pin(st, att, exc, holds)
    if isinstance(exc, KioskError):
        # The error keeps its type, title and own next step (an escrow failure's "do not hand
        # the key out" first); the reset comes after it.
        reset = (
            f"Key {serial} must be reset before it is used again: set it aside for that."
            if st.settings.policy.reset == "never"
            else f"Key {serial} must be reset before it is used again: plug it in again to "
            "have it reset (touch it when it blinks)."
        )
        exc.detail = f"{exc.detail.rstrip('.')}. {note}"
        exc.args = (exc.detail,)
        exc.next_step = f"{exc.next_step.rstrip('.')}. {reset}" if exc.next_step else reset
        return None  # raised again as it is
    again = (
        f"Set key {serial} aside to be reset, and insert another key."
        if st.settings.policy.reset == "never"
        else f"Insert key {serial} again to have it reset (touch it when it blinks), or use "
        "another key."
    )
    return KioskError(reason, title=f"Key {serial} must be reset", next_step=again)


def _keeps_kiosk_pin(st: Station, att: steps.Attempt, exc: BaseException, holds: str) -> None:
    """The key leaves with the PIN the kiosk set: tracked as needing a reset (inventory)."""
    why = exc.title if isinstance(exc, KioskError) else steps.describe_failure(exc)
    entry = att.entry
    st.recorder.key_needs_reset(
        att.info, f"it holds the PIN the kiosk set for {entry.upn}{holds}; that enrollment "
        f"failed: {why}", upn=entry.upn, user_id=entry.user_id, entry_id=entry.entry_id,
    )


def finish(st: Station, att: steps.Attempt, display: str, pin_policy: str, method_id: str) -> None:
    """Registered: record the key, count it and audit it."""
    assert att.info is not None and att.credential is not None  # noqa: S101
    info, cred = att.info, att.credential
    record_success(
        st,
        att.entry,
        Success(
            att.enrollment_id, info.serial, info.aaguid, info.model, info.firmware, method_id,
            cred.credential_id, cred.attestation_format, display, pin_policy,
            timings=att.timings, graph_calls=steps.graph_calls(att),
        ),
    )
    if att.session is not None:
        with contextlib.suppress(Exception):
            att.session.close()


def record_success(st: Station, entry: QueueEntry, ok: Success) -> None:
    """Record a registered key (:meth:`Recorder.enrolled`) and say so."""
    st.recorder.enrolled(entry, ok)
    st.dialog.emit(KeyEnrolled(
        ok.enrollment_id, entry.entry_id, entry.upn, entry.user_id, entry.display_name,
        ok.serial, ok.model, label_reference(ok.enrollment_id, ok.credential_id),
        ok.pin_policy, ok.recovered,
    ))
    updated = st.store.queue.get(entry.entry_id)
    assert updated is not None  # noqa: S101
    n = f"key {updated.keys_done} of {updated.keys_wanted}"
    st.dialog.step(updated, Step.DONE, n if updated.keys_wanted > 1 else "")
    st.queue_changed()
