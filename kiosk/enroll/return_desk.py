"""The return desk: returned keys taken back at the kiosk, one at a time, while enrollment waits.

Two halves. :class:`DeskPause` is the engine's side: a front end asks for the desk (any
thread); the engine's loop, at its next wait, stops taking keys for users and says it holds
(``held``). When the desk closes, the keys still in the port are marked used, so the returned
key is never taken for the next user until it has been pulled.

:class:`ReturnDesk` is the desk itself, driven by a front end from a worker thread (every
method blocks on the key or on Graph): wait for a key, say whose it is (owner, UPN, the Entra
method the kiosk registered), then take it back through :class:`~kiosk.enroll.lifecycle.KeyLife`
(method deleted, reset with the re-insert handshake, checked clean, in stock or retired).
It watches the port with a watcher of its own; the engine's watcher keeps its own picture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fido2.hid.base import HidDescriptor

from kiosk.enroll.desk_crowd import watch_crowd
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.lifecycle import Deleted, KeyLife, LifecycleError, ReturnCase
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import Fido2Method
from kiosk.keys.errors import CancelledError
from kiosk.keys.session import KeySession
from kiosk.keys.watcher import KeyWatcher
from kiosk.model.codec import same_method_id
from kiosk.model.keys import KeyInfo

REINSERT_SECONDS = 120.0
"""How long the desk waits for a key pulled for its reset to come back."""


class DeskPause:
    """The engine's side of the desk: ``asked`` by a front end, ``held`` by the engine's loop."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.held = threading.Event()

    def hold(self, keys: KeyIO) -> bool:
        """On the engine's thread, at each turn of its loop: True while the desk is open (the
        engine takes no key). The turn after it closes, the keys in the port are marked used
        and the key events seen meanwhile forgotten."""
        if self.asked.is_set():
            self.held.set()
            return True
        if self.held.is_set():
            keys.signals.forget_keys()
            for descriptor in keys.watcher.present:
                keys.used(descriptor)
            self.held.clear()
        return False


@dataclass(frozen=True)
class DeskCase:
    """A key on the desk: what the key and the inventory say, and what Entra says about the
    method the kiosk registered for it (``method`` None: see ``method_note``)."""

    case: ReturnCase
    display_name: str
    method: Fido2Method | None
    method_note: str

    @property
    def info(self) -> KeyInfo:
        return self.case.info


