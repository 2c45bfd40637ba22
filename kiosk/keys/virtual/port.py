"""A virtual USB port: plug virtual keys in and out; the watcher sees them as hidraw devices.

:class:`VirtualPort` implements :class:`kiosk.keys.types.HidBackend`. Each plug-in gives the
key a new path (``virtual:1``, ``virtual:2``, ...) the way a re-inserted real key gets a new
hidraw node, and a descriptor built from its profile (VID/PID, product name, HID serial,
64-byte reports). ``list_descriptors`` only copies a list under a lock, so the watcher may poll
it from its thread as often as it likes while the demo or a test plugs and pulls keys.
"""

from __future__ import annotations

import threading

from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.keys.errors import KeyPulledError, Op, key_error

from .ctaphid import PACKET_SIZE
from .device import VirtualKey

PATH_PREFIX = "virtual:"


class VirtualPort:
    """A hub of virtual USB ports (any number of keys; the kiosk wants one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugged: dict[str, tuple[HidDescriptor, VirtualKey]] = {}
        self._count = 0

    def plug(self, key: VirtualKey) -> HidDescriptor:
        """Insert ``key``: it powers on and shows up in :meth:`list_descriptors`."""
        with self._lock:
            if any(k is key for _, k in self._plugged.values()):
                raise ValueError(f"{key!r} is already plugged in")
            self._count += 1
            path = f"{PATH_PREFIX}{self._count}"
        profile = key.profile
        descriptor = HidDescriptor(
            path=path,
            vid=profile.vid,
            pid=profile.pid,
            report_size_in=PACKET_SIZE,
            report_size_out=PACKET_SIZE,
            product_name=profile.product_name,
            serial_number=profile.hid_serial,
        )
        key.attach_to(self._pulled)
        key.power_on()
        with self._lock:
            self._plugged[path] = (descriptor, key)
        return descriptor

    def unplug(self, key: VirtualKey | None = None) -> None:
        """Pull ``key`` out (every key when None); open connections fail as on real hardware."""
        with self._lock:
            if key is None:
                gone = list(self._plugged.values())
                self._plugged.clear()
            else:
                gone = [(d, k) for d, k in self._plugged.values() if k is key]
                for descriptor, _ in gone:
                    del self._plugged[str(descriptor.path)]
        for _, k in gone:
            k.attach_to(None)
            k.power_off()

    def _pulled(self, key: VirtualKey) -> None:
        self.unplug(key)

    def list_descriptors(self) -> list[HidDescriptor]:
        with self._lock:
            return [descriptor for descriptor, _ in self._plugged.values()]

    @property
    def keys(self) -> list[VirtualKey]:
        """The keys plugged in now, in plug-in order."""
        with self._lock:
            return [key for _, key in self._plugged.values()]

    def key_at(self, path: str) -> VirtualKey | None:
        with self._lock:
            entry = self._plugged.get(path)
        return entry[1] if entry is not None else None

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        """Open the key behind ``descriptor``; :class:`KeyPulledError` if it is gone."""
        path = str(descriptor.path)
        key = self.key_at(path)
        if key is None:
            raise KeyPulledError("The key was pulled out before the kiosk could open it.")
        try:
            connection = key.connect()
        except OSError as exc:
            raise key_error(exc, Op.OPEN, path=path) from exc
        try:
            return CtapHidDevice(descriptor, connection)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, Exception):
                raise key_error(exc, Op.OPEN, path=path) from exc
            raise
