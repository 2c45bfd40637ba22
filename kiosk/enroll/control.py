"""Signals the engine's loop waits on: operator commands and key events, in one stream.

Operator commands arrive from any thread (``Commands.put``); the key watcher is polled on the
engine's thread. :meth:`Signals.next` returns whichever comes first. ``cancel`` and ``skip``
also set the attempt's cancellation event at once, so a blocking key call (waiting for a touch)
stops without waiting for the loop.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.keys.watcher import KeyWatcher, WatchEvent
from kiosk.model.steps import Step


@dataclass(frozen=True)
class Command:
    name: str
    """cancel, retry, skip, confirm_reset, confirm_replace, confirm_guest, provide_pin,
    select, wake."""
    value: object = None

    def __repr__(self) -> str:  # provide_pin carries a PIN: never show the value
        return f"Command({self.name})"


class Stopped(Exception):
    """The engine was asked to stop (``run``'s stop event)."""


class EntryOver(Exception):
    """The current queue entry ends now (skipped, cancelled or failed)."""

    def __init__(self, status: Step, reason: str, next_step: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.next_step = next_step


class Cancellation(threading.Event):
    """The ``event=`` of an attempt's blocking key calls: set by the operator's cancel or skip,
    and seen as set as soon as the engine is asked to stop or a second key is in the port
    (``crowded``: the call is cut short at once, the key waiting for its touch does nothing;
    the step goes on once the other keys are pulled). No thread watches either: python-fido2
    asks ``is_set()`` at every keepalive the key sends while it waits."""

    def __init__(
        self, stopped: Callable[[], bool], crowded: Callable[[], bool] = lambda: False
    ) -> None:
        super().__init__()
        self._stopped = stopped
        self._crowded = crowded

    def is_set(self) -> bool:
        return super().is_set() or self._stopped() or self._crowded()

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(timeout) or self._stopped()


class Signals:
    def __init__(self, watcher: KeyWatcher, poll_interval: float) -> None:
        self.watcher = watcher
        self.poll_interval = poll_interval
        self.commands: queue.Queue[Command] = queue.Queue()
        self.stop = threading.Event()
        """The run's stop event (``Engine.run`` sets it)."""
        self.cancel_event = Cancellation(self.stop.is_set, self._crowded_call)
        """Passed as ``event=`` to blocking key calls of the current attempt."""
        self._keys: list[WatchEvent] = []
        self.abort: EntryOver | None = None
        """Set by cancel/skip from any thread; raised by the loop at its next wait."""
        self.on_port: Callable[[], None] | None = None
        """Told after every look that found the port changed (the engine shows the port)."""
        self.cut_short = False
        """A blocking key call was cancelled because another key came into the port."""
        self._looked = 0.0

    def put(self, command: Command) -> None:
        if command.name == "cancel":
            self.abort = EntryOver(Step.FAILED, "cancelled by the operator", "Retry when ready.")
            self.cancel_event.set()
        elif command.name == "skip":
            self.abort = EntryOver(Step.SKIPPED, str(command.value or "skipped by operator"))
            self.cancel_event.set()
        self.commands.put(command)

    def new_attempt(self) -> threading.Event:
        self.cancel_event = Cancellation(self.stop.is_set, self._crowded_call)
        return self.cancel_event

    def running(self, stop: threading.Event) -> None:
        """``run`` starts with this stop event; key calls are cancelled as soon as it is set."""
        self.stop = stop
        self.cancel_event = Cancellation(stop.is_set, self._crowded_call)

    def _poll(self) -> list[WatchEvent]:
        events = self.watcher.poll()
        if events and self.on_port is not None:
            self.on_port()
        return events

    def crowded(self, *, fresh: bool = True) -> bool:
        """More than one key in the port. Looks at the port again (not more often than the
        poll interval unless ``fresh``); what the look found waits for :meth:`next`."""
        now = time.monotonic()
        if fresh or now - self._looked >= self.poll_interval:
            self._looked = now
            self._keys.extend(self._poll())
        return len(self.watcher.present) > 1

    def _crowded_call(self) -> bool:
        if self.crowded(fresh=False):
            self.cut_short = True
            return True
        return False

    def check(self) -> None:
        """Raise what the operator or the caller asked for, if anything."""
        if self.stop.is_set():
            raise Stopped
        if self.abort is not None:
            over, self.abort = self.abort, None
            raise over

    def clear_abort(self) -> None:
        self.abort = None
        self.cancel_event.clear()

    def forget_keys(self) -> None:
        """Drop the key events not handled yet, after one more look at the port."""
        self._poll()
        self._keys.clear()

    def next(self, timeout: float | None = None) -> Command | WatchEvent | None:
        """The next command or key event; None when ``timeout`` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.check()
            try:
                return self.commands.get_nowait()
            except queue.Empty:
                pass
            if not self._keys:
                self._keys.extend(self._poll())
            if self._keys:
                return self._keys.pop(0)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            wait = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
            try:
                command = self.commands.get(timeout=max(0.0, wait))
            except queue.Empty:
                continue
            return command
