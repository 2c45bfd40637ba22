"""The serials of the keys in the port, as the kiosk names them when more than one is in
(ONLY ONE KEY AT A TIME), for the enrollment flow and the operator's key sign-in alike."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.keys.identity import hid_serial, port_serial
from kiosk.model.text import clean

SERIAL_READ_SECONDS = 1.0
"""How long the kiosk waits for another key in the port to say its serial."""
NO_SERIAL = "a key with no serial"


def read_serial(
    descriptor: HidDescriptor, open_device: Callable[[HidDescriptor], CtapHidDevice]
) -> str | None:
    """A key's serial (:func:`kiosk.keys.identity.port_serial`), given up after
    :data:`SERIAL_READ_SECONDS`: a device that never answers (a broken or hostile one) must
    not hold up the kiosk. The reading thread is left to end by itself; the key is then named
    by its descriptor's serial."""
    found: list[str | None] = []

    def read() -> None:
        found.append(port_serial(descriptor, open_device))

    reader = threading.Thread(target=read, name="port-serial", daemon=True)
    reader.start()
    reader.join(SERIAL_READ_SECONDS)
    return found[0] if found else hid_serial(descriptor)


def named(serial: str | None) -> str:
    return clean(serial, 64) if serial else NO_SERIAL


def crowd_text(serials: tuple[str | None, ...], what: str) -> str:
    """``3 keys are in the port (41000001, 41000002, a key with no serial): <what>``."""
    listed = ", ".join(named(s) for s in serials)
    return f"{len(serials)} keys are in the port ({listed}): {what}"
