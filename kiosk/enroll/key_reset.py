"""The reset step of an attempt: asked (policy.reset = ask), then done within the key's reset
window, or after the operator pulls the key and inserts it again (a key accepts a reset only
within seconds of power-up). Before the reset, the key that came back must be the one the
attempt identified; a second key in the port stops the step until it is pulled
(:mod:`kiosk.enroll.one_key`)."""

from __future__ import annotations

import re
import time

from kiosk.enroll import one_key
from kiosk.enroll import policy as key_policy
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import KeyGone, Prompt
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.station import Station
from kiosk.enroll.steps import Attempt, Reinserted, alone, identify
from kiosk.keys.errors import ResetRefusedError
from kiosk.keys.watcher import KeyInserted, KeyRemoved
from kiosk.model.keys import KeyInfo
from kiosk.model.steps import Step


def left_so(reason: str) -> str:
    """Why the kiosk left a key needing a reset, as a clause for the reset question: the
    inventory's reason without what it says to do ('; reset ...', which the question asks)
    and with the key's own name made 'it' (the question names the key)."""
    clause = re.split(r"[;.] [Rr]eset\b", reason, maxsplit=1)[0].strip().rstrip(".")
    return re.sub(r"^Key \S+ ", "it ", clause)


def ask_reset(st: Station, att: Attempt, info: KeyInfo) -> None:
    dialog = st.dialog
    tracked = st.store.inventory.get(info.serial) if info.serial else None
    text = (
        f"Key {info.serial_or_none} {key_policy.what_it_holds(info)}. Reset it? Everything "
        "on it is erased. Erase only keys from your own stock."
    )
    if tracked is not None and tracked.state == "needs_reset":
        # The kiosk itself left this key so (its PIN, a credential Entra does not know).
        text = (
            f"Key {info.serial} {key_policy.what_it_holds(info)}: this kiosk left it so "
            f"({left_so(tracked.reason)}). Reset it? Everything on it is erased."
        )
    if not info.serial:
        text = (
            f"This {info.model} has no serial number and {key_policy.what_it_holds(info)}, "
            "so the kiosk cannot tell who had it. Reset it? Everything on it is erased: a "
            "previous owner's passkey on it will stop working."
        )
    dialog.prompt(Prompt.CONFIRM_RESET, text)
    answer = dialog.wait_command(
        {"confirm_reset"}, key_path=str(att.descriptor.path),
        crowded=lambda: alone(dialog, st.keys, att),
    )
    if not answer.value:
        raise key_policy.KeyRefused(
            f"Key {info.serial_or_none} {key_policy.what_it_holds(info)}; its reset was "
            "declined.",
            next_step="Pull this key and insert another one, or skip this user.",
        )


def reset(dialog: Dialog, keys: KeyIO, recorder: Recorder, att: Attempt) -> KeyInfo:
    """Reset the key; outside the reset window, ask for a re-insert and reset right after."""
    assert att.session is not None and att.info is not None  # noqa: S101
    window = keys.reset_window_seconds
    if time.monotonic() - att.inserted_at < window:
        try:
            _reset_now(dialog, keys, att)
            return _after_reset(dialog, recorder, att)
        except ResetRefusedError:
            pass
    before = att.info
    dialog.prompt(
        Prompt.REINSERT_KEY,
        f"A reset is only accepted within {window:g} seconds of inserting the key: pull key "
        f"{before.serial_or_none}, insert it again and touch it when it blinks.",
    )
    att.session.close()
    path = str(att.descriptor.path)
    gone = False
    crowd = one_key.Crowd(dialog, keys, one_key.only(before.serial))
    while True:
        signal = crowd.next_event()
        if isinstance(signal, KeyRemoved) and signal.path == path:
            gone = True
            dialog.emit(KeyGone())
        elif isinstance(signal, KeyInserted) and (gone or signal.path != path):
            att.descriptor = signal.descriptor
            break
    att.inserted_at = time.monotonic()
    att.session = keys.open_session(att.descriptor)
    info = identify(dialog, att, keys)
    if info.serial != before.serial or info.aaguid != before.aaguid:
        raise Reinserted(att.descriptor)  # another key came back: it starts over
    _reset_now(dialog, keys, att)
    return _after_reset(dialog, recorder, att)


def _reset_now(dialog: Dialog, keys: KeyIO, att: Attempt) -> None:
    """The reset itself: the key blinks for a touch (cut short by a second key)."""
    session = att.session
    assert session is not None and att.info is not None  # noqa: S101
    key = (att.descriptor, att.info.serial)
    one_key.touched(dialog, keys, key, "reset", session.reset)


def _after_reset(dialog: Dialog, recorder: Recorder, att: Attempt) -> KeyInfo:
    recorder.reached(att.enrollment_id, Step.RESET)
    dialog.step(att.entry, Step.RESET)
    dialog.prompt(Prompt.WORKING)
    info = identify(dialog, att)
    recorder.key_reset_by_kiosk(
        info, f"reset by the kiosk to enroll it for {att.entry.upn}", upn=att.entry.upn,
        user_id=att.entry.user_id, entry_id=att.entry.entry_id,
    )
    if key_policy.is_full(info):  # still no room after the reset: the PIN is not set
        raise key_policy.KeyRefused(f"Key {info.serial_or_none} is still full after its reset.",
                                    next_step="Set this key aside as faulty; insert another.")
    return info
