"""The serials of the keys in the port, as ONLY ONE KEY AT A TIME and the key panel show them:
the identified key as identified, another YubiKey by its management read, another key by its
descriptor's serial (checked: hostile strings are recorded by their hash), and a device that
never answers given up on quickly."""

from __future__ import annotations

import dataclasses
import threading
import time

from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.enroll.keyio import KeyIO
from kiosk.keys.port_serials import SERIAL_READ_SECONDS
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import CTAP20_KEY, HOSTILE_STRINGS, YUBIKEY_5


class StuckPort(VirtualPort):
    """A port whose devices never answer when opened (a broken or hostile device)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        self.release.wait(30)
        return super().open(descriptor)


def _io(port: VirtualPort) -> KeyIO:
    keys = KeyIO(port, poll_interval=0.01, reset_window_seconds=10.0)
    keys.watcher.poll()
    return keys


def test_each_key_is_named_as_it_names_itself() -> None:
    port = VirtualPort()
    mine = port.plug(VirtualKey(YUBIKEY_5.with_serial(41000001)))
    port.plug(VirtualKey(YUBIKEY_5.with_serial(41000002)))
    port.plug(VirtualKey(dataclasses.replace(CTAP20_KEY, serial=None, hid_serial="AB-12")))
    port.plug(VirtualKey(dataclasses.replace(HOSTILE_STRINGS, hid_serial="\x1b]0;owned\x07")))
    keys = _io(port)
    keys.note(mine, "41000001")
    assert keys.port()[:3] == ("41000001", None, "AB-12")  # nothing opened without read
    serials = keys.port(read=True)
    assert serials[:3] == ("41000001", "41000002", "AB-12")
    assert str(serials[3]).startswith("sha256:")  # an escape sequence is not shown as given


def test_a_device_that_never_answers_is_given_up_on() -> None:
    port = StuckPort()
    port.plug(VirtualKey(YUBIKEY_5.with_serial(41000003)))
    port.plug(VirtualKey(YUBIKEY_5.with_serial(41000004)))
    keys = _io(port)
    started = time.monotonic()
    assert keys.port(read=True) == (None, None)
    assert time.monotonic() - started < 2 * SERIAL_READ_SECONDS + 1
    port.release.set()
