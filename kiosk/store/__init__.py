"""Durable state in SQLite (WAL): queue, enrollments (the journal), key inventory."""

from __future__ import annotations

from pathlib import Path

from kiosk.store.db import Clock, Database, StoreError, utc_now
from kiosk.store.inventory import Inventory, InventoryEntry
from kiosk.store.journal import Enrollment, Journal
from kiosk.store.paper import Addresses, Labels
from kiosk.store.queue import Queue, QueueEntry


class Store:
    """The kiosk's database: ``queue``, ``journal`` (enrollments), ``inventory`` and paper
    (``labels``, ``addresses``)."""

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self.db = Database(path, clock=clock)
        self.queue = Queue(self.db)
        self.journal = Journal(self.db)
        self.inventory = Inventory(self.db)
        self.labels = Labels(self.db)
        self.addresses = Addresses(self.db)

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
