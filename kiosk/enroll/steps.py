"""One attempt to enroll one key for one queue entry, one function per step.

Order (see :class:`kiosk.enroll.events.Step`): key inserted -> identified and checked ->
(reset) -> PIN set -> credential created -> attestation journaled and PIN sealed (fsync) ->
PIN policy applied -> registered -> recorded. Every transition is journaled in the store before
its side effect is treated as done, so a crash anywhere is finished by
:mod:`kiosk.enroll.recovery` from the journal alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fido2.hid.base import HidDescriptor

from kiosk.enroll import policy as key_policy
from kiosk.enroll.control import Command, EntryOver
from kiosk.enroll.escrow import seal
from kiosk.enroll.events import KeyGone, KeyIdentified, PinHandover, Prompt, Step, TouchNeeded
from kiosk.enroll.pins import Pin, PinPolicyError, generate_pin, validate_operator_pin
from kiosk.enroll.ports import ENTRA_ERRORS, EntraError
from kiosk.enroll.registration import register_once
from kiosk.entra.calls import GraphCalls, merged
from kiosk.entra.display_name import make_display_name
from kiosk.entra.errors import GraphNotFoundError, GraphPermissionError, GraphRequestError
from kiosk.entra.http import Timing
from kiosk.entra.models import CreationOptions, Fido2Method
from kiosk.errors import KioskError
from kiosk.keys.errors import KeyPulledError, ResetRefusedError
from kiosk.keys.session import KeySession
from kiosk.keys.types import CreatedCredential, KeyInfo
from kiosk.keys.watcher import KeyInserted, KeyRemoved
from kiosk.store.queue import QueueEntry

if TYPE_CHECKING:
    from kiosk.enroll.engine import Engine

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


def open_session(eng: Engine, descriptor: HidDescriptor) -> KeySession:
    device = eng.backend.open(descriptor)
    return KeySession(
        device,
        mds=eng.mds,
        reset_window_seconds=eng.settings.policy.reset_window_seconds,
    )


def touch_callback(eng: Engine, reason: str) -> Callable[[], None]:
    """Say "touch the key" now (the key blinks as soon as the command reaches it); the
    returned callback (the key's UPNEEDED keepalive) does not say it twice."""
    said = False

    def on_touch() -> None:
        nonlocal said
        if not said:
            said = True
            eng.emit(TouchNeeded(reason))
            eng.prompt(Prompt.TOUCH_KEY, reason)

    on_touch()
    return on_touch


def wait_command(eng: Engine, names: set[str], *, key_path: str | None) -> Command:
    """Wait for one of ``names``; a pulled key (``key_path`` gone) raises KeyPulledError."""
    while True:
        signal = eng.signals.next()
        if isinstance(signal, Command):
            if signal.name in names:
                return signal
            eng.handle_global(signal)
        elif isinstance(signal, KeyRemoved) and key_path is not None and signal.path == key_path:
            eng.emit(KeyGone())
            raise KeyPulledError()


def graph_trouble(eng: Engine, exc: EntraError) -> None:
    """Show a Graph failure and wait for the operator's retry (skip/cancel end the entry)."""
    eng.error(exc)
    wait_command(eng, {"retry"}, key_path=None)


def identify(eng: Engine, att: Attempt) -> KeyInfo:
    assert att.session is not None  # noqa: S101
    info = att.session.identify()
    att.info = info
    eng.emit(KeyIdentified(info))
    return info


def check(eng: Engine, att: Attempt, info: KeyInfo) -> key_policy.KeyCheck:
    store = eng.store
    eng.recorder.key_identified(att.enrollment_id, info)
    owner = store.inventory.get(info.serial) if info.serial else None
    earlier = store.journal.serial_busy(info.serial) if info.serial else None
    if earlier is not None and earlier.id == att.enrollment_id:
        earlier = None
    result = key_policy.check_key(
        info,
        eng.settings.policy,
        user_id=att.entry.user_id,
        entry_id=att.entry.entry_id,
        owner=owner,
        earlier=earlier,
    )
    eng.step(att.entry, Step.KEY_CHECKED, result.note)
    return result


def ask_reset(eng: Engine, att: Attempt, info: KeyInfo) -> None:
    eng.prompt(
        Prompt.CONFIRM_RESET,
        f"Key {info.serial_or_none} already holds a PIN or credentials. Reset it? "
        "Everything on it is erased.",
    )
    answer = wait_command(eng, {"confirm_reset"}, key_path=str(att.descriptor.path))
    if not answer.value:
        raise key_policy.KeyRefused(
            f"The reset of key {info.serial_or_none} was declined.",
            next_step="Pull this key and insert another one, or skip this user.",
        )


def reset(eng: Engine, att: Attempt) -> KeyInfo:
    """Reset the key; outside the reset window, ask for a re-insert and reset right after."""
    assert att.session is not None and att.info is not None  # noqa: S101
    window = eng.settings.policy.reset_window_seconds
    if time.monotonic() - att.inserted_at < window:
        try:
            att.session.reset(touch_callback(eng, "reset"), eng.signals.cancel_event)
            return _after_reset(eng, att)
        except ResetRefusedError:
            pass
    serial = att.info.serial
    eng.prompt(
        Prompt.REINSERT_KEY,
        f"A reset is only accepted within {window:g} seconds of inserting the key: pull key "
        f"{att.info.serial_or_none}, insert it again and touch it when it blinks.",
    )
    att.session.close()
    path = str(att.descriptor.path)
    gone = False
    while True:
        signal = eng.signals.next()
        if isinstance(signal, Command):
            eng.handle_global(signal)
        elif isinstance(signal, KeyRemoved) and signal.path == path:
            gone = True
            eng.emit(KeyGone())
        elif isinstance(signal, KeyInserted) and (gone or signal.path != path):
            att.descriptor = signal.descriptor
            break
    att.inserted_at = time.monotonic()
    att.session = open_session(eng, att.descriptor)
    info = identify(eng, att)
    if serial and info.serial and info.serial != serial:
        raise Reinserted(att.descriptor)
    att.session.reset(touch_callback(eng, "reset"), eng.signals.cancel_event)
    return _after_reset(eng, att)


def _after_reset(eng: Engine, att: Attempt) -> KeyInfo:
    eng.recorder.reached(att.enrollment_id, Step.RESET)
    eng.step(att.entry, Step.RESET)
    eng.prompt(Prompt.WORKING)
    return identify(eng, att)


def choose_pin(eng: Engine, att: Attempt, info: KeyInfo) -> Pin:
    pol = eng.settings.policy
    if pol.pin_source == "generated":
        length = max(pol.pin_length, pol.min_pin_length)
        return generate_pin(length, pol.pin_alphabet, key_min_length=info.min_pin_length)
    eng.prompt(Prompt.TYPE_PIN, f"Type a PIN of at least {pol.min_pin_length} characters.")
    while True:
        command = wait_command(eng, {"provide_pin"}, key_path=str(att.descriptor.path))
        try:
            return validate_operator_pin(
                str(command.value), pol.min_pin_length, info.min_pin_length
            )
        except PinPolicyError as exc:
            eng.error(exc)


def set_pin(eng: Engine, att: Attempt, pin: Pin) -> None:
    assert att.session is not None  # noqa: S101
    eng.prompt(Prompt.WORKING)
    att.session.set_pin(pin.reveal())
    eng.recorder.reached(att.enrollment_id, Step.PIN_SET)
    eng.step(att.entry, Step.PIN_SET)


def fresh_options(eng: Engine, att: Attempt) -> CreationOptions:
    options = att.options
    if options is None or options.expired(eng.clock(), OPTIONS_USE_MARGIN):
        options = eng.prefetch.take(att.entry.entry_id, att.entry.user_id)
        att.options = options
    return options


def make_credential(eng: Engine, att: Attempt, pin: Pin) -> CreatedCredential:
    assert att.session is not None  # noqa: S101
    options = fresh_options(eng, att)
    cred = att.session.make_credential(
        options.public_key, pin.reveal(), touch_callback(eng, "credential"),
        eng.signals.cancel_event,
    )
    att.spent, att.options = options, None  # the challenge is spent
    att.credential = cred
    eng.prompt(Prompt.WORKING)
    return cred


def journal_and_escrow(eng: Engine, att: Attempt, pin: Pin, options: CreationOptions) -> str:
    """Seal + fsync the PIN, then journal the attestation: from here on, no key is needed."""
    assert att.info is not None and att.credential is not None  # noqa: S101
    info, entry = att.info, att.entry
    display = make_display_name(
        eng.settings.policy.display_name_template,
        model=info.model,
        serial=info.serial,
        upn=entry.upn,
        date=eng.clock().date(),
    )
    escrow_file: str | None = None
    if eng.settings.escrow.mode in ("sealed", "both"):
        blob = seal(pin, entry.upn, info.serial, eng.recipients, now=eng.clock())
        escrow_file = str(eng.escrow.write(entry.entry_id, info.serial, blob, now=eng.clock()))
    eng.recorder.credential_made(
        att.enrollment_id,
        att.credential,
        challenge_expires=options.challenge_expires_at,
        display_name=display,
        escrow_file=escrow_file,
        graph_calls=graph_calls(att),
    )
    eng.step(entry, Step.CREDENTIAL_CREATED)
    if eng.settings.escrow.mode in ("show", "both"):
        eng.emit(PinHandover(entry.entry_id, entry.upn, pin.reveal()))
    return display


def apply_pin_policy(eng: Engine, att: Attempt, pin: Pin, apply: bool) -> str:
    """Min PIN length + force change; a key pulled here is asked back (the PIN is in memory)."""
    assert att.info is not None  # noqa: S101
    pol = eng.settings.policy
    if not apply:
        text = "not supported by the key"
    else:
        min_length = max(pol.min_pin_length, att.info.min_pin_length)
        while True:
            try:
                assert att.session is not None  # noqa: S101
                att.session.apply_pin_policy(pin.reveal(), min_length, pol.force_pin_change)
                break
            except KeyPulledError:
                _wait_same_key(eng, att)
        text = f"min length {min_length}" + (", PIN change forced" if pol.force_pin_change else "")
    eng.recorder.reached(att.enrollment_id, Step.PIN_POLICY_APPLIED, pin_policy=text)
    eng.step(att.entry, Step.PIN_POLICY_APPLIED, text)
    return text


def _wait_same_key(eng: Engine, att: Attempt) -> None:
    assert att.info is not None  # noqa: S101
    eng.emit(KeyGone())
    eng.prompt(
        Prompt.REINSERT_KEY,
        f"Key {att.info.serial_or_none} was pulled before its PIN policy was set: insert it "
        "again.",
    )
    while True:
        signal = eng.signals.next()
        if isinstance(signal, Command):
            eng.handle_global(signal)
        elif isinstance(signal, KeyInserted):
            session = open_session(eng, signal.descriptor)
            info = session.identify()
            if info.serial == att.info.serial:
                att.session, att.descriptor = session, signal.descriptor
                eng.prompt(Prompt.WORKING)
                return
            session.close()
            eng.prompt(Prompt.REINSERT_KEY, f"That is not key {att.info.serial_or_none}.")


def register(eng: Engine, att: Attempt, display: str, sent_at_iso: str) -> Fido2Method:
    """Register with Graph; when Graph keeps failing, the operator retries or gives up. A
    refusal (Graph understood and said no: 400, 403, 404, 409) fails the attempt at once."""
    assert att.credential is not None  # noqa: S101
    sent_at = datetime.fromisoformat(sent_at_iso)
    maybe_sent = False
    while True:
        try:
            method = register_once(
                eng.graph,
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
            eng.error(exc)
            eng.prompt(Prompt.WORKING, "Registration failed: retry, or skip this user.")
            wait_command(eng, {"retry"}, key_path=None)
            maybe_sent = True
    eng.recorder.reached(att.enrollment_id, Step.REGISTERED, method_id=method.id)
    eng.step(att.entry, Step.REGISTERED)
    att.method = method
    return method


def ended_by_operator(eng: Engine) -> EntryOver | None:
    """The cancel/skip the operator asked for during a blocking key call, if any."""
    over, eng.signals.abort = eng.signals.abort, None
    return over


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, KioskError):
        return f"{exc.title}: {exc.detail}"
    if isinstance(exc, EntryOver):
        return exc.reason
    return type(exc).__name__
