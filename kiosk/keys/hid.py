"""Real security keys: Linux hidraw devices, through python-fido2's descriptor reading.

``list_descriptors`` runs at every poll (20 times a second), so it must not open devices that
did not change. python-fido2's own ``list_descriptors`` opens every /dev/hidraw* node each
time; this backend reads the directory once (names and inode numbers, no stat) and reads a
descriptor only for a node it has not seen before (or that was re-created: a new inode). A
node that is not a FIDO device is remembered as such. A node that cannot be read yet (udev
often sets its permissions a moment after it appears) is retried on a short back-off.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.keys.errors import KeyPulledError, Op, key_error

logger = logging.getLogger(__name__)

DescriptorReader = Callable[[str], HidDescriptor]
"""Reads one node's descriptor; raises ValueError when it is not a FIDO device."""

RETRY_SECONDS = 0.5


def _linux_reader(path: str) -> HidDescriptor:
    from fido2.hid import linux

    descriptor: HidDescriptor = linux.get_descriptor(path)  # type: ignore[no-untyped-call]
    return descriptor


def _linux_connect(descriptor: HidDescriptor) -> CtapHidDevice:
    from fido2.hid import linux

    connection = linux.open_connection(descriptor)  # type: ignore[no-untyped-call]
    try:
        return CtapHidDevice(descriptor, connection)
    except BaseException:
        connection.close()
        raise


@dataclass
class _Node:
    identity: int
    """The node's inode: a re-created node (devtmpfs numbers them afresh) is another device."""
    descriptor: HidDescriptor | None
    """None: not a FIDO device, or not readable (yet)."""
    retry_at: float | None = None
    """When an unreadable node is tried again; None once it was read."""


class RealHidBackend:
    """:class:`kiosk.keys.types.HidBackend` over /dev/hidraw*."""

    def __init__(
        self,
        pattern: str = "/dev/hidraw*",
        *,
        reader: DescriptorReader = _linux_reader,
        connect: Callable[[HidDescriptor], CtapHidDevice] = _linux_connect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory, name = os.path.split(pattern)
        self._name = re.compile(fnmatch.translate(name))
        self._reader = reader
        self._connect = connect
        self._clock = clock
        self._nodes: dict[str, _Node] = {}
        self.descriptor_reads = 0
        """How many descriptors were read (opened) so far; the watcher's idle cost."""

    def _nodes_now(self) -> list[tuple[str, int]]:
        """(path, inode) of every node matching the pattern: one readdir, no stat."""
        try:
            with os.scandir(self._directory) as entries:
                return sorted(
                    (entry.path, entry.inode())
                    for entry in entries
                    if self._name.fullmatch(entry.name)
                )
        except OSError:
            return []  # no such directory: no keys

    def list_descriptors(self) -> list[HidDescriptor]:
        seen: dict[str, _Node] = {}
        now = self._clock()
        for path, identity in self._nodes_now():
            node = self._nodes.get(path)
            changed = node is None or node.identity != identity
            due = node is not None and node.retry_at is not None and now >= node.retry_at
            if node is None or changed or due:
                node = self._read(path, identity, now)
            seen[path] = node
        self._nodes = seen
        return [n.descriptor for n in seen.values() if n.descriptor is not None]

    def _read(self, path: str, identity: int, now: float) -> _Node:
        self.descriptor_reads += 1
        try:
            return _Node(identity, self._reader(path))
        except ValueError:
            return _Node(identity, None)  # a keyboard, a mouse: never a key
        except OSError as exc:
            logger.debug("Cannot read %s yet: %s", path, exc.strerror)
            return _Node(identity, None, retry_at=now + RETRY_SECONDS)

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        path = str(descriptor.path)
        if not os.path.exists(path):
            raise KeyPulledError("The key was pulled out before the kiosk could open it.")
        try:
            return self._connect(descriptor)
        except Exception as exc:
            # A dead node: KeyPulledError; no permission: NoPermissionError (udev rule).
            raise key_error(exc, Op.OPEN, path=path) from exc
