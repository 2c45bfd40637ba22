"""One key at a time at the operator's key sign-in (F5).

The sign-in talks to one key only, the one it picked when it was alone in the port. With more
than one key in, it says ONLY ONE KEY AT A TIME with their serials and waits for the others to
be pulled, then goes on with the key left in; a second key plugged while the key blinks for
its touch stops the touch (the key makes no assertion) and the sign-in asks again once the
key it was talking to is alone again. Nothing but the serial reads of
:func:`kiosk.keys.port_serials.read_serial` goes to the other keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fido2.hid.base import HidDescriptor

from kiosk.keys.errors import CancelledError
from kiosk.keys.port_serials import crowd_text, read_serial
from kiosk.keys.types import HidBackend
from kiosk.operators.key_sign_in import OperatorKeyError

ONE_KEY = "ONLY ONE KEY AT A TIME"
LEAVE_YOURS = "leave only your own key in; the sign-in then goes on with it."
WAIT_SECONDS = 120.0
"""How long a sign-in waits for the other keys to be pulled."""
POLL_SECONDS = 0.1
Say = Callable[[str], None]


def crowd_message(backend: HidBackend, found: list[HidDescriptor]) -> str:
    serials = tuple(read_serial(d, backend.open) for d in found)
    return f"{ONE_KEY}: {crowd_text(serials, LEAVE_YOURS)}"


def lone_key(
    backend: HidBackend, say: Say, *, gone: Callable[[], bool] = lambda: False
) -> HidDescriptor:
    """The one key in the port; while more than one is in, say so (again when they change)
    and wait for only one to be left. Raises when none is left, or after
    :data:`WAIT_SECONDS`, or once ``gone`` (the sign-in was given up)."""
    deadline = time.monotonic() + WAIT_SECONDS
    said: list[HidDescriptor] | None = None
    while True:
        found = backend.list_descriptors()
        if len(found) == 1:
            return found[0]
        if not found:
            raise OperatorKeyError("No key is in the port.", next_step="Insert your own key.")
        if gone() or time.monotonic() > deadline:
            raise OperatorKeyError(
                f"{len(found)} keys are still in the port.",
                next_step="Leave only your own key in, then press F5 again.",
            )
        if found != said:
            said = found
            say(crowd_message(backend, found))
        time.sleep(POLL_SECONDS)


class CrowdGuard:
    """While a key call runs, watch the port: a second key sets :attr:`event` (the key call's
    cancellation), so the key stops waiting for its touch."""

    def __init__(self, backend: HidBackend) -> None:
        self.backend = backend
        self.event = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sign-in-port", daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            if len(self.backend.list_descriptors()) > 1:
                self.event.set()
                return

    def __enter__(self) -> CrowdGuard:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def with_lone_key(
    backend: HidBackend,
    say: Say,
    call: Callable[[HidDescriptor, threading.Event], str],
    *,
    gone: Callable[[], bool] = lambda: False,
) -> str:
    """Run ``call(descriptor, event)`` on the one key in the port (see :func:`lone_key`); a
    second key in the port during it cancels it (``event``), and it is run again on the same
    key once that key is alone. That key pulled meanwhile ends the sign-in."""
    descriptor = lone_key(backend, say, gone=gone)
    while True:
        with CrowdGuard(backend) as guard:
            try:
                return call(descriptor, guard.event)
            except CancelledError:
                if not guard.event.is_set():
                    raise
        left = lone_key(backend, say, gone=gone)
        if left != descriptor:
            raise OperatorKeyError(
                "The key the sign-in was talking to was pulled.",
                next_step="Insert only your own key and press F5 again.",
            )
