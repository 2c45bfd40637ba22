"""ONLY ONE KEY AT A TIME at the return desk.

The desk works with the one returned key it identified, through the session it opened on it;
while more than one key is in the port, :func:`watch_crowd` tells the front end so, with the
serials present (the desk's own key as identified, the others as they name themselves:
:func:`kiosk.keys.port_serials.read_serial`), and tells it again when the others are out. The
desk's waits for a key (insert, re-insert) take a key only once it is alone; its own key is
never opened a second time for a serial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kiosk.keys.identity import hid_serial
from kiosk.keys.port_serials import crowd_text, read_serial
from kiosk.keys.types import HidBackend

ONE_KEY = "ONLY ONE KEY AT A TIME"
LEAVE_RETURNED = "leave only the returned key in; the desk then goes on with it."
Said = Callable[[str | None], None]
OwnKey = Callable[[], tuple[str | None, str | None]]


def watch_crowd(
    backend: HidBackend, interval: float, own: OwnKey, cancel: threading.Event, said: Said
) -> None:
    """Until ``cancel``: ``said(text)`` when more than one key is in the port (again when the
    keys change), ``said(None)`` once one or none is left. ``own()``: the path of the key the
    desk holds and its serial as identified (None: not yet known)."""
    shown: tuple[str, ...] | None = None
    read: dict[str, str | None] = {}
    while not cancel.wait(interval):
        found = backend.list_descriptors()
        if len(found) <= 1:
            if shown is not None:
                shown = None
                said(None)
            continue
        paths = tuple(str(d.path) for d in found)
        if paths == shown:
            continue
        shown = paths
        own_path, own_serial = own()
        serials: list[str | None] = []
        for descriptor, path in zip(found, paths, strict=True):
            if path == own_path:
                serials.append(own_serial or hid_serial(descriptor))
                continue
            if path not in read:
                read[path] = read_serial(descriptor, backend.open)
            serials.append(read[path])
        said(f"{ONE_KEY}: {crowd_text(tuple(serials), LEAVE_RETURNED)}")