class ReturnDesk:
    """Blocking: call every method from one worker thread at a time."""

    def __init__(self, life: KeyLife, keys: KeyIO, pause: DeskPause) -> None:
        self.life = life
        self.keys = keys
        self.pause = pause
        self.watcher = KeyWatcher(keys.backend, poll_interval=keys.watcher.poll_interval)
        self._session: KeySession | None = None
        self._path: str | None = None
        self._serial: str | None = None
        self._inserted_at = 0.0

    def _window(self) -> bool:
        """The key went in recently enough for a reset (the kiosk's policy, as enrolling)."""
        return time.monotonic() - self._inserted_at < self.keys.reset_window_seconds

    def _open(self, descriptor: HidDescriptor) -> KeySession:
        self._session = self.keys.open_session(descriptor)
        self._path = str(descriptor.path)
        self._inserted_at = time.monotonic()
        return self._session

    def wait_paused(self, cancel: threading.Event) -> bool:
        """Until the engine holds (an enrollment under way finishes first); False: cancelled."""
        while not self.pause.held.wait(0.05):
            if cancel.is_set():
                return False
        return True

    def wait_key(self, cancel: threading.Event) -> DeskCase | None:
        """The one key inserted, identified and looked up; None when cancelled."""
        self.forget()
        descriptor = self._one_key(cancel, None)
        if descriptor is None:
            return None
        case = self.life.identify(self._open(descriptor))
        self._serial = case.info.serial
        return self._looked_up(case)

    def watch_port(self, cancel: threading.Event, said: Callable[[str | None], None]) -> None:
        """Until cancelled (from a thread of its own): ONLY ONE KEY AT A TIME while more than
        one key is in the port (:func:`~kiosk.enroll.desk_crowd.watch_crowd`)."""
        watch_crowd(
            self.keys.backend, self.watcher.poll_interval,
            lambda: (self._path, self._serial), cancel, said,
        )

    def _looked_up(self, case: ReturnCase) -> DeskCase:
        entry = case.entry
        if entry is None:
            return DeskCase(case, "", None, "")
        queued = self.life.store.queue.find(entry.upn) if entry.upn else None
        name = queued.display_name if queued is not None else ""
        if not entry.user_id or not entry.method_id:
            return DeskCase(case, name, None, Deleted("none").note)
        try:
            methods = self.life.graph.list_fido2_methods(entry.user_id)
        except GraphNotFoundError:
            return DeskCase(case, name, None, Deleted("user gone").note)
        found = next((m for m in methods if same_method_id(m.id, entry.method_id)), None)
        return DeskCase(case, name, found, "" if found else Deleted("gone").note)

    def take_back(
        self, case: DeskCase, *, reason: str, retire: str = "",
        on_touch: Callable[[], None] | None = None,
        on_reinsert: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Delete the method, reset, check clean; the key's final state (in_stock, retired)."""
        session = self._held()
        return self.life.take_back(
            session, case.case, reinsert=self._reinserter(case.info, on_reinsert, cancel),
            reason=reason, retire=retire, on_touch=on_touch, event=cancel, window=self._window,
        )

    def stock_unknown(
        self, case: DeskCase, *, reason: str,
        on_touch: Callable[[], None] | None = None,
        on_reinsert: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> KeyInfo:
        """An admin resets a key the inventory does not know into stock."""
        session = self._held()
        return self.life.stock_unknown(
            session, reinsert=self._reinserter(case.info, on_reinsert, cancel),
            reason=reason, on_touch=on_touch, event=cancel, window=self._window,
        )

    def wait_pulled(self, cancel: threading.Event) -> bool:
        """Until no key is in the port; False when cancelled."""
        self.forget()
        while True:
            self.watcher.poll()
            if not self.watcher.present:
                return True
            if cancel.wait(self.watcher.poll_interval):
                return False

    def forget(self) -> None:
        """Close the key session the desk holds, if any."""
        if self._session is not None:
            self._session.close()
        self._session = None
        self._path = None
        self._serial = None

    def close(self) -> None:
        """Leave the desk: the engine takes keys again (the one in the port once pulled)."""
        self.forget()
        self.pause.asked.clear()

    # ---- keys in and out ----------------------------------------------------------------

    def _held(self) -> KeySession:
        if self._session is None:
            raise LifecycleError("No key is on the desk: insert it again.")
        return self._session

    def _one_key(self, cancel: threading.Event, deadline: float | None) -> HidDescriptor | None:
        while True:
            self.watcher.poll()
            present = self.watcher.present
            if len(present) == 1:
                return present[0]
            if deadline is not None and time.monotonic() > deadline:
                raise LifecycleError("The key did not come back: insert it to try again.")
            if cancel.wait(self.watcher.poll_interval):
                return None

    def _reinserter(
        self, info: KeyInfo, said: Callable[[str], None] | None,
        cancel: threading.Event | None,
    ) -> Callable[[], KeySession]:
        stop = cancel or threading.Event()

        def reinsert() -> KeySession:
            if said is not None:
                said(info.serial_or_none)
            deadline = time.monotonic() + REINSERT_SECONDS
            while self._path in {str(d.path) for d in self.watcher.present}:
                if time.monotonic() > deadline or stop.wait(self.watcher.poll_interval):
                    raise CancelledError()
                self.watcher.poll()
            descriptor = self._one_key(stop, deadline)
            if descriptor is None:
                raise CancelledError()
            return self._open(descriptor)

        return reinsert
