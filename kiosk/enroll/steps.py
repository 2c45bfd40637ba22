"""One attempt to enroll one key for one queue entry, one function per step.

Order (see :class:`kiosk.model.steps.Step`): key inserted -> identified and checked ->
(reset) -> PIN set -> credential created -> attestation journaled and PIN sealed (fsync) ->
PIN policy applied -> registered -> recorded (the reset: :mod:`kiosk.enroll.key_reset`).
Before each step that talks to the key, no other key may be in the port (:func:`alone`).
Every transition is journaled in the store before its side effect is treated as done, so a
crash anywhere is finished by :mod:`kiosk.enroll.recovery` from the journal alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from fido2.hid.base import HidDescriptor

from kiosk.config import PolicySettings
from kiosk.enroll import one_key
from kiosk.enroll import policy as key_policy
from kiosk.enroll.control import EntryOver, Signals
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.escrow import seal
from kiosk.enroll.events import KeyGone, KeyIdentified, PinHandover, Prompt
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.pins import Pin, PinRuleError, generate_pin, validate_operator_pin
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.registration import register_once
from kiosk.enroll.serialless import held_attempt
from kiosk.enroll.station import Station
from kiosk.entra.calls import GraphCalls, merged
from kiosk.entra.display_name import make_display_name
from kiosk.entra.errors import GraphNotFoundError, GraphPermissionError, GraphRequestError
from kiosk.entra.models import CreationOptions, Fido2Method
from kiosk.errors import KioskError
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.session import KeySession
from kiosk.keys.watcher import KeyInserted
from kiosk.model.keys import CreatedCredential, KeyInfo
from kiosk.model.steps import Step
from kiosk.model.timing import Timing
from kiosk.operators.key_sign_in import refuse_operator_key
from kiosk.store.journal import Enrollment
from kiosk.store.queue import QueueEntry

OPTIONS_USE_MARGIN = 20.0
"""Seconds of challenge life an attempt needs left before it starts the credential."""


class Reinserted(Exception):
    """Another key came in while the engine waited for the same key: start over with it."""

    def __init__(self, descriptor: HidDescriptor) -> None:
        super().__init__("another key was inserted")
        self.descriptor = descriptor


@dataclass
class Attempt:
    entry: QueueEntry
    enrollment_id: int
    descriptor: HidDescriptor
    options: CreationOptions | None
    inserted_at: float = field(default_factory=time.monotonic)
    session: KeySession | None = None
    info: KeyInfo | None = None
    credential: CreatedCredential | None = None
    method: Fido2Method | None = None
    display: str | None = None
    """The method's display name, once the credential is journaled."""
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds per step (for the audit record)."""
    graph: GraphCalls = field(default_factory=GraphCalls)
    """The Graph calls made on the engine's thread during the attempt."""
    spent: CreationOptions | None = None
    """The options whose challenge the credential used."""


def graph_calls(att: Attempt) -> list[Timing]:
    """Every Graph call made for the attempt: the fetch of its options (on whichever thread),
    then the attempt's own calls (register, its retries, lists)."""
    options = att.spent or att.options
    return merged(options.graph_calls if options is not None else (), att.graph.calls)


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = (time.perf_counter() - start) * 1000


def identify(dialog: Dialog, att: Attempt, keys: KeyIO | None = None) -> KeyInfo:
    """Who the attempt's key is; with ``keys``, a key just inserted: its serial is known in
    the port's picture from now on."""
    assert att.session is not None  # noqa: S101
    info = att.session.identify()
    att.info = info
    if keys is not None:
        keys.note(att.descriptor, info.serial)
    dialog.emit(KeyIdentified(info))
    return info


def check(st: Station, att: Attempt, info: KeyInfo) -> key_policy.KeyCheck:
    assert att.session is not None  # noqa: S101
    alone(st.dialog, st.keys, att)  # the first step that talks to the key after identifying it
    # An operator's own sign-in key is never enrolled: asked without a touch, refused by name.
    refuse_operator_key(att.session.device, st.settings.kiosk.operators)
    store = st.store
    st.recorder.key_identified(att.enrollment_id, info)
    owner = store.inventory.get(info.serial) if info.serial else None
    earlier = store.journal.serial_busy(info.serial) if info.serial else recognised(st, att, info)
    if earlier is not None and earlier.id == att.enrollment_id:
        earlier = None
    result = key_policy.check_key(
        info,
        st.settings.policy,
        user_id=att.entry.user_id,
        entry_id=att.entry.entry_id,
        owner=owner,
        earlier=earlier,
    )
    st.dialog.step(att.entry, Step.KEY_CHECKED, result.note)
    return result


