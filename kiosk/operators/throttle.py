"""Back-off for wrong operator and admin PINs, one for the whole kiosk.

The first :attr:`PinThrottle.tries` wrong PINs in a row cost nothing; the next one starts a
pause of :attr:`~PinThrottle.pause` seconds, and every wrong PIN after that doubles it, up to
:attr:`~PinThrottle.max_pause`. The count only starts again after a right PIN, so waiting out
a pause does not buy five more tries: at 6 digits and the default numbers, trying every PIN
takes centuries. The state is written to a small file (mode 0600) beside the store, so a
restart of the kiosk does not clear it either.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("kiosk.operators.throttle")

STATE_FILE = "sign-in-throttle.json"


def state_path(store_path: str) -> Path | None:
    """Where the state is kept: beside the store's database, when that directory exists."""
    directory = Path(store_path).parent
    return directory / STATE_FILE if directory.is_dir() else None


class PinThrottle:
    """Counts wrong PINs and says how long to wait before the next one is checked.

    ``clock`` is injectable so tests can move time on without sleeping; ``path`` (optional)
    is where the state survives a restart.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        tries: int = 5,
        pause: float = 30.0,
        max_pause: float = 3600.0,
        path: Path | None = None,
    ) -> None:
        self.clock = clock
        self.tries = tries
        self.pause = pause
        self.max_pause = max_pause
        self.path = path
        self.failures = 0
        self.lockouts = 0
        self._until = 0.0
        self._load()

    def wait_seconds(self) -> int:
        """Seconds left before another PIN is checked; 0 when one may be tried now."""
        left = min(self._until - self.clock(), self.max_pause)
        return int(left) + 1 if left > 0 else 0

    def failed(self) -> float:
        """Count a wrong PIN; the length of the pause it started (0: none)."""
        self.failures += 1
        started = 0.0
        if self.failures >= self.tries:
            started = min(self.pause * 2.0**self.lockouts, self.max_pause)
            self.lockouts += 1
            self._until = self.clock() + started
        self._save()
        return started

    def tries_left(self) -> int:
        """Wrong PINs before the next pause (the next one pauses once a pause has come)."""
        return max(1, self.tries - self.failures)

    def succeeded(self) -> None:
        if self.failures or self.lockouts:
            self.failures = self.lockouts = 0
            self._until = 0.0
            self._save()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            failures, lockouts, until = data["failures"], data["lockouts"], data["until"]
            if not all(isinstance(v, int | float) and v >= 0 for v in (failures, lockouts, until)):
                raise ValueError("negative or not a number")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Unreadable: count it as one pause already taken, so nothing is gained by it.
            log.warning("sign-in throttle state unreadable (%s); starting at one pause", exc)
            self.failures, self.lockouts = self.tries, 1
            return
        self.failures, self.lockouts = int(failures), min(int(lockouts), 64)
        self._until = float(until)

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"failures": self.failures, "lockouts": self.lockouts, "until": self._until}
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("sign-in throttle state not saved (%s); kept in memory", exc)
