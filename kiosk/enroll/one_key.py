"""One key at a time, at every wait of an enrollment.

The kiosk works with exactly one key. Whatever it waits for (a key to come in, an answer, a
touch, a reset's re-insert, the key to go), a second key in the port stops it at a safe point
and says ONLY ONE KEY AT A TIME with the serials in the port; it goes on once the others are
pulled:

- :class:`Crowd`, for the waits that take any key event (insert, re-insert, removal): says it
  while more than one key is in, and puts back the prompt it replaced;
- :func:`alone`, the safe point before each step that talks to the attempt's key;
- :func:`touched`, for a step that waits for a touch: the key call is cut short as soon as a
  second key is in the port (:class:`~kiosk.enroll.control.Cancellation`; the key stops
  blinking and makes nothing), and sent again once the attempt's key is alone.

A step never talks to a key other than the one its attempt identified: it talks through the
session opened on that key, and after a second key was in, the key left alone must be that
one (the same path with the same descriptor, never seen removed meanwhile); the attempt's key
pulled meanwhile is a pulled key (:class:`~kiosk.keys.errors.KeyPulledError`), as anywhere
else. The serials come from the key panel's picture (:func:`show_port`): the attempt's key as
identified, another key as it names itself (checked: :func:`kiosk.keys.identity.port_serial`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from fido2.hid.base import HidDescriptor

from kiosk.enroll.control import Command
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import PortChanged, Prompt, PromptChanged
from kiosk.enroll.keyio import KeyIO
from kiosk.keys.errors import CancelledError, KeyPulledError
from kiosk.keys.port_serials import crowd_text, named
from kiosk.keys.watcher import WatchEvent

T = TypeVar("T")

TAKE_ONE = "leave only one: the kiosk takes the key left in."
PULL_ALL = "pull them all."


def show_port(dialog: Dialog, keys: KeyIO, *, read: bool = False) -> tuple[str | None, ...]:
    """Tell the listeners the keys in the port (:class:`PortChanged`) when that changed."""
    serials = keys.port(read=read)
    if serials != keys.shown:
        keys.shown = serials
        dialog.emit(PortChanged(serials))
    return serials


def only(serial: str | None) -> str:
    """What to do when the kiosk asks for the key ``serial`` back."""
    return f"leave only key {named(serial)} in."


def keep(serial: str | None) -> str:
    """What to do when the kiosk works with the key ``serial``."""
    if serial is None:
        return "keep in the key being enrolled and pull the others; the kiosk then goes on."
    return f"keep key {named(serial)} in and pull the others; the kiosk then goes on with it."


class Crowd:
    """ONLY ONE KEY AT A TIME while more than one key is in the port, for a wait that takes
    key events (``what`` says what to do); the prompt it replaced comes back after."""

    def __init__(self, dialog: Dialog, keys: KeyIO, what: str) -> None:
        self.dialog, self.keys, self.what = dialog, keys, what
        self._back: PromptChanged | None = None
        self._said: tuple[str | None, ...] | None = None

    def look(self) -> bool:
        """Say it while more than one key is in (again when the keys change); once one key
        or none is left, put the prompt back. True while more than one key is in."""
        if len(self.keys.watcher.present) > 1:
            serials = show_port(self.dialog, self.keys, read=True)
            if self._back is None:
                self._back = self.dialog.last_prompt or PromptChanged(Prompt.WORKING)
            if serials != self._said:
                self._said = serials
                self.dialog.prompt(Prompt.ONE_KEY_ONLY, crowd_text(serials, self.what))
            return True
        back, self._back, self._said = self._back, None, None
        # A touch is asked again by its step, when the key blinks again.
        if back is not None and back.prompt is not Prompt.TOUCH_KEY:
            self.dialog.prompt(back.prompt, back.detail)
        return False

    def next_event(self) -> WatchEvent | None:
        """The next key event seen with one key or none in the port (commands are handled
        on the way, more keys said as above)."""
        while True:
            signal = self.keys.signals.next()
            if isinstance(signal, Command):
                self.dialog.handle(signal)
            elif not self.look():
                return signal


def alone(dialog: Dialog, keys: KeyIO, descriptor: HidDescriptor, serial: str | None) -> None:
    """The safe point before a step talks to the attempt's key (``descriptor``, identified as
    ``serial``): returns at once when it is alone in the port; with other keys in, says so and
    returns once they are pulled and that key is still the one in the port."""
    if not keys.signals.crowded():
        return
    path = str(descriptor.path)
    crowd = Crowd(dialog, keys, keep(serial))
    while True:
        present = {str(d.path): d for d in keys.watcher.present}
        if present.get(path) != descriptor:
            raise KeyPulledError(
                f"Key {named(serial)} was pulled while other keys were in the port."
            )
        if not crowd.look():
            return
        signal = keys.signals.next(timeout=0.2)
        if isinstance(signal, Command):
            dialog.handle(signal)


def touched(
    dialog: Dialog,
    keys: KeyIO,
    key: tuple[HidDescriptor, str | None],
    reason: str,
    call: Callable[[Callable[[], None], threading.Event], T],
) -> T:
    """Run a key call that waits for a touch (``call(on_touch, event)``) on the attempt's key
    (``key``: its descriptor and serial); cut short by a second key in the port, it is sent
    again once that key is alone."""
    while True:
        alone(dialog, keys, *key)
        keys.signals.cut_short = False
        try:
            return call(dialog.touch_callback(reason), keys.cancel_event)
        except CancelledError:
            if not keys.signals.cut_short or keys.signals.abort is not None:
                raise  # the operator's cancel or skip, or the engine stopping