def recognised(st: Station, att: Attempt, info: KeyInfo) -> Enrollment | None:
    """The attempt whose credential a used key without a serial still holds, if the key says
    (asked silently, without its PIN: see :mod:`kiosk.enroll.serialless`)."""
    if att.session is None:
        return None
    rp_id = att.options.rp_id if att.options is not None else DEFAULT_RP_ID
    return held_attempt(att.session, st.store.journal, info, rp_id)


def choose_pin(
    dialog: Dialog, keys: KeyIO, pol: PolicySettings, att: Attempt, info: KeyInfo
) -> Pin:
    if pol.pin_source == "generated":
        length = max(pol.pin_length, pol.min_pin_length)
        return generate_pin(length, pol.pin_alphabet, key_min_length=info.min_pin_length)
    dialog.prompt(Prompt.TYPE_PIN, f"Type a PIN of at least {pol.min_pin_length} characters.")
    while True:
        command = dialog.wait_command(
            {"provide_pin"}, key_path=str(att.descriptor.path),
            crowded=lambda: alone(dialog, keys, att),
        )
        try:
            return validate_operator_pin(
                str(command.value), pol.min_pin_length, info.min_pin_length
            )
        except PinRuleError as exc:
            dialog.error(exc)


def alone(dialog: Dialog, keys: KeyIO, att: Attempt) -> None:
    """The safe point before a step talks to the attempt's key: no other key in the port
    (:func:`kiosk.enroll.one_key.alone`)."""
    one_key.alone(dialog, keys, att.descriptor, att.info.serial if att.info else None)


def set_pin(dialog: Dialog, keys: KeyIO, recorder: Recorder, att: Attempt, pin: Pin) -> None:
    assert att.session is not None  # noqa: S101
    alone(dialog, keys, att)
    dialog.prompt(Prompt.WORKING)
    att.session.set_pin(pin.reveal())
    recorder.reached(att.enrollment_id, Step.PIN_SET)
    dialog.step(att.entry, Step.PIN_SET)


def fresh_options(st: Station, att: Attempt) -> CreationOptions:
    options = att.options
    if options is None or options.expired(st.clock(), OPTIONS_USE_MARGIN):
        options = st.prefetch.take(att.entry.entry_id, att.entry.user_id)
        att.options = options
    return options


def make_credential(st: Station, att: Attempt, pin: Pin) -> CreatedCredential:
    session = att.session
    assert session is not None and att.info is not None  # noqa: S101
    used: list[CreationOptions] = []

    def make(on_touch: Callable[[], None], event: threading.Event) -> CreatedCredential:
        used[:] = [fresh_options(st, att)]  # sent again after a second key: fresh enough
        return session.make_credential(used[0].public_key, pin.reveal(), on_touch, event)

    key = (att.descriptor, att.info.serial)
    cred = one_key.touched(st.dialog, st.keys, key, "credential", make)
    att.spent, att.options = used[0], None  # the challenge is spent
    att.credential = cred
    st.dialog.prompt(Prompt.WORKING)
    return cred


def journal_and_escrow(st: Station, att: Attempt, pin: Pin, options: CreationOptions) -> str:
    """Seal + fsync the PIN, then journal the attestation: from here on, no key is needed."""
    assert att.info is not None and att.credential is not None  # noqa: S101
    info, entry = att.info, att.entry
    display = make_display_name(
        st.settings.policy.display_name_template,
        model=info.model,
        serial=info.serial,
        upn=entry.upn,
        date=st.clock().date(),
    )
    escrow_file: str | None = None
    if st.settings.escrow.seals:
        blob = seal(pin, entry.upn, info.serial, st.escrow.recipients, now=st.clock())
        escrow_file = str(st.escrow.store.write(entry.entry_id, info.serial, blob, now=st.clock()))
    st.recorder.credential_made(
        att.enrollment_id,
        att.credential,
        challenge_expires=options.challenge_expires_at,
        display_name=display,
        escrow_file=escrow_file,
        graph_calls=graph_calls(att),
    )
    st.dialog.step(entry, Step.CREDENTIAL_CREATED)
    return display


