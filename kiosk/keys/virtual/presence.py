"""User presence: the touch of a finger, as an explicit event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class UserPresence:
    """The key's touch sensor.

    ``touch()`` is what the demo's "touch" binding and the tests call. With ``auto_touch`` set,
    the key touches itself that many seconds after it starts waiting. ``wait`` returns True on
    a touch, False when ``timeout`` passes without one (as a real key times out) or when
    ``cancelled`` is set; it calls ``keepalive`` about every 100 ms while it waits.
    """

    KEEPALIVE_INTERVAL = 0.1

    def __init__(self, *, auto_touch: float | None = None, timeout: float = 30.0) -> None:
        self.auto_touch = auto_touch
        self.timeout = timeout
        self._touched = threading.Event()
        self._waiting = threading.Event()

    @property
    def waiting(self) -> bool:
        """True while the key blinks for a touch."""
        return self._waiting.is_set()

    def touch(self) -> None:
        self._touched.set()

    def wait(
        self,
        keepalive: Callable[[], None],
        cancelled: threading.Event,
        timeout: float | None = None,
    ) -> bool:
        limit = self.timeout if timeout is None else timeout
        start = time.monotonic()
        # A touch before the key asked for one does not count, as on a real key.
        self._touched.clear()
        self._waiting.set()
        try:
            while True:
                elapsed = time.monotonic() - start
                if self.auto_touch is not None and elapsed >= self.auto_touch:
                    return True
                if cancelled.is_set():
                    return False
                if elapsed >= limit:
                    return False
                keepalive()
                step = self.KEEPALIVE_INTERVAL
                if self.auto_touch is not None:
                    step = min(step, max(0.0, self.auto_touch - elapsed))
                if self._touched.wait(step):
                    return True
        finally:
            self._waiting.clear()
            self._touched.clear()
