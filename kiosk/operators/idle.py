"""The idle lock: when the kiosk has gone long enough without a key press to lock itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class IdleLock:
    """Tells when the kiosk has been idle long enough to lock itself.

    ``clock`` is injectable so tests can move time on without sleeping.
    """

    minutes: float
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._last = self.clock()

    def touch(self) -> None:
        """The operator did something (a key press)."""
        self._last = self.clock()

    @property
    def idle_seconds(self) -> float:
        return max(0.0, self.clock() - self._last)

    def due(self) -> bool:
        return self.minutes > 0 and self.idle_seconds >= self.minutes * 60.0
