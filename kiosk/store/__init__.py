"""Durable state in SQLite (WAL): queue, enrollments, key inventory, events."""

from __future__ import annotations

from pathlib import Path

from kiosk.store.db import Clock, Database, StoreError, utc_now
from kiosk.store.inventory import Inventory, InventoryEntry
from kiosk.store.journal import Enrollment, Journal
from kiosk.store.queue import Queue, QueueEntry


class Store:
    """The kiosk's database: ``queue``, ``journal`` (enrollments), ``inventory`` and events."""

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self.db = Database(path, clock=clock)
        self.queue = Queue(self.db)
        self.journal = Journal(self.db)
        self.inventory = Inventory(self.db)

    def event(self, kind: str, detail: str = "", entry_id: int | None = None) -> None:
        """Record a non-secret event (import, skip, error) for later inspection."""
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO events (time, entry_id, kind, detail) VALUES (?, ?, ?, ?)",
                (self.db.now(), entry_id, kind, detail),
            )

    def events(self, entry_id: int | None = None) -> list[tuple[str, str]]:
        if entry_id is None:
            rows = self.db.query("SELECT kind, detail FROM events ORDER BY id")
        else:
            rows = self.db.query(
                "SELECT kind, detail FROM events WHERE entry_id = ? ORDER BY id", (entry_id,)
            )
        return [(str(r["kind"]), str(r["detail"])) for r in rows]

    def close(self) -> None:
        self.db.close()


__all__ = [
    "Clock",
    "Enrollment",
    "Inventory",
    "InventoryEntry",
    "Journal",
    "Queue",
    "QueueEntry",
    "Store",
    "StoreError",
    "utc_now",
]
