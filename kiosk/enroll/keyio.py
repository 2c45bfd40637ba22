"""Key I/O, one of the engine's roles: the HID backend, the watcher polling it, and the one
stream of signals (key events and operator commands) the engine's loop waits on.

The step code gets keys in and out through this role only; what it says to the operator
about them goes through :class:`kiosk.enroll.dialog.Dialog`.
"""

from __future__ import annotations

import threading

from fido2.hid.base import HidDescriptor

from kiosk.enroll.control import Signals
from kiosk.keys.identity import hid_serial
from kiosk.keys.mds import MdsCatalog
from kiosk.keys.port_serials import read_serial
from kiosk.keys.session import KeySession
from kiosk.keys.types import HidBackend
from kiosk.keys.watcher import KeyWatcher


class KeyIO:
    def __init__(
        self,
        backend: HidBackend,
        *,
        poll_interval: float,
        reset_window_seconds: float,
        mds: MdsCatalog | None = None,
    ) -> None:
        self.backend = backend
        self.watcher = KeyWatcher(backend, poll_interval=poll_interval)
        self.signals = Signals(self.watcher, poll_interval)
        self.mds = mds
        self.reset_window_seconds = reset_window_seconds
        self.used_paths: set[str] = set()
        """Keys (HID paths) an attempt has used and that have not been seen removed since."""
        self._serials: dict[str, tuple[HidDescriptor, str | None]] = {}
        """The serial of each key in the port the kiosk knows (path -> descriptor, serial)."""
        self.shown: tuple[str | None, ...] = ()
        """The port as the listeners were last told it (:class:`PortChanged`)."""

    @property
    def cancel_event(self) -> threading.Event:
        """The current attempt's cancellation, passed as ``event=`` to blocking key calls."""
        return self.signals.cancel_event

    def open_session(self, descriptor: HidDescriptor) -> KeySession:
        return KeySession(
            self.backend.open(descriptor),
            mds=self.mds,
            reset_window_seconds=self.reset_window_seconds,
        )

    def waiting_key(self) -> HidDescriptor | None:
        """A key inserted while the kiosk was idle (or locked) that no attempt has used yet
        and that is still in the port; forgets the used keys that have gone since."""
        self.used_paths &= {str(d.path) for d in self.watcher.present}
        waiting = self.watcher.key
        if waiting is None or str(waiting.path) in self.used_paths:
            return None
        listed = {str(d.path) for d in self.backend.list_descriptors()}
        return waiting if str(waiting.path) in listed else None

    def used(self, descriptor: HidDescriptor) -> None:
        """An attempt starts with this key: it is not taken again until it is pulled."""
        self.used_paths.add(str(descriptor.path))

    def note(self, descriptor: HidDescriptor, serial: str | None) -> None:
        """The attempt identified this key: its serial is known while it stays in."""
        self._serials[str(descriptor.path)] = (descriptor, serial)

    def port(self, *, read: bool = False) -> tuple[str | None, ...]:
        """The serial of each key in the port at the last look, as the port lists them (None:
        not known). Known: the keys an attempt identified, and the serial a descriptor gives;
        ``read`` asks the others once per insertion (a YubiKey's management read, nothing
        that changes a key, given up after a second:
        :func:`kiosk.keys.port_serials.read_serial`)."""
        present = {str(d.path): d for d in self.watcher.present}
        self._serials = {
            path: known for path, known in self._serials.items() if present.get(path) == known[0]
        }
        serials: list[str | None] = []
        for path, descriptor in present.items():
            known = self._serials.get(path)
            if known is None and read:
                known = (descriptor, read_serial(descriptor, self.backend.open))
                self._serials[path] = known
            serials.append(known[1] if known is not None else hid_serial(descriptor))
        return tuple(serials)
