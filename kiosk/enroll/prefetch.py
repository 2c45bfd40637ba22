"""Creation options fetched ahead, so the operator never waits on Graph for them.

A background thread keeps fresh options for the next ``graph.prefetch`` queue entries and
refreshes any whose challenge would expire within ``refresh_margin`` seconds. The engine takes
options with :meth:`Prefetcher.take`: a fresh cached set is handed over (and forgotten: a
challenge is used once), otherwise it is fetched right away on the engine's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kiosk.entra.models import CreationOptions
from kiosk.store.db import Clock

log = logging.getLogger("kiosk.enroll.prefetch")

Fetch = Callable[[str], CreationOptions]
"""user id -> creation options (GraphClient.creation_options)."""
Upcoming = Callable[[int], list[tuple[int, str]]]
"""How many -> the next (entry id, user id) pairs to enroll."""


@dataclass
class _Slot:
    user_id: str
    options: CreationOptions | None = None
    fetched_at: datetime | None = None
    failures: int = 0
    retry_at: float = 0.0


class Prefetcher:
    def __init__(
        self,
        fetch: Fetch,
        upcoming: Upcoming,
        clock: Clock,
        *,
        depth: int,
        refresh_margin: float = 60.0,
        use_margin: float = 20.0,
        interval: float = 0.25,
    ) -> None:
        self._fetch = fetch
        self._upcoming = upcoming
        self._clock = clock
        self.depth = depth
        self.refresh_margin = refresh_margin
        self.use_margin = use_margin
        self.interval = interval
        self._slots: dict[int, _Slot] = {}
        self._taken: set[int] = set()
        """Entries whose options the engine took: not fetched again while they stay upcoming
        (the entry being enrolled is still at the head of the queue)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.fetches = 0
        """Options fetched by the background thread."""
        self.sync_fetches = 0
        """Options the engine had to fetch itself (the operator waited on Graph)."""

    # -- the engine's side -------------------------------------------------------------

    def take(self, entry_id: int, user_id: str, *, more: bool = False) -> CreationOptions:
        """Fresh options for this user: from the cache if there are any, else fetched now.

        ``more``: the entry wants another key after this one (backup keys), so options for
        it are fetched ahead again."""
        with self._lock:
            slot = self._slots.pop(entry_id, None)
            if more:
                self._taken.discard(entry_id)
            else:
                self._taken.add(entry_id)
        self._wake.set()
        now = self._clock()
        if (
            slot is not None
            and slot.options is not None
            and slot.user_id == user_id
            and not slot.options.expired(now, self.use_margin)
        ):
            return slot.options
        self.sync_fetches += 1
        return self._fetch(user_id)

    def ready(self, entry_id: int) -> bool:
        with self._lock:
            slot = self._slots.get(entry_id)
            return slot is not None and slot.options is not None

    def wake(self) -> None:
        """The queue changed (import, selection, a result): look again now."""
        self._wake.set()

    # -- the background thread ---------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        if self.depth <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(stop,), name="kiosk-prefetch", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None

    def _margin(self, slot: _Slot) -> float:
        """Refresh this long before expiry; at most half the challenge's life, so a short
        challenge is not fetched again on every round."""
        if slot.options is None or slot.fetched_at is None:
            return self.refresh_margin
        life = (slot.options.challenge_expires_at - slot.fetched_at).total_seconds()
        return min(self.refresh_margin, max(0.0, life / 2))

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._round(stop)
            except Exception:  # never let the helper die; the engine fetches itself
                log.exception("prefetch round failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def _round(self, stop: threading.Event) -> None:
        with self._lock:
            taken = set(self._taken)
        upcoming = self._upcoming(self.depth + len(taken))
        wanted = [w for w in upcoming if w[0] not in taken][: self.depth]
        ids = {entry_id for entry_id, _ in wanted}
        with self._lock:
            self._taken &= {entry_id for entry_id, _ in upcoming} | (self._taken - taken)
            for gone in set(self._slots) - ids:
                del self._slots[gone]
            for entry_id, user_id in wanted:
                slot = self._slots.get(entry_id)
                if slot is None or slot.user_id != user_id:
                    self._slots[entry_id] = _Slot(user_id)
        for entry_id, user_id in wanted:
            if stop.is_set():
                return
            with self._lock:
                slot = self._slots.get(entry_id)
            if slot is None:
                continue
            now = self._clock()
            fresh = slot.options is not None and not slot.options.expired(
                now, self._margin(slot)
            )
            if fresh or now.timestamp() < slot.retry_at:
                continue
            try:
                options = self._fetch(user_id)
            except Exception as exc:  # the engine meets (and shows) it when it takes them
                slot.failures += 1
                slot.retry_at = now.timestamp() + min(30.0, 0.5 * 2**slot.failures)
                log.info("prefetch for entry %d failed: %s", entry_id, type(exc).__name__)
                continue
            self.fetches += 1
            with self._lock:
                current = self._slots.get(entry_id)
                if current is slot:
                    slot.options = options
                    slot.fetched_at = now
                    slot.failures = 0
