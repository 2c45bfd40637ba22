"""The per-user flow: a queue entry, its keys (backup keys too), and what happens when an
attempt fails. The steps of one attempt are in :mod:`kiosk.enroll.steps`."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fido2.hid.base import HidDescriptor

from kiosk.enroll import steps
from kiosk.enroll.control import Command, EntryOver, Stopped
from kiosk.enroll.events import EnrollmentResult, KeyGone, Prompt, Step
from kiosk.enroll.ports import ENTRA_ERRORS
from kiosk.enroll.recorder import Success
from kiosk.enroll.registration import lookup
from kiosk.enroll.replace import confirm_replace, delete_methods
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import CreationOptions, Fido2Method
from kiosk.errors import KioskError
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.watcher import KeyInserted, KeyRemoved, MultipleKeys
from kiosk.store.queue import QueueEntry

if TYPE_CHECKING:
    from kiosk.enroll.engine import Engine

log = logging.getLogger("kiosk.enroll.flow")


class Switch(Exception):
    """The operator selected another entry before a key came in."""


def work_entry(eng: Engine, entry: QueueEntry) -> None:
    eng.step(entry, Step.QUEUED)
    current = entry
    calls = GraphCalls()  # every Graph call made on this thread for the entry
    try:
        with calls:
            old_methods = confirm_replace(eng, entry) if entry.replace else []
            while current.keys_done < current.keys_wanted:
                options = take_options(eng, current)
                eng.step(current, Step.OPTIONS_READY)
                one_key(eng, current, options)
                if old_methods:
                    delete_methods(eng, current, old_methods)
                    old_methods = []
                refreshed = eng.store.queue.get(entry.entry_id)
                assert refreshed is not None  # noqa: S101
                current = refreshed
                if current.keys_done >= current.keys_wanted:
                    eng.emit(EnrollmentResult(current.entry_id, current.upn, Step.DONE))
                    eng.queue_changed()
                wait_removal(eng)
    except Switch:
        return
    except EntryOver as over:
        eng.entry_ended(current, over, calls.calls)
        wait_removal(eng)


def take_options(eng: Engine, entry: QueueEntry) -> CreationOptions:
    while True:
        try:
            more = entry.keys_wanted - entry.keys_done > 1
            return eng.prefetch.take(entry.entry_id, entry.user_id, more=more)
        except GraphNotFoundError as exc:
            raise EntryOver(Step.FAILED, f"{exc.title}: {exc.detail}", exc.next_step) from None
        except ENTRA_ERRORS as exc:
            steps.graph_trouble(eng, exc)


def wait_insert(eng: Engine, entry: QueueEntry) -> HidDescriptor:
    n = entry.keys_done + 1
    which = f" (key {n} of {entry.keys_wanted})" if entry.keys_wanted > 1 else ""
    eng.prompt(Prompt.INSERT_KEY, f"Insert a new security key for {entry.upn}{which}.")
    present = {str(d.path) for d in eng.watcher.present}
    eng.used_paths &= present
    waiting = eng.watcher.key
    if waiting is not None and str(waiting.path) not in eng.used_paths:
        listed = {str(d.path) for d in eng.backend.list_descriptors()}
        if str(waiting.path) in listed:
            return waiting  # inserted while the kiosk was idle (or locked)
    while True:
        signal = eng.signals.next()
        if isinstance(signal, KeyInserted):
            return signal.descriptor
        if isinstance(signal, MultipleKeys):
            eng.prompt(Prompt.ONE_KEY_ONLY, f"{signal.count} keys are inserted: leave only one.")
        elif isinstance(signal, KeyRemoved):
            eng.emit(KeyGone())
            eng.prompt(Prompt.INSERT_KEY, f"Insert a new security key for {entry.upn}{which}.")
        elif isinstance(signal, Command):
            if signal.name == "select" and signal.value != entry.entry_id:
                eng.handle_global(signal)
                raise Switch
            eng.handle_global(signal)
            if eng.operator is None:
                raise Switch  # the kiosk was locked: take no key until someone signs in


def wait_removal(eng: Engine) -> None:
    """Wait until no key is inserted (the watcher's picture), handling commands."""
    if eng.watcher.key is None and not eng.watcher.present:
        return
    eng.prompt(Prompt.REMOVE_KEY)
    eng.signals.clear_abort()
    while eng.watcher.present:
        try:
            signal = eng.signals.next(timeout=1.0)
        except EntryOver:
            continue
        if isinstance(signal, KeyRemoved):
            eng.emit(KeyGone())
        elif isinstance(signal, Command) and signal.name != "retry":
            eng.handle_global(signal)


def one_key(eng: Engine, entry: QueueEntry, options: CreationOptions) -> None:
    """Enroll one key for ``entry``: wait for it, try, and on failure let the operator decide."""
    holder: list[CreationOptions | None] = [options]
    descriptor = wait_insert(eng, entry)
    while True:
        try:
            attempt(eng, entry, descriptor, holder)
            return
        except steps.Reinserted as again:
            descriptor = again.descriptor
            continue
        except KioskError as exc:
            if after_error(eng, exc) == "retry":
                continue
        descriptor = wait_insert(eng, entry)


def after_error(eng: Engine, exc: KioskError) -> Literal["retry", "removed"]:
    """The attempt failed: show why, then wait for the key to go (or the operator's retry)."""
    eng.error(exc)
    if isinstance(exc, KeyPulledError):
        eng.emit(KeyGone())
        return "removed"
    eng.prompt(Prompt.REMOVE_KEY, f"{exc.title}. Pull the key, or retry with it.")
    while True:
        signal = eng.signals.next(timeout=0.2)
        if not eng.watcher.present:
            eng.emit(KeyGone())
            return "removed"
        if isinstance(signal, Command):
            if signal.name == "retry":
                return "retry"
            eng.handle_global(signal)


def attempt(
    eng: Engine,
    entry: QueueEntry,
    descriptor: HidDescriptor,
    holder: list[CreationOptions | None],
) -> None:
    eng.signals.new_attempt()
    eng.used_paths.add(str(descriptor.path))
    eid = eng.recorder.attempt_started(entry)
    att = steps.Attempt(entry, eid, descriptor, holder[0])
    with att.graph:  # the Graph calls made for this attempt, for its audit record
        _attempt(eng, att, holder)


def _attempt(eng: Engine, att: steps.Attempt, holder: list[CreationOptions | None]) -> None:
    entry, eid, descriptor = att.entry, att.enrollment_id, att.descriptor
    journal_row = eng.store.journal.get(eid)
    assert journal_row is not None  # noqa: S101
    t = att.timings
    try:
        with steps.timed(t, "identify"):
            att.session = steps.open_session(eng, descriptor)
            eng.step(entry, Step.KEY_INSERTED)
            eng.prompt(Prompt.WORKING)
            info = steps.identify(eng, att)
            verdict = steps.check(eng, att, info)
        if verdict.reset != "none":
            if verdict.reset == "ask":
                steps.ask_reset(eng, att, info)
            with steps.timed(t, "reset"):
                info = steps.reset(eng, att)
        pin = steps.choose_pin(eng, att, info)
        with steps.timed(t, "set_pin"):
            steps.set_pin(eng, att, pin)
        options = steps.fresh_options(eng, att)
        with steps.timed(t, "make_credential"):
            steps.make_credential(eng, att, pin)
        holder[0] = None
        with steps.timed(t, "journal_and_escrow"):
            display = steps.journal_and_escrow(eng, att, pin, options)
        att.display = display
        with steps.timed(t, "pin_policy"):
            pin_policy = steps.apply_pin_policy(eng, att, pin, verdict.apply_pin_policy)
        del pin
        with steps.timed(t, "register"):
            method = steps.register(eng, att, display, journal_row.started)
    except Stopped:
        raise  # left open in the journal, like a crash: recovery finishes it
    except BaseException as exc:
        if eng.signals.stop.is_set():
            raise Stopped from exc  # the key call was cut short to stop: as above
        found = _registered_after_all(eng, att, journal_row.started)
        if found is not None and att.display is not None:  # Graph took it before the failure
            log.warning("attempt %d failed after registering; recorded as done", eid)
            eng.recorder.reached(eid, Step.REGISTERED, method_id=found.id)
            finish(eng, att, att.display, "unknown (interrupted)", found.id)
            return
        over = steps.ended_by_operator(eng)
        orphan = _attempt_failed(eng, att, over if over is not None else exc)
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
    finish(eng, att, display, pin_policy, method.id)


def _registered_after_all(eng: Engine, att: steps.Attempt, started: str) -> Fido2Method | None:
    """A credential that was journaled may have reached Graph before the failure: look."""
    if att.credential is None or att.display is None:
        return None
    row = eng.store.journal.get(att.enrollment_id)
    if row is None or row.credential_id is None or row.method_id:
        return None
    try:
        return lookup(
            eng.graph, att.entry.user_id, att.display, att.credential,
            datetime.fromisoformat(started),
        )
    except ENTRA_ERRORS:
        return None


def _attempt_failed(
    eng: Engine, att: steps.Attempt, exc: BaseException
) -> KioskError | None:
    """Journal the failure; an unregistered credential left on the key is an orphan, returned
    as the error the operator must see (it names the key's serial)."""
    reason = steps.describe_failure(exc)
    if not isinstance(exc, KioskError | EntryOver):
        log.error("attempt %d failed unexpectedly", att.enrollment_id, exc_info=exc)
    row = eng.store.journal.get(att.enrollment_id)
    if row is not None and row.credential_id and not row.method_id:
        serial = row.serial or "(no serial)"
        reason = f"Key {serial} holds a credential that was not registered; reset it. {reason}"
        eng.recorder.orphan(
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
    eng.recorder.attempt_failed(
        att.entry, att.enrollment_id, reason, key=att.info, graph_calls=steps.graph_calls(att)
    )
    if not pinned:
        return None
    if isinstance(exc, KioskError):
        # The error keeps its type, title and own next step (an escrow failure's "do not hand
        # the key out" first); the reset comes after it.
        reset = (
            f"Key {serial} must be reset before it is used again: set it aside for that."
            if eng.settings.policy.reset == "never"
            else f"Key {serial} must be reset before it is used again: plug it in again to "
            "have it reset (touch it when it blinks)."
        )
        exc.detail = f"{exc.detail.rstrip('.')}. {note}"
        exc.args = (exc.detail,)
        exc.next_step = f"{exc.next_step.rstrip('.')}. {reset}" if exc.next_step else reset
        return None  # raised again as it is
    again = (
        f"Set key {serial} aside to be reset, and insert another key."
        if eng.settings.policy.reset == "never"
        else f"Insert key {serial} again to have it reset (touch it when it blinks), or use "
        "another key."
    )
    return KioskError(reason, title=f"Key {serial} must be reset", next_step=again)


def finish(eng: Engine, att: steps.Attempt, display: str, pin_policy: str, method_id: str) -> None:
    """Registered: record the key, count it and audit it."""
    assert att.info is not None and att.credential is not None  # noqa: S101
    info, cred = att.info, att.credential
    record_success(
        eng,
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


def record_success(eng: Engine, entry: QueueEntry, ok: Success) -> None:
    eng.recorder.enrolled(entry, ok)
    updated = eng.store.queue.get(entry.entry_id)
    assert updated is not None  # noqa: S101
    n = f"key {updated.keys_done} of {updated.keys_wanted}"
    eng.step(updated, Step.DONE, n if updated.keys_wanted > 1 else "")
    eng.queue_changed()
