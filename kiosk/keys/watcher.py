"""Watch for security keys coming and going, one key at a time.

The watcher asks its backend (real hidraw devices, or the virtual USB port) for the FIDO HID
devices present, compares with the previous answer, and turns the difference into events:

- :class:`KeyRemoved` for every device that went away;
- :class:`KeyInserted` when exactly one key is present and it is new, or when a second key was
  pulled and one is left (the kiosk starts over with the key that stayed);
- :class:`MultipleKeys` when more than one key is present: a state of its own, since the kiosk
  works with exactly one key. It is reported again when the count changes.

Polling never opens a device; with nothing changing it costs one ``list_descriptors`` call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fido2.hid.base import HidDescriptor

from kiosk.keys.types import HidBackend

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.05


@dataclass(frozen=True)
class KeyInserted:
    descriptor: HidDescriptor

    @property
    def path(self) -> str:
        return str(self.descriptor.path)


@dataclass(frozen=True)
class KeyRemoved:
    path: str


@dataclass(frozen=True)
class MultipleKeys:
    count: int


WatchEvent = KeyInserted | KeyRemoved | MultipleKeys
E = TypeVar("E", KeyInserted, KeyRemoved, MultipleKeys)


class KeyWatcher:
    """Polls a :class:`HidBackend`; ``poll`` is cheap enough to call 20 times a second."""

    def __init__(self, backend: HidBackend, poll_interval: float = DEFAULT_POLL_INTERVAL) -> None:
        self.backend = backend
        self.poll_interval = poll_interval
        self._present: dict[str, HidDescriptor] = {}
        self._many = 0
        """The count last reported by MultipleKeys; 0 while one key or none is present."""
        self._lock = threading.Lock()
        self._failing = False
        self._held: list[WatchEvent] = []
        """Events :meth:`wait_for` passed over, handed out first by the next :meth:`poll`."""

    @property
    def present(self) -> list[HidDescriptor]:
        """The devices seen at the last poll."""
        return list(self._present.values())

    @property
    def key(self) -> HidDescriptor | None:
        """The one key present at the last poll; None with no key or more than one."""
        if len(self._present) == 1:
            return next(iter(self._present.values()))
        return None

    def poll(self) -> list[WatchEvent]:
        """Look once; return what changed since the last look (after any events
        :meth:`wait_for` passed over, in the order they happened)."""
        with self._lock:
            held, self._held = self._held, []
            try:
                found = self.backend.list_descriptors()
            except OSError as exc:
                # Transient trouble listing devices: keep the last picture, say so once.
                if not self._failing:
                    logger.warning("Listing security keys failed: %s", exc)
                self._failing = True
                return held
            self._failing = False
            return held + self._update({str(d.path): d for d in found})

    def _update(self, now: dict[str, HidDescriptor]) -> list[WatchEvent]:
        before = self._present
        events: list[WatchEvent] = []
        # A path whose descriptor changed is another device at the same path.
        gone = [p for p in before if p not in now or now[p] != before[p]]
        arrived = [p for p in now if p not in before or now[p] != before[p]]
        events.extend(KeyRemoved(p) for p in gone)
        self._present = now
        if len(now) > 1:
            if self._many != len(now):
                events.append(MultipleKeys(len(now)))
            self._many = len(now)
        elif len(now) == 1:
            if arrived or self._many:
                events.append(KeyInserted(next(iter(now.values()))))
            self._many = 0
        else:
            self._many = 0
        return events

    def run(
        self,
        stop: threading.Event,
        callback: Callable[[WatchEvent], None],
    ) -> None:
        """Poll until ``stop`` is set, handing every event to ``callback`` (on this thread).

        A callback that raises is logged; the watcher keeps watching."""
        while not stop.is_set():
            started = time.monotonic()
            for event in self.poll():
                try:
                    callback(event)
                except Exception:  # a listener's bug must not stop key detection
                    logger.exception("Key event listener failed on %r", event)
            stop.wait(max(0.0, self.poll_interval - (time.monotonic() - started)))

    def wait_for(
        self,
        kind: type[E],
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> E | None:
        """Poll until an event of ``kind`` happens; None on timeout or when ``stop`` is set.

        Events of other kinds are not lost: the next :meth:`poll` returns them first (a
        second key plugged meanwhile is still reported as :class:`MultipleKeys`), as it
        returns the events that came after the one found.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        stop = stop or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            events = self.poll()
            for i, event in enumerate(events):
                if isinstance(event, kind):
                    with self._lock:
                        self._held = events[:i] + events[i + 1 :] + self._held
                    return event
            with self._lock:
                self._held = events + self._held
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            pause = max(0.0, self.poll_interval - (now - started))
            if deadline is not None:
                pause = min(pause, deadline - now)
            stop.wait(pause)
        return None