def hand_over(st: Station, att: Attempt, pin: Pin) -> None:
    """The PIN box, last: the key is registered and its PIN policy applied."""
    if st.settings.escrow.shows:
        serial = att.info.serial if att.info is not None else ""
        entry = att.entry
        st.dialog.emit(
            PinHandover(entry.entry_id, entry.upn, pin.reveal(), entry.display_name, serial or "")
        )


def apply_pin_policy(st: Station, att: Attempt, pin: Pin, apply: bool) -> str:
    """Min PIN length + force change; a key pulled here is asked back (the PIN is in memory)."""
    assert att.info is not None  # noqa: S101
    pol = st.settings.policy
    if not apply:
        text = "not supported by the key"
    else:
        min_length = max(pol.min_pin_length, att.info.min_pin_length)
        while True:
            try:
                assert att.session is not None  # noqa: S101
                alone(st.dialog, st.keys, att)
                att.session.apply_pin_policy(pin.reveal(), min_length, pol.force_pin_change)
                break
            except KeyPulledError:
                _wait_same_key(st.dialog, st.keys, att)
        text = f"min length {min_length}" + (", PIN change forced" if pol.force_pin_change else "")
    st.recorder.reached(att.enrollment_id, Step.PIN_POLICY_APPLIED, pin_policy=text)
    st.dialog.step(att.entry, Step.PIN_POLICY_APPLIED, text)
    return text


def _wait_same_key(dialog: Dialog, keys: KeyIO, att: Attempt) -> None:
    assert att.info is not None  # noqa: S101
    dialog.emit(KeyGone())
    dialog.prompt(
        Prompt.REINSERT_KEY,
        f"Key {att.info.serial_or_none} was pulled before its PIN policy was set: insert it "
        "again.",
    )
    crowd = one_key.Crowd(dialog, keys, one_key.only(att.info.serial))
    while True:
        signal = crowd.next_event()
        if isinstance(signal, KeyInserted):
            session = keys.open_session(signal.descriptor)
            info = session.identify()
            keys.note(signal.descriptor, info.serial)
            if (info.serial, info.aaguid) == (att.info.serial, att.info.aaguid):
                att.session, att.descriptor = session, signal.descriptor
                dialog.prompt(Prompt.WORKING)
                return
            session.close()
            dialog.prompt(Prompt.REINSERT_KEY, f"That is not key {att.info.serial_or_none}.")


def register(
    dialog: Dialog, graph: Graph, recorder: Recorder, att: Attempt, *, display: str,
    sent_at_iso: str,
) -> Fido2Method:
    """Register with Graph; when Graph keeps failing, the operator retries or gives up. A
    refusal (Graph understood and said no: 400, 403, 404, 409) fails the attempt at once."""
    assert att.credential is not None  # noqa: S101
    sent_at = datetime.fromisoformat(sent_at_iso)
    maybe_sent = False
    while True:
        try:
            method = register_once(
                graph,
                att.entry.user_id,
                display,
                att.credential,
                sent_at=sent_at,
                maybe_sent=maybe_sent,
            )
            break
        except ENTRA_ERRORS as exc:
            if isinstance(exc, GraphRequestError | GraphPermissionError | GraphNotFoundError):
                raise
            dialog.error(exc)
            dialog.prompt(Prompt.WORKING, "Registration failed: retry, or skip this user.")
            dialog.wait_command({"retry"}, key_path=None)
            maybe_sent = True
    recorder.reached(att.enrollment_id, Step.REGISTERED, method_id=method.id)
    dialog.step(att.entry, Step.REGISTERED)
    att.method = method
    return method


def ended_by_operator(signals: Signals) -> EntryOver | None:
    """The cancel/skip the operator asked for during a blocking key call, if any."""
    over, signals.abort = signals.abort, None
    return over


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, KioskError):
        return f"{exc.title}: {exc.detail}"
    if isinstance(exc, EntryOver):
        return exc.reason
    return type(exc).__name__
