"""Plain data shared by the device layer and its consumers (engine, TUI). No I/O here."""

from __future__ import annotations

from typing import Protocol

from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor


class HidBackend(Protocol):
    """Where keys come from: real hidraw devices, or the virtual USB port.

    ``list_descriptors`` must be cheap (no device is opened); the watcher calls it at every poll.
    """

    def list_descriptors(self) -> list[HidDescriptor]:
        """Every FIDO HID device present now (usage page 0xF1D0)."""
        ...

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        """Open one device; raises ``KeyPulledError`` if it went away."""
        ...
